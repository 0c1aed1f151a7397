/// How a tensor kept for a backward pass is stored (ALGORITHMS.md §10).
///
/// - `fp32`: the tensor itself (exact; the default).
/// - `bf16`: each value rounded to nearest even to the upper 16 bits of its fp32 pattern;
///   relative error ≤ 2⁻⁸, half the bytes.
/// - `int8`: per row (last axis) a scale `a = max|x| / 127` and codes
///   `q = clamp(floor(x/a + u), −127, 127)` with `u ~ U[0, 1)` (stochastic rounding, so
///   `E[a·q] = x`); per-element error < a; `rows·n + 4·rows` bytes, a quarter of fp32.
public enum TensorCodec: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case fp32, bf16, int8

    public var description: String { rawValue }

    /// Encoded bytes of a tensor of `count` elements in `rows` rows (rows of the last axis).
    public func encodedBytes(count: Int, rows: Int) -> Int {
        switch self {
        case .fp32: return count * 4
        case .bf16: return count * 2
        case .int8: return count + rows * 4
        }
    }
}

/// A tensor in the `bf16` or `int8` encoding of `TensorCodec`, counted by the allocator at its
/// encoded size (rounded up to whole 4-byte words) under the category it was made in.
///
/// `int8` storage holds the `rows` fp32 scales first, then the `rows · n` codes.
public struct EncodedTensor: @unchecked Sendable {
    public let codec: TensorCodec
    public let shape: [Int]
    /// The encoded words; its identity tells two encodings apart.
    public let storage: TensorStorage

    /// Elements of the decoded tensor.
    public var count: Int { shape.reduce(1, *) }
    /// Length of the last axis (1 for a scalar).
    public var rowLength: Int { shape.last ?? 1 }
    public var rows: Int { rowLength == 0 ? 0 : count / rowLength }
    /// Bytes the allocator counts for this encoding.
    public var bytes: Int { storage.count * 4 }

    init(codec: TensorCodec, shape: [Int], category: MemoryCategory) {
        precondition(codec != .fp32, "EncodedTensor: fp32 is stored as a plain Tensor")
        self.codec = codec
        self.shape = shape
        let count = shape.reduce(1, *), n = shape.last ?? 1
        let bytes = codec.encodedBytes(count: count, rows: n == 0 ? 0 : count / n)
        storage = TensorStorage(count: (bytes + 3) / 4, category: category)
    }

    /// Wraps an existing encoding (no copy).
    public init(codec: TensorCodec, shape: [Int], storage: TensorStorage) {
        self.codec = codec; self.shape = shape; self.storage = storage
    }

    /// The decoded fp32 tensor, allocated under `category`.
    public func decoded(category: MemoryCategory = Memory.currentCategory) -> Tensor {
        let out = Tensor(uninitializedShape: shape, category: category)
        let raw = UnsafeRawPointer(storage.base)
        switch codec {
        case .fp32: preconditionFailure("EncodedTensor: fp32 is never encoded")
        case .bf16: BFloat16Kernels.decode(raw.assumingMemoryBound(to: UInt16.self), into: out.storage.base, count: count)
        case .int8:
            Int8RowKernels.decode(scales: raw.assumingMemoryBound(to: Float.self),
                                  codes: (raw + rows * 4).assumingMemoryBound(to: Int8.self),
                                  into: out.storage.base, rows: rows, rowLength: rowLength)
        }
        return out
    }
}

extension Tensor {
    /// This tensor in `codec` (`bf16` or `int8`), allocated under `category`.
    /// - Parameter noise: the stream of `int8`'s stochastic rounding (row r keyed by Philox block
    ///   `noise.counter + r`, see `Int8RowKernels.encode`); unused by `bf16`.
    public func encoded(_ codec: TensorCodec, noise: RNG, category: MemoryCategory = Memory.currentCategory) -> EncodedTensor {
        let e = EncodedTensor(codec: codec, shape: shape, category: category)
        let raw = UnsafeMutableRawPointer(e.storage.base)
        switch codec {
        case .fp32: preconditionFailure("Tensor.encoded: fp32 needs no encoding")
        case .bf16: BFloat16Kernels.encode(pointer, into: raw.assumingMemoryBound(to: UInt16.self), count: count)
        case .int8:
            Int8RowKernels.encode(pointer, scales: raw.assumingMemoryBound(to: Float.self),
                                  codes: (raw + e.rows * 4).assumingMemoryBound(to: Int8.self),
                                  rows: e.rows, rowLength: e.rowLength, noise: noise)
        }
        return e
    }
}
