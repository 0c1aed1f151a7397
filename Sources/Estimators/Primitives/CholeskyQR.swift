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
    /// times cheaper than LAPACK's Householder QR at these sizes (`Tensor.choleskyQR`).
    /// - Parameter a: (n, p), n ≥ p.
    /// - Returns: (n, p) with orthonormal columns spanning those of `a`.
    public static func orthonormalizeWellConditioned(_ a: Tensor) -> Tensor {
        precondition(a.rank == 2 && a.shape[0] >= a.shape[1],
                     "Stiefel.orthonormalizeWellConditioned: needs a matrix with rows ≥ columns, got shape \(a.shape)")
        let p = a.shape[1]
        if p == 0 { return a }
        return a.choleskyQR() ?? orthonormalize(a)
    }
}
