import Autograd
import Tensor

/// Pre-norm LLaMA block: `h = x + attention(attentionNorm(x))`, `out = h + mlp(mlpNorm(h))`.
/// `mlp` is a dense `SwiGLUMLP` or a `MixtureOfExperts`.
public final class TransformerBlock: Module {
    public let attentionNorm: RMSNorm
    public let attention: CausalSelfAttention
    public let mlpNorm: RMSNorm
    public let mlp: any FeedForwardLayer

    public init(attentionNorm: RMSNorm, attention: CausalSelfAttention, mlpNorm: RMSNorm, mlp: any FeedForwardLayer) {
        self.attentionNorm = attentionNorm
        self.attention = attention
        self.mlpNorm = mlpNorm
        self.mlp = mlp
        super.init()
    }

    /// - Parameter x: (B·S, dim). - Returns: (B·S, dim) and the MLP's auxiliary loss (MoE), if any.
    public func forward(_ x: Variable, batch: Int, seq: Int) -> (output: Variable, auxiliaryLoss: Variable?) {
        let tape = Tape.current
        let h = x + tape.withLabel("attention") { attention(x, normalizedBy: attentionNorm, batch: batch, seq: seq) }
        let (m, aux) = tape.withLabel("mlp") { mlp.forward(h, normalizedBy: mlpNorm) }
        return (h + m, aux)
    }
}
