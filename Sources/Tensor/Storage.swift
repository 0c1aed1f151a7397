/// A reference-counted, 64-byte aligned block of `Float`s counted by `Memory`.
/// `Tensor` shares one between copies and copies it on the first write (copy-on-write).
public final class TensorStorage: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int
    public private(set) var category: MemoryCategory

    /// Uninitialised storage of `count` floats counted under `category`.
    public init(count: Int, category: MemoryCategory = Memory.currentCategory) {
        precondition(count >= 0 && count <= Int.max / 4, "TensorStorage: element count \(count) out of range")
        self.count = count
        self.category = category
        base = Memory.allocate(bytes: count * 4, category: category).bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { Memory.release(UnsafeMutableRawPointer(base), bytes: count * 4, category: category) }

    /// Counts this storage under another category from now on (e.g. a freshly made tensor that
    /// becomes a parameter or an optimizer moment).
    public func recategorize(_ c: MemoryCategory) {
        guard c != category else { return }
        Memory.move(bytes: count * 4, from: category, to: c)
        category = c
    }
}
