/// A reference-counted, 64-byte aligned block of bytes counted by `Memory` at its real size (one
/// byte per element, unlike `TensorStorage`'s four): the codes of 8-bit quantized state.
public final class ByteStorage: @unchecked Sendable {
    public let base: UnsafeMutablePointer<UInt8>
    public let count: Int
    public private(set) var category: MemoryCategory

    /// Uninitialised storage of `count` bytes counted under `category`.
    public init(count: Int, category: MemoryCategory = Memory.currentCategory) {
        precondition(count >= 0, "ByteStorage: negative count \(count)")
        self.count = count
        self.category = category
        base = Memory.allocate(bytes: count, category: category).bindMemory(to: UInt8.self, capacity: max(count, 1))
    }

    deinit { Memory.release(UnsafeMutableRawPointer(base), bytes: count, category: category) }

    /// Counts this storage under another category from now on.
    public func recategorize(_ c: MemoryCategory) {
        guard c != category else { return }
        Memory.move(bytes: count, from: category, to: c)
        category = c
    }
}

/// An n-dimensional array of bytes: a shape plus copy-on-write `ByteStorage`. It carries no
/// arithmetic; it is the storage of 8-bit codes (`BlockQuantized`), read and written by kernels.
public struct ByteTensor: @unchecked Sendable {
    public private(set) var shape: [Int]
    public private(set) var storage: ByteStorage

    /// Every byte set to `value`.
    public init(shape: [Int], repeating value: UInt8, category: MemoryCategory = Memory.currentCategory) {
        Tensor.checkShape(shape, op: "ByteTensor")
        self.shape = shape
        storage = ByteStorage(count: shape.reduce(1, *), category: category)
        storage.base.update(repeating: value, count: storage.count)
    }

    /// - Parameter values: row-major, `values.count == shape.reduce(1, *)`.
    public init(_ values: [UInt8], shape: [Int], category: MemoryCategory = Memory.currentCategory) {
        precondition(values.count == shape.reduce(1, *), "ByteTensor: \(values.count) values do not fill shape \(shape)")
        self.init(shape: shape, repeating: 0, category: category)
        values.withUnsafeBufferPointer { if let b = $0.baseAddress { storage.base.update(from: b, count: values.count) } }
    }

    public var count: Int { storage.count }
    /// Bytes of storage (one per element).
    public var bytes: Int { storage.count }
    /// The elements in row-major order.
    public var values: [UInt8] { Array(UnsafeBufferPointer(start: storage.base, count: count)) }

    @inline(__always) public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.base, count: count))
    }

    /// Gives write access, copying the storage first if it is shared.
    @inline(__always) public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) {
            let fresh = ByteStorage(count: count, category: storage.category)
            fresh.base.update(from: storage.base, count: count)
            storage = fresh
        }
        return try body(UnsafeMutableBufferPointer(start: storage.base, count: count))
    }

    /// A deep copy counted under `category`.
    public func copy(category: MemoryCategory = Memory.currentCategory) -> ByteTensor {
        var t = ByteTensor(shape: shape, repeating: 0, category: category)
        t.withUnsafeMutableBufferPointer { $0.baseAddress?.update(from: storage.base, count: count) }
        return t
    }

    /// Same bytes, new shape (no copy).
    public func reshaped(_ newShape: [Int]) -> ByteTensor {
        Tensor.checkShape(newShape, op: "ByteTensor.reshaped")
        precondition(newShape.reduce(1, *) == count, "ByteTensor.reshaped: shape \(shape) cannot become \(newShape)")
        var t = self
        t.shape = newShape
        return t
    }
}

extension ByteTensor: Equatable {
    /// Same shape and bytes.
    public static func == (a: ByteTensor, b: ByteTensor) -> Bool {
        a.shape == b.shape && (a.storage === b.storage || memcmp(a.storage.base, b.storage.base, a.count) == 0)
    }
}

import Foundation
