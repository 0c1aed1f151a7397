import Tensor

/// A tensor an op keeps for its backward (`Tape.record(_:inputs:output:saving:backward:)`).
public enum SavedTensor {
    /// Kept exactly: per-row statistics, integer data, anything the backward cannot take approximately.
    case exact(Tensor)
    /// Kept in the codec of the current module scope (`Tape.withModuleScope`), fp32 by default:
    /// ALGORITHMS.md §10 lists which tensors may be compressed (a linear's input, RMSNorm's input,
    /// SwiGLU's gate and up, attention's q, k, v and o, an estimator's sketch z).
    case compressible(Tensor)
}

/// The key of the stochastic rounding of saved tensors: with the op path and the saved slot it
/// fixes every rounding draw, so a checkpointed segment's recomputation, a measuring pass and a
/// resumed run encode exactly what the original forward did. The training loop sets it per
/// micro-batch (`Trainer`); it stays at zero elsewhere.
public struct CodecNoiseKey: Sendable, Equatable {
    public var seed: UInt64
    public var step: UInt64
    public var microBatch: UInt64

    public init(seed: UInt64 = 0, step: UInt64 = 0, microBatch: UInt64 = 0) {
        self.seed = seed; self.step = step; self.microBatch = microBatch
    }

    /// The noise stream of slot `slot` of op `op` recorded at `path`: Philox blocks from
    /// `step · 2³²` on, of stream `FNV-1a(path|op|slot|microBatch)` (one block per row, so a
    /// tensor may have 2³² rows).
    func rng(path: String, op: String, slot: Int) -> RNG {
        var h = FNV1a()
        h.combine(path.utf8); h.combine(UInt64(0x7C)); h.combine(op.utf8)
        h.combine(UInt64(slot)); h.combine(microBatch)
        return RNG(seed: seed, stream: h.value, counter: step << 32)
    }
}

/// What a node holds: the tensor itself or its encoding.
enum KeptTensor {
    case plain(Tensor)
    case encoded(EncodedTensor)

    var bytes: Int {
        switch self {
        case .plain(let t): return t.bytes
        case .encoded(let e): return e.bytes
        }
    }

    var storageID: ObjectIdentifier {
        switch self {
        case .plain(let t): return ObjectIdentifier(t.storage)
        case .encoded(let e): return ObjectIdentifier(e.storage)
        }
    }

    /// The tensor for the backward (decoded encodings are counted as workspace).
    var tensor: Tensor {
        switch self {
        case .plain(let t): return t
        case .encoded(let e): return e.decoded(category: .workspace)
        }
    }
}

/// Encodings made since the last backward, by source storage and codec, so that a tensor saved
/// by several nodes (the input of q, k and v; attention's output and `wo`'s input) is encoded
/// once and counted once. Both sides are held weakly: the nodes own the encodings (and free
/// them one by one in the backward), and a freed source's address may be reused.
struct EncodingCache {
    private struct Entry {
        weak var source: TensorStorage?
        weak var encoded: TensorStorage?
        let codec: TensorCodec
        let shape: [Int]
    }
    private var entries: [ObjectIdentifier: [Entry]] = [:]

    func lookup(_ t: Tensor, _ codec: TensorCodec) -> EncodedTensor? {
        guard let hit = entries[ObjectIdentifier(t.storage)]?.first(where: {
            $0.source === t.storage && $0.codec == codec && $0.shape == t.shape && $0.encoded != nil
        }), let storage = hit.encoded else { return nil }
        return EncodedTensor(codec: codec, shape: hit.shape, storage: storage)
    }

    mutating func insert(_ t: Tensor, _ e: EncodedTensor) {
        let key = ObjectIdentifier(t.storage)
        var list = (entries[key] ?? []).filter { $0.source === t.storage && $0.encoded != nil }
        list.append(Entry(source: t.storage, encoded: e.storage, codec: e.codec, shape: e.shape))
        entries[key] = list
    }

    /// Forgets the encodings of `t`'s storage (its contents are about to change).
    mutating func remove(_ t: Tensor) { entries[ObjectIdentifier(t.storage)] = nil }

    mutating func removeAll() { entries.removeAll() }
}
