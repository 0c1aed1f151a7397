import Autograd
import Tensor

/// A layer that maps token features to token features inside a transformer block: the dense
/// SwiGLU MLP or a mixture of experts. `auxiliaryLoss` is the MoE load-balancing loss (nil when dense).
public protocol FeedForwardLayer: Module {
    /// - Parameter x: (N, dim). - Returns: output (N, dim) and an optional scalar auxiliary loss.
    func forward(_ x: Variable) -> (output: Variable, auxiliaryLoss: Variable?)
    /// `forward(norm(x))`, for layers that recompute from the norm's input what they would save.
    /// - Parameter x: (N, dim), before `norm`.
    func forward(_ x: Variable, normalizedBy norm: RMSNorm) -> (output: Variable, auxiliaryLoss: Variable?)
}

extension FeedForwardLayer {
    public func forward(_ x: Variable, normalizedBy norm: RMSNorm) -> (output: Variable, auxiliaryLoss: Variable?) {
        forward(norm(x))
    }
}

/// LLaMA's MLP: `down(silu(gate(x)) ∘ up(x))`, each projection a `Linear` with its own estimator slot.
public final class SwiGLUMLP: Module, FeedForwardLayer, ActivationCompressing {
    /// (hidden, dim)
    public let gate: Linear
    /// (hidden, dim)
    public let up: Linear
    /// (dim, hidden)
    public let down: Linear
    /// Codec of the gate and up activations SwiGLU saves (or, when `recomputesGateInBackward`, of
    /// up and the norm's input).
    public var activationCodec: TensorCodec = .fp32 {
        didSet { recomputesGateInBackward = Self.recomputesGate(codec: activationCodec) }
    }
    /// Whether `forward(_:normalizedBy:)` keeps the norm's input instead of the gate and rebuilds
    /// the gate from it in the backward. On whenever the codec is lossy: the norm keeps that input
    /// anyway, in the same codec by default, so the gate costs no saved bytes, and a gate rebuilt
    /// from the encoded input is as close as the gate's own encoding, for one more norm and gate
    /// product per block in the backward.
    public var recomputesGateInBackward = false

    /// The rule `activationCodec` applies (and the memory estimate follows).
    public static func recomputesGate(codec: TensorCodec) -> Bool { codec != .fp32 }

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

    /// `self(norm(x))`, with the gate rebuilt from `x` in the backward when `recomputesGateInBackward`.
    /// - Parameter x: (..., dim), before `norm`. - Returns: (..., dim).
    public func callAsFunction(_ x: Variable, normalizedBy norm: RMSNorm) -> Variable {
        guard recomputesGateInBackward else { return self(norm(x)) }
        return recordingScope {
            let normalized = norm(x)
            // Resident parameters, read in the backward as the forward saw them.
            let normWeight = norm.weight.value, eps = norm.eps, gateWeight = gate.weight.value
            let gated = swiglu(gate: gate(normalized), up: up(normalized), recomputingGateFrom: x.value) { x in
                Tensor.matmul(rmsNormValue(x, weight: normWeight, eps: eps), gateWeight, transposeB: true)
            }
            return down(gated)
        }
    }

    public func forward(_ x: Variable) -> (output: Variable, auxiliaryLoss: Variable?) { (self(x), nil) }

    public func forward(_ x: Variable, normalizedBy norm: RMSNorm) -> (output: Variable, auxiliaryLoss: Variable?) {
        (self(x, normalizedBy: norm), nil)
    }

    public override var linearsSharingInput: [[String]] { [["gate", "up"]] }
}
