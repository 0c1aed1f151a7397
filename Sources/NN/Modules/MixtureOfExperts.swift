import Autograd
import Tensor

/// Routing statistics of one MoE layer for the last forward pass.
public struct RouterStats: Sendable, Equatable {
    /// Path of the MoE module, e.g. `layers.0.mlp` (empty when it ran outside a model).
    public var path: String
    /// (token, slot) assignments per expert: sums to tokens · topK.
    public var tokensPerExpert: [Int]
    /// Mean router probability per expert.
    public var meanProbability: [Float]
    /// The load-balancing loss `E · Σ_e f_e · P_e` (1 when uniform), before the coefficient.
    public var balanceLoss: Float
}

/// Mixture of SwiGLU experts with top-k routing.
///
/// `router` (a `Linear`, so it has an estimator slot) gives logits, softmax gives probabilities, each
/// token goes to its `topK` most probable experts with gates renormalised over those (`topKGates`);
/// each expert runs on its tokens only (gathered by `indexSelect`), the gated outputs are summed back
/// (`combineExperts`), and an optional shared expert sees every token (ungated). The auxiliary loss is
/// the Switch load-balancing loss over top-k assignment fractions (`loadBalancingLoss`).
public final class MixtureOfExperts: Module, FeedForwardLayer {
    /// (experts, dim)
    public let router: Linear
    public let experts: [SwiGLUMLP]
    public let shared: SwiGLUMLP?
    public let topK: Int
    /// Statistics of the last forward (not updated while a checkpointed segment recomputes).
    public private(set) var lastStats: RouterStats?
    /// Set by the owning model so that statistics name the layer.
    public var statsPath = ""

    public init(dim: Int, hidden: Int, experts: Int, topK: Int = 2, sharedExpert: Bool = false,
                sharedHidden: Int? = nil, std: Float = 0.02, rng: inout RNG) {
        precondition(experts >= 1 && topK >= 1 && topK <= experts, "MixtureOfExperts: top-\(topK) of \(experts) experts")
        router = Linear(dim, experts, std: std, rng: &rng)
        self.experts = (0..<experts).map { _ in SwiGLUMLP(dim: dim, hidden: hidden, std: std, rng: &rng) }
        shared = sharedExpert ? SwiGLUMLP(dim: dim, hidden: sharedHidden ?? hidden, std: std, rng: &rng) : nil
        self.topK = topK
        super.init()
    }

    public override var linearsSharingInput: [[String]] { shared == nil ? [] : [["router", "shared.gate", "shared.up"]] }

    /// - Parameter x: (N, dim). - Returns: (N, dim) and the load-balancing loss (a scalar).
    public func forward(_ x: Variable) -> (output: Variable, auxiliaryLoss: Variable?) {
        let d = x.shape.last!
        let probs = router(x).softmax()
        let (gates, routing) = topKGates(probs, k: topK)
        let outputs: [Variable?] = experts.enumerated().map { e, expert in
            let idx = routing.tokenIndices[e]
            if idx.isEmpty { return nil }
            return Tape.current.withLabel("experts.\(e)") { expert(x.indexSelect(idx)) }
        }
        var out = combineExperts(outputs, gates: gates, routing: routing, width: d)
        if let shared { out = out + Tape.current.withLabel("shared") { shared(x) } }
        let balance = loadBalancingLoss(probs, routing: routing)
        if !Checkpointing.isRecomputing {
            lastStats = RouterStats(path: statsPath, tokensPerExpert: routing.tokensPerExpert,
                                    meanProbability: probs.value.mean(axis: 0).scalars, balanceLoss: balance.value.item)
        }
        return (out, balance)
    }

    /// - Parameter x: (N, dim). - Returns: (N, dim), without the auxiliary loss.
    public func callAsFunction(_ x: Variable) -> Variable { forward(x).output }
}
