import Autograd
import Tensor

/// GaLore (Zhao et al. 2024): Adam in a low-rank projection of the gradient, with the basis from
/// the gradient's exact thin SVD refreshed every `gap` steps (ALGORITHMS.md §7).
///
/// For a weight (m, n) with `r = min(rank, m, n)`: if m ≥ n the basis is `Q = V_r` (n, r) and the
/// moments are (m, r); otherwise `Q = U_r` (m, r) and the moments are (r, n). Moments are **not**
/// transformed when the basis changes (GaLore's choice). Other parameters use AdamW with the same
/// β1, β2, ε. State per projected weight (`.optimizer`): `exp_avg`, `exp_avg_sq`, `projection`
/// (Q), `step`; `2·r·(m or n) + r·(n or m)` floats instead of AdamW's `2·m·n`.
///
/// An SVD that fails (LAPACK does not converge, or the gradient has NaN/inf) keeps the previous
/// basis and increments `svdFailures`; a weight that has no basis yet skips its update and retries
/// at its next step. Nothing is silently computed from a garbage basis.
///
/// `options.states = .int8` keeps the projected moments (and the AdamW group's) in 8 bits ("8-bit
/// GaLore", §13); `layerwise: true` updates inside the backward (§12), as `AdamW`'s option does.
public final class GaLore: SubspaceAdamOptimizer {
    public let options: SubspaceOptions
    /// Basis refreshes that failed (see the type's documentation).
    public private(set) var svdFailures = 0

    public init(parameters: [(String, Parameter)], learningRate: Float, weightDecay: Float = 0,
                options: SubspaceOptions = SubspaceOptions(), groups: ParameterGroups = ParameterGroups(), layerwise: Bool = false) {
        self.options = options
        super.init(core: SubspaceAdamCore(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay,
                                          options: options, groups: groups),
                   includesRecovery: false, layerwise: layerwise)
    }

    /// Refreshes the basis of `s` when due, then its projected Adam update from `g`.
    override func update(_ s: SubspaceState, _ g: WeightGradient) {
        if core.isRefreshDue(s) {
            if let q = GaLore.svdBasis(of: g.dense, side: s.side, rank: s.rank) {
                s.basis = q
            } else {
                svdFailures += 1
                if s.step == 0 { return } // no basis yet: skip, retry next step
            }
        }
        core.update(s, gradient: g, learningRate: learningRate)
    }

    /// Between refreshes the update only projects the gradient, which a factored one allows.
    override func acceptsFactored(_ s: SubspaceState) -> Bool { !core.isRefreshDue(s) }

    /// The top-r singular basis of `g` (m, n) on `side`, as `.optimizer` memory: `U_r` (m, r) on
    /// the left, `V_r` (n, r) on the right; nil when `g` is not finite or the SVD fails.
    static func svdBasis(of g: Tensor, side: ProjectionSide, rank r: Int) -> Tensor? {
        guard g.isAllFinite, let svd = try? g.svd() else { return nil }
        var q = side == .left ? svd.u.sliced(axis: 1, 0..<r) : svd.vt.sliced(axis: 0, 0..<r).transposed()
        adoptAsState(&q)
        return q
    }

    public override var description: String {
        "GaLore(rank \(options.rank), gap \(options.gap), scale \(options.scale), β1 \(options.beta1), β2 \(options.beta2), "
            + "ε \(options.eps), weight decay \(core.weightDecay)\(core.modes)) \(core.coverage)"
    }
}
