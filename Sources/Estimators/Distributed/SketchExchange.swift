import Tensor

/// Where projection estimators hand their sketches to the other ranks of a data-parallel run
/// (ALGORITHMS.md §14). With no `reducer` (one process) every hook is the identity.
///
/// Why this is exact: each rank's loss is the mean over its 1/R of the global batch, so its
/// `δ_r` is R times the global loss's δ on those rows, and the single-process `P = δᵀ z` is the
/// mean over ranks of `P_r = δ_rᵀ z_r`. Ĝ is linear in P and V is identical on every rank
/// (counter-based streams keyed by seed, layer and step), so forming Ĝ from the mean P gives the
/// single-process estimate; GradLite's memory H and the optimal estimator's Σ, fed from that P,
/// stay identical too. An adaptive refresh `qr(xᵀ(x V))` takes the sum over ranks of
/// `x_rᵀ(x_r V)`, which is the global batch's `xᵀ(x V)`, so the basis stays identical.
public enum SketchExchange {
    /// Set by a data-parallel trainer for the whole run; nil in one process.
    nonisolated(unsafe) public static var collective: Collective?
    /// Where sketch bytes are counted.
    nonisolated(unsafe) public static var traffic = ExchangeTraffic()

    /// Replaces `p` by its mean over ranks. - Parameter p: (m, k), a backward's `δᵀ z`.
    static func meanOverRanks(_ p: inout Tensor) {
        guard let c = collective, c.worldSize > 1 else { return }
        reduce(&p, c)
        p.withUnsafeMutableBufferPointer { b in
            let s = 1 / Float(c.worldSize)
            for i in b.indices { b[i] *= s }
        }
    }

    /// `P = δᵀ z` of the global batch: this rank's, averaged over ranks.
    /// - Parameters: delta (N_r, m); z (N_r, k). - Returns: (m, k).
    static func globalProjectedGradient(_ delta: Tensor, _ z: Tensor) -> Tensor {
        var p = ProjectionMath.projectedGradient(delta, z)
        meanOverRanks(&p)
        return p
    }

    /// One warm-started subspace-iteration step on the global batch's input covariance:
    /// `qr(Σ_r x_rᵀ(x_r V))`. - Parameters: x (N_r, n) this rank's input; v (n, k). - Returns: (n, k).
    static func subspaceIteration(input x: Tensor, basis v: Tensor) -> Tensor {
        guard let c = collective, c.worldSize > 1 else { return Estimators.subspaceIteration(input: x, basis: v) }
        var y = Tensor.matmul(x, Tensor.matmul(x, v), transposeA: true)   // (n, k)
        reduce(&y, c)
        return Stiefel.orthonormalize(y)
    }

    private static func reduce(_ t: inout Tensor, _ c: Collective) {
        t.withUnsafeMutableBufferPointer { c.sumInPlace($0) }
        traffic.add(t.count * 4, .sketch)
    }
}
