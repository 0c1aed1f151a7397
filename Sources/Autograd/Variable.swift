import Tensor

/// A tensor value seen by the tape: a constant, a parameter leaf, or the output of a recorded op.
///
/// Ops on `Variable`s compute their value eagerly and record a node only when some input needs a
/// gradient and recording is on (outside `withNoGrad`).
public struct Variable {
    public let value: Tensor
    let origin: Origin?

    enum Origin {
        case parameter(Parameter)
        case node(index: Int, tape: ObjectIdentifier, generation: Int)
    }

    /// A constant (no gradient flows into it).
    public init(_ value: Tensor) { self.value = value; origin = nil }

    init(_ value: Tensor, parameter: Parameter?) {
        self.value = value
        origin = parameter.map { .parameter($0) }
    }

    init(_ value: Tensor, origin: Origin?) { self.value = value; self.origin = origin }

    public var shape: [Int] { value.shape }
    public var rank: Int { value.rank }
    public var count: Int { value.count }

    /// Whether gradients flow into this variable (it is a trainable leaf or a recorded result).
    public var requiresGrad: Bool { origin != nil }

    /// The trainable parameter this variable is the leaf of; nil for constants and op results.
    public var parameter: Parameter? {
        if case .parameter(let p)? = origin { return p }
        return nil
    }

    /// The same value cut from the tape.
    public func detached() -> Variable { Variable(value) }

    /// Backpropagates from this scalar (or with an explicit upstream `gradient` of this shape).
    public func backward(gradient: Tensor? = nil) { Tape.current.backward(self, gradient: gradient) }
}
