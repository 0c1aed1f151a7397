import Autograd
import Tensor

extension Parameter {
    /// A 0-element stand-in held by a parameter for the duration of an in-place update.
    private static let placeholder = Tensor(uninitializedShape: [0], category: .parameter)

    /// Runs `body` on the value with its storage uniquely referenced, so the update happens in place.
    ///
    /// Why not `p.value.withUnsafeMutableBufferPointer { … }`: `value` has a `didSet` observer,
    /// and from outside its module such a mutation is compiled as get + set. During the mutation
    /// the getter's copy shares the storage, so copy-on-write duplicates the whole parameter on
    /// every update (measured: a new storage each step). Moving the value out first leaves one
    /// owner. If something else really shares the storage (a tape still holding the weight),
    /// copy-on-write copies as it should.
    @discardableResult
    func updateInPlace<R>(_ body: (inout Tensor) throws -> R) rethrows -> R {
        var v = value
        value = Parameter.placeholder
        defer { value = v }
        return try body(&v)
    }
}
