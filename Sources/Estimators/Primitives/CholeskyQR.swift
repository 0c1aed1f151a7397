import Tensor

extension Stiefel {
    /// Orthonormalisation by CholeskyQR for matrices known to be well conditioned (random draws),
    /// falling back to Householder QR (`orthonormalize`) when the Gram matrix is too ill
    /// conditioned for it.
    ///
    /// `R = chol(AᵀA)` has a positive diagonal, so in exact arithmetic `Q = A R⁻¹` is the same Q as
    /// the sign-fixed Householder QR. Its orthogonality error is about κ(A)²·ε, so it is used only
    /// when every Cholesky pivot keeps at least 1e-3 of its diagonal entry (κ² ≲ 10³); callers
    /// that need full accuracy run it twice (CholeskyQR2). Why: for the thin (n, p) exploration
    /// draws of GradLite the cost is two small BLAS-3 products plus a p×p factorisation, several
    /// times cheaper than LAPACK's Householder QR at these sizes.
    /// - Parameter a: (n, p), n ≥ p.
    /// - Returns: (n, p) with orthonormal columns spanning those of `a`.
    public static func orthonormalizeWellConditioned(_ a: Tensor) -> Tensor {
        precondition(a.rank == 2 && a.shape[0] >= a.shape[1],
                     "Stiefel.orthonormalizeWellConditioned: needs a matrix with rows ≥ columns, got shape \(a.shape)")
        let p = a.shape[1]
        if p == 0 { return a }
        let gram = Tensor.matmul(a, a, transposeA: true)            // AᵀA, (p, p)
        guard let inverseFactor = choleskyInverseTransposed(gram) else { return orthonormalize(a) }
        return Tensor.matmul(a, inverseFactor)                        // A L⁻ᵀ = A R⁻¹
    }

    /// For a symmetric positive definite (p, p) matrix `g = L Lᵀ`, returns `L⁻ᵀ` (upper triangular),
    /// or nil when a pivot falls below 1e-3 of its diagonal entry (or is not finite).
    static func choleskyInverseTransposed(_ g: Tensor) -> Tensor? {
        let p = g.shape[0]
        var l = Tensor.zeros([p, p])
        var ok = true
        l.withUnsafeMutableBufferPointer { lp in
            let lb = lp.baseAddress!, gb = g.pointer
            outer: for i in 0..<p {
                for j in 0...i {
                    // Row-oriented Cholesky: the dot products run over contiguous row prefixes.
                    let s = gb[i * p + j] - rowDot(lb + i * p, lb + j * p, j)
                    if i == j {
                        guard s.isFinite, s > 1e-3 * gb[i * p + i] else { ok = false; break outer }
                        lb[i * p + i] = s.squareRoot()
                    } else {
                        lb[i * p + j] = s / lb[j * p + j]
                    }
                }
            }
        }
        guard ok else { return nil }
        // X = L⁻¹ (lower), stored transposed: row c of `xt` is column c of X, so forward
        // substitution for column c reads contiguous memory.
        var xt = Tensor.zeros([p, p])
        xt.withUnsafeMutableBufferPointer { xp in
            let xb = xp.baseAddress!, lb = l.pointer
            for c in 0..<p {
                let col = xb + c * p
                col[c] = 1 / lb[c * p + c]
                for r in (c + 1)..<p {
                    col[r] = -rowDot(lb + r * p + c, col + c, r - c) / lb[r * p + r]
                }
            }
        }
        return xt                                                      // Xᵀ = L⁻ᵀ
    }
}
