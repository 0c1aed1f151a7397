import Tensor

/// One warm-started subspace-iteration step on the input covariance `xᵀx` (ALGORITHMS.md §2):
/// `V ← qr(xᵀ (x V))`, cost `2·N·n·k` multiply-adds plus a thin QR. Both products go through
/// sgemm with transpose flags; `xᵀx` (n×n) is never formed.
/// - Parameters:
///   - x: (N, n) the layer input, rows flattened.
///   - v: (n, k) the current basis (need not be orthonormal).
/// - Returns: (n, k) with orthonormal columns spanning `xᵀ x V`.
public func subspaceIteration(input x: Tensor, basis v: Tensor) -> Tensor {
    precondition(x.rank == 2 && v.rank == 2 && x.shape[1] == v.shape[0],
                 "subspaceIteration: input \(x.shape) and basis \(v.shape) do not fit (need (N, n) and (n, k))")
    let xv = Tensor.matmul(x, v)                       // (N, k)
    let y = Tensor.matmul(x, xv, transposeA: true)      // (n, k)
    return Stiefel.orthonormalize(y)
}

/// Randomized truncated SVD (Halko, Martinsson & Tropp 2011), ALGORITHMS.md §6:
/// `Y = (A Aᵀ)^q A Ω`, `Q = qr(Y)`, `svd(Qᵀ A) = Ũ Σ Wᵀ`, `U = Q Ũ`.
/// Between power iterations the iterate is re-orthonormalised (the textbook stabilisation; it
/// spans the same subspace as the plain product, without losing the small directions to rounding).
/// - Parameters:
///   - a: (m, n).
///   - rank: r, `1 ≤ r ≤ min(m, n)`.
///   - oversample: extra sketch columns (the sketch has `min(r + oversample, min(m, n))` columns).
///   - powerIterations: q.
///   - rng: draws Ω (n, r + oversample); advanced.
/// - Returns: u (m, r), s (r) descending, vt (r, n).
/// - Throws: `NonFiniteInputError` for NaN/inf input; `LinalgError` when the small SVD does not converge.
public func randomizedSVD(_ a: Tensor, rank: Int, oversample: Int = 8, powerIterations: Int = 1,
                          rng: inout RNG) throws -> (u: Tensor, s: Tensor, vt: Tensor) {
    precondition(a.rank == 2, "randomizedSVD: needs a matrix, got shape \(a.shape)")
    let m = a.shape[0], n = a.shape[1]
    precondition(rank >= 1 && rank <= Swift.min(m, n), "randomizedSVD: rank \(rank) out of 1...\(Swift.min(m, n)) for shape \(a.shape)")
    precondition(oversample >= 0 && powerIterations >= 0, "randomizedSVD: negative oversample \(oversample) or powerIterations \(powerIterations)")
    guard a.isAllFinite else { throw NonFiniteInputError(op: "randomizedSVD", shape: a.shape) }
    let l = Swift.min(rank + oversample, Swift.min(m, n))
    let omega = Tensor.randomNormal([n, l], rng: &rng)
    var q = Stiefel.orthonormalize(Tensor.matmul(a, omega))                    // (m, l)
    for _ in 0..<powerIterations {
        let w = Stiefel.orthonormalize(Tensor.matmul(a, q, transposeA: true))   // (n, l)
        q = Stiefel.orthonormalize(Tensor.matmul(a, w))                        // (m, l)
    }
    let b = Tensor.matmul(q, a, transposeA: true)                               // (l, n)
    let small = try b.svd()                                                     // ũ (l, l), s (l), vt (l, n)
    let u = Tensor.matmul(q, small.u.sliced(axis: 1, 0..<rank))
    return (u, small.s.sliced(axis: 0, 0..<rank), small.vt.sliced(axis: 0, 0..<rank))
}
