/// An n-dimensional array of `Float`: a shape plus contiguous row-major storage.
///
/// `Tensor` is a value type with copy-on-write storage: copies share memory until one of them
/// is written. Every kernel works on contiguous data; layout ops (`permuted`, `sliced`, ...) copy.
public struct Tensor: @unchecked Sendable {
    public private(set) var shape: [Int]
    public private(set) var storage: TensorStorage

    /// Uninitialised tensor; the caller must write every element.
    public init(uninitializedShape shape: [Int], category: MemoryCategory = Memory.currentCategory) {
        Tensor.checkShape(shape, op: "Tensor")
        self.shape = shape
        self.storage = TensorStorage(count: shape.reduce(1, *), category: category)
    }

    /// Wraps existing storage (no copy). `shape` must have `storage.count` elements.
    public init(shape: [Int], storage: TensorStorage) {
        precondition(shape.reduce(1, *) == storage.count, "Tensor: shape \(shape) does not fit \(storage.count) elements")
        self.shape = shape
        self.storage = storage
    }

    public init(shape: [Int], repeating value: Float) {
        self.init(uninitializedShape: shape)
        storage.base.update(repeating: value, count: count)
    }

    /// - Parameter values: row-major, `values.count == shape.reduce(1, *)`.
    public init(_ values: [Float], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *),
                     "Tensor(_:shape:): \(values.count) values do not fill shape \(shape)")
        self.init(uninitializedShape: shape)
        values.withUnsafeBufferPointer { if let b = $0.baseAddress { storage.base.update(from: b, count: values.count) } }
    }

    /// A 1-D tensor.
    public init(_ values: [Float]) { self.init(values, shape: [values.count]) }

    /// A 0-D (scalar) tensor.
    public init(scalar: Float) { self.init([scalar], shape: []) }

    public var count: Int { storage.count }
    public var rank: Int { shape.count }
    public var bytes: Int { count * 4 }

    /// Size of dimension `axis`; negative axes count from the end.
    public func dim(_ axis: Int) -> Int { shape[normalizeAxis(axis, op: "dim")] }

    /// The elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.base, count: count)) }

    /// The single element of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) elements, not 1")
        return storage.base[0]
    }

    public subscript(_ index: Int...) -> Float {
        get { storage.base[flatIndex(index)] }
        set { let i = flatIndex(index); ensureUnique(); storage.base[i] = newValue }
    }

    func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == rank, "subscript: \(index.count) indices for shape \(shape)")
        var flat = 0
        for (i, n) in zip(index, shape) {
            precondition(i >= 0 && i < n, "subscript: index \(index) out of range for shape \(shape)")
            flat = flat * n + i
        }
        return flat
    }

    @inline(__always) public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.base, count: count))
    }

    /// Gives write access, copying the storage first if it is shared.
    @inline(__always) public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        ensureUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.base, count: count))
    }

    @inline(__always) public var pointer: UnsafePointer<Float> { UnsafePointer(storage.base) }

    /// Whether no other tensor shares this storage (a write would not copy).
    public mutating func isUniquelyReferenced() -> Bool { isKnownUniquelyReferenced(&storage) }

    /// Copies the storage if another tensor shares it.
    public mutating func ensureUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            let fresh = TensorStorage(count: count, category: storage.category)
            fresh.base.update(from: storage.base, count: count)
            storage = fresh
        }
    }

    /// A deep copy counted under `category`.
    public func copy(category: MemoryCategory = Memory.currentCategory) -> Tensor {
        let t = Tensor(uninitializedShape: shape, category: category)
        t.storage.base.update(from: storage.base, count: count)
        return t
    }

    /// Same elements, new shape (no copy). One dimension may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "reshaped: cannot infer -1 in \(newShape) for shape \(shape)")
            s[i] = count / known
        }
        Tensor.checkShape(s, op: "reshaped")
        precondition(s.reduce(1, *) == count, "reshaped: shape \(shape) (\(count) elements) cannot become \(newShape)")
        return Tensor(shape: s, storage: storage)
    }

    /// Rows of a tensor viewed as a matrix `(count / lastDim, lastDim)`.
    public var rowCount: Int { rank == 0 ? 1 : count / Swift.max(shape[rank - 1], 1) }

    public func normalizeAxis(_ axis: Int, op: String) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "\(op): axis \(axis) out of range for shape \(shape)")
        return a
    }

    static func checkShape(_ shape: [Int], op: String) {
        precondition(shape.allSatisfy { $0 >= 0 }, "\(op): negative dimension in shape \(shape)")
        precondition(Size.elementCount(shape).map { $0 <= Int.max / 4 } ?? false, "\(op): shape \(shape) has more elements than memory can address")
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(16).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 16 ? ", ..." : "")])"
    }
}

import Foundation
