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
    /// Codec of q, k, v and o as the attention op saves them (the log-sum-exps stay fp32).
    public var activationCodec: TensorCodec = .fp32

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
        recordingScope {
            let q = applyRotary(wq(x), rotary, heads: heads, seq: seq)
            let k = applyRotary(wk(x), rotary, heads: kvHeads, seq: seq)
            let v = wv(x)
            return wo(causalAttention(q: q, k: k, v: v, batch: batch, seq: seq, heads: heads, kvHeads: kvHeads))
        }
    }
}
