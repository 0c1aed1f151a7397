import Autograd
import Tensor

/// A layer that maps token features to token features inside a transformer block: the dense
/// SwiGLU MLP or a mixture of experts. `auxiliaryLoss` is the MoE load-balancing loss (nil when dense).
public protocol FeedForwardLayer: Module {
    /// - Parameter x: (N, dim). - Returns: output (N, dim) and an optional scalar auxiliary loss.
    func forward(_ x: Variable) -> (output: Variable, auxiliaryLoss: Variable?)
}

/// LLaMA's MLP: `down(silu(gate(x)) ∘ up(x))`, each projection a `Linear` with its own estimator slot.
public final class SwiGLUMLP: Module, FeedForwardLayer, ActivationCompressing {
    /// (hidden, dim)
    public let gate: Linear
    /// (hidden, dim)
    public let up: Linear
    /// (dim, hidden)
    public let down: Linear
    /// Codec of the gate and up activations SwiGLU saves.
    public var activationCodec: TensorCodec = .fp32

    public init(dim: Int, hidden: Int, std: Float = 0.02, rng: inout RNG) {
        gate = Linear(dim, hidden, std: std, rng: &rng)
        up = Linear(dim, hidden, std: std, rng: &rng)
        down = Linear(hidden, dim, std: std, rng: &rng)
        super.init()
    }

    /// - Parameter x: (..., dim). - Returns: (..., dim).
    public func callAsFunction(_ x: Variable) -> Variable {
        recordingScope { down(swiglu(gate: gate(x), up: up(x), reusingGate: true)) }
    }

    public func forward(_ x: Variable) -> (output: Variable, auxiliaryLoss: Variable?) { (self(x), nil) }

    public override var linearsSharingInput: [[String]] { [["gate", "up"]] }
}
