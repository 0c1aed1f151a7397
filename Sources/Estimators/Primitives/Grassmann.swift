import Foundation
import Tensor

/// A geodesic step on the Grassmann manifold (Edelman, Arias & Smith 1998), ALGORITHMS.md §6.
///
/// The tangent is projected inside: `Δ = (I − S Sᵀ) Z`; with the thin SVD `Δ = U Σ Wᵀ`,
/// `S(η) = S W cos(ηΣ) Wᵀ + U sin(ηΣ) Wᵀ`.
/// The result is re-orthonormalised with a sign-fixed QR. In exact arithmetic `S(η)` is already
/// orthonormal (the QR is then the identity); the QR only removes the rounding drift that would
/// otherwise accumulate over many steps of a walk (GrassWalk takes thousands).
/// - Parameters:
///   - s: (m, r) with orthonormal columns, `m ≥ r`.
///   - tangent: Z, (m, r), any matrix; its component inside span(S) is removed.
///   - step: η in radians (the largest principal angle moved is `η·σ_max(Δ)`).
/// - Returns: (m, r) with orthonormal columns.
/// - Throws: `NonFiniteInputError` for NaN/inf input; `LinalgError` when the SVD of Δ does not converge.
public func grassmannGeodesic(from s: Tensor, tangent: Tensor, step: Float) throws -> Tensor {
    precondition(s.rank == 2 && tangent.shape == s.shape && s.shape[0] >= s.shape[1],
                 "grassmannGeodesic: basis \(s.shape) and tangent \(tangent.shape) must be equal (m, r) with m ≥ r")
    let r = s.shape[1]
    if r == 0 { return s }
    guard s.isAllFinite, tangent.isAllFinite, step.isFinite else {
        throw NonFiniteInputError(op: "grassmannGeodesic", shape: s.shape)
    }
    var delta = tangent
    delta.addMatmul(s, Tensor.matmul(s, tangent, transposeA: true), alpha: -1, beta: 1) // Z − S (Sᵀ Z)
    let (u, sigma, wt) = try delta.svd()                       // u (m, r), sigma (r), wt (r, r)
    var cosWt = wt, sinWt = wt                                  // diag(cos ηΣ) Wᵀ, diag(sin ηΣ) Wᵀ
    cosWt.withUnsafeMutableBufferPointer { c in
        sinWt.withUnsafeMutableBufferPointer { sn in
            for i in 0..<r {
                let theta = step * sigma.pointer[i]
                let (ci, si) = (Foundation.cos(theta), Foundation.sin(theta))
                for j in 0..<r { c[i * r + j] *= ci; sn[i * r + j] *= si }
            }
        }
    }
    var out = Tensor.matmul(Tensor.matmul(s, wt, transposeB: true), cosWt)    // S W cos(ηΣ) Wᵀ
    out.addMatmul(u, sinWt)                                                    // + U sin(ηΣ) Wᵀ
    return Stiefel.orthonormalize(out)
}
