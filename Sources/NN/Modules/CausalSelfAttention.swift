import Autograd
import Tensor

/// LLaMA multi-head causal self-attention with rotary embeddings and optional grouped-query heads:
/// `wo(attention(rope(wq x), rope(wk x), wv x))`, no biases, scale 1/√d.
public final class CausalSelfAttention: Module, ActivationCompressing {
    /// (heads·d, dim)
    public let wq: Linear
    /// (kvHeads·d, dim)
    public let wk: Linear
    /// (kvHeads·d, dim)
    public let wv: Linear
    /// (dim, heads·d)
    public let wo: Linear
    public let heads: Int
    public let kvHeads: Int
    /// Shared tables (not a parameter).
    public let rotary: RotaryEmbedding
    /// Codec of what the attention saves: q, k, v and o (the log-sum-exps stay fp32), or, when
    /// `recomputesInBackward`, the block input.
    public var activationCodec: TensorCodec = .fp32 {
        didSet { recomputesInBackward = Self.recomputes(codec: activationCodec) }
    }
    /// Whether `callAsFunction(_:normalizedBy:batch:seq:)` keeps only its input and recomputes the
    /// rest in the backward. On whenever the codec is lossy: q, k, v and o recomputed from the
    /// encoded input approximate them as closely as their own encodings would, in a quarter of the
    /// bytes, for one more norm, q/k/v projection and attention forward per block.
    public var recomputesInBackward = false

    /// The rule `activationCodec` applies (and the memory estimate follows).
    public static func recomputes(codec: TensorCodec) -> Bool { codec != .fp32 }

    public var headDim: Int { rotary.headDim }

    public init(dim: Int, heads: Int, kvHeads: Int, rotary: RotaryEmbedding, std: Float = 0.02, rng: inout RNG) {
        precondition(heads % kvHeads == 0, "CausalSelfAttention: \(heads) heads are not a multiple of \(kvHeads) key/value heads")
        let d = rotary.headDim
        wq = Linear(dim, heads * d, std: std, rng: &rng)
        wk = Linear(dim, kvHeads * d, std: std, rng: &rng)
        wv = Linear(dim, kvHeads * d, std: std, rng: &rng)
        wo = Linear(heads * d, dim, std: std, rng: &rng)
        self.heads = heads
        self.kvHeads = kvHeads
        self.rotary = rotary
        super.init()
    }

    public override var linearsSharingInput: [[String]] { [["wq", "wk", "wv"]] }

    /// - Parameter x: (B·S, dim), rows in (batch, position) order. - Returns: (B·S, dim).
    public func callAsFunction(_ x: Variable, batch: Int, seq: Int) -> Variable {
        recordingScope { wo(mixHeads(x, batch: batch, seq: seq)) }
    }

    /// `self(norm(x))`; with `recomputesInBackward` the norm, projections, RoPE and attention form
    /// one checkpointed segment that keeps only `x`, in this module's codec.
    /// - Parameter x: (B·S, dim), the block input before `norm`. - Returns: (B·S, dim).
    public func callAsFunction(_ x: Variable, normalizedBy norm: RMSNorm, batch: Int, seq: Int) -> Variable {
        guard recomputesInBackward else { return self(norm(x), batch: batch, seq: seq) }
        return recordingScope {
            let mixed = checkpoint([x], label: "attention-recompute", compressingInputs: true) { [self] in
                mixHeads(norm($0[0]), batch: batch, seq: seq)
            }
            return wo(mixed)
        }
    }

    /// Attention of `rope(wq x)`, `rope(wk x)`, `wv x` before the output projection: (B·S, heads·d).
    private func mixHeads(_ x: Variable, batch: Int, seq: Int) -> Variable {
        let q = applyRotary(wq(x), rotary, heads: heads, seq: seq)
        let k = applyRotary(wk(x), rotary, heads: kvHeads, seq: seq)
        let v = wv(x)
        return causalAttention(q: q, k: k, v: v, batch: batch, seq: seq, heads: heads, kvHeads: kvHeads)
    }
}
