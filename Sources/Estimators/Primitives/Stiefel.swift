import Tensor

/// Sampling and orthonormalisation on the Stiefel manifold `St(n, k)` (n×k matrices with
/// orthonormal columns). ALGORITHMS.md §6.
///
/// `orthonormalize` goes through Householder QR (`sgeqrf`/`sorgqr`), which has no numerical failure
/// mode: LAPACK reports errors only for illegal arguments, i.e. programming errors, which stop
/// with a message naming the shape. That is why these do not throw (unlike the SVD-based
/// primitives). Non-finite input is rejected the same way rather than turned into a garbage basis.
public enum Stiefel {
    /// A Haar-distributed (uniform) point of `St(n, k)`: `Z` standard Gaussian (n, k), thin QR
    /// `Z = QR`, column j of Q multiplied by `sign(R_jj)` (without the sign fix the law is not Haar).
    /// - Parameters:
    ///   - n: rows, `n ≥ k`.
    ///   - k: columns.
    ///   - rng: advanced by the draw.
    /// - Returns: (n, k) with orthonormal columns.
    public static func haar(rows n: Int, cols k: Int, rng: inout RNG) -> Tensor {
        precondition(n >= k && k >= 0, "Stiefel.haar: needs rows ≥ cols ≥ 0, got rows \(n), cols \(k)")
        if k == 0 { return Tensor.zeros([n, 0]) }
        // A Gaussian draw is well conditioned unless k is close to n, so CholeskyQR (the same
        // sign-fixed Q, several times cheaper than Householder) applies; it falls back otherwise.
        return orthonormalizeWellConditioned(Tensor.randomNormal([n, k], rng: &rng))
    }

    /// The Q factor of the sign-fixed thin QR of `a` (so `diag(R) ≥ 0`): an orthonormal basis of the
    /// column space of `a`, the identity map on matrices that are already orthonormal.
    /// - Parameter a: (n, k), `n ≥ k`, finite.
    /// - Returns: (n, k) with orthonormal columns.
    public static func orthonormalize(_ a: Tensor) -> Tensor {
        precondition(a.rank == 2 && a.shape[0] >= a.shape[1],
                     "Stiefel.orthonormalize: needs a matrix with rows ≥ columns, got shape \(a.shape)")
        if a.shape[1] == 0 { return a }
        precondition(a.isAllFinite,
                     "Stiefel.orthonormalize: non-finite entries in a matrix of shape \(a.shape)")
        do {
            return try a.qr().q
        } catch {
            preconditionFailure("Stiefel.orthonormalize: \(error)")
        }
    }
}
