import Autograd
import Tensor

/// Which experts each token goes to, as chosen by `topKGates`.
public struct ExpertRouting: Sendable {
    public let tokens: Int
    public let experts: Int
    public let topK: Int
    /// (tokens · topK): the expert of slot `j` of token `t` at `t · topK + j`, slots by decreasing probability.
    public let choice: [Int]
    /// For each expert, the tokens routed to it (ascending).
    public let tokenIndices: [[Int]]
    /// For each expert, the flat gate index `t · topK + j` of each of its tokens (parallel to `tokenIndices`).
    public let gateIndices: [[Int]]

    public var tokensPerExpert: [Int] { tokenIndices.map(\.count) }

    /// Builds the per-expert lists from `choice`.
    public init(tokens: Int, experts: Int, topK: Int, choice: [Int]) {
        precondition(choice.count == tokens * topK, "ExpertRouting: \(choice.count) choices for \(tokens) tokens × top-\(topK)")
        self.tokens = tokens; self.experts = experts; self.topK = topK; self.choice = choice
        var byToken = [[Int]](repeating: [], count: experts), byGate = [[Int]](repeating: [], count: experts)
        for (flat, e) in choice.enumerated() {
            precondition(e >= 0 && e < experts, "ExpertRouting: expert \(e) out of range 0..<\(experts)")
            byToken[e].append(flat / topK)
            byGate[e].append(flat)
        }
        tokenIndices = byToken
        gateIndices = byGate
    }
}

/// Top-k routing with gates renormalised over the chosen experts (Mixtral's `norm_topk_prob`).
///
/// For each token the `k` largest probabilities `p_c` (ties: lower expert index first) get gates
/// `g_j = p_{c_j} / Σ_l p_{c_l}`; the choice itself is not differentiable, the gates are:
/// `dp_{c_j} = (dg_j − Σ_l g_l dg_l) / Σ_l p_{c_l}`, 0 for experts not chosen.
/// Saves the gates and one sum per token.
/// - Parameters:
///   - probs: (N, E) router probabilities (softmax of the router logits)
///   - k: experts per token, `1...E`
/// - Returns: gates (N, k) and the routing.
public func topKGates(_ probs: Variable, k: Int) -> (gates: Variable, routing: ExpertRouting) {
    precondition(probs.rank == 2, "topKGates: probabilities must be (tokens, experts), got \(probs.shape)")
    let (n, e) = (probs.shape[0], probs.shape[1])
    precondition(k >= 1 && k <= e, "topKGates: top-\(k) of \(e) experts")
    let (choice, gates, sums) = MoEKernel.topK(probs.value, k: k)
    let routing = ExpertRouting(tokens: n, experts: e, topK: k, choice: choice)
    let out = Tape.current.record("top-k-gates", inputs: [probs], output: gates, saved: [gates, sums]) { g, saved in
        [MoEKernel.topKBackward(g, gates: saved[0], sums: saved[1], choice: choice, experts: e)]
    }
    return (out, routing)
}

/// Switch-Transformer load-balancing loss `E · Σ_e f_e · P_e`, where `f_e` is the fraction of the
/// N·k (token, slot) assignments that went to expert `e` (constant) and `P_e` the mean router
/// probability of `e` (differentiable). It is 1 for perfectly uniform routing.
/// - Parameter probs: (N, E)
/// - Returns: a scalar
public func loadBalancingLoss(_ probs: Variable, routing: ExpertRouting) -> Variable {
    let assignments = Float(Swift.max(routing.tokens * routing.topK, 1))
    let fractions = Tensor(routing.tokensPerExpert.map { Float($0) / assignments })
    return (probs.mean(axis: 0) * Variable(fractions)).sum() * Float(routing.experts)
}
