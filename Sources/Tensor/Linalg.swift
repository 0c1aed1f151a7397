import COpenBLAS

/// A LAPACK routine reported failure (`info ≠ 0`) or got unusable input.
public struct LinalgError: Error, CustomStringConvertible {
    public let op: String
    public let info: Int
    public let shape: [Int]
    public var description: String { "\(op): LAPACK failed with info \(info) on a matrix of shape \(shape)" }
}

/// QR, SVD and symmetric eigendecomposition through LAPACKE (row-major).
extension Tensor {
    /// Thin QR of an (m, n) matrix with m ≥ n, sign-fixed so that `diag(R) ≥ 0`
    /// (with Gaussian input this makes Q Haar-distributed on the Stiefel manifold).
    /// - Returns: Q (m, n) with orthonormal columns, R (n, n) upper triangular.
    public func qr() throws -> (q: Tensor, r: Tensor) {
        precondition(rank == 2, "qr: needs a matrix, got shape \(shape)")
        let m = shape[0], n = shape[1]
        precondition(m >= n, "qr: needs rows ≥ columns, got shape \(shape)")
        var a = copy()
        var tau = [Float](repeating: 0, count: Swift.max(n, 1))
        var info = LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, Int32(m), Int32(n), a.storage.base, Int32(n), &tau)
        guard info == 0 else { throw LinalgError(op: "qr (sgeqrf)", info: Int(info), shape: shape) }
        var r = Tensor.zeros([n, n])
        for i in 0..<n { for j in i..<n { r.storage.base[i * n + j] = a.storage.base[i * n + j] } }
        info = LAPACKE_sorgqr(LAPACK_ROW_MAJOR, Int32(m), Int32(n), Int32(n), a.storage.base, Int32(n), &tau)
        guard info == 0 else { throw LinalgError(op: "qr (sorgqr)", info: Int(info), shape: shape) }
        for j in 0..<n where r.storage.base[j * n + j] < 0 {
            for i in 0..<m { a.storage.base[i * n + j] = -a.storage.base[i * n + j] }
            for c in j..<n { r.storage.base[j * n + c] = -r.storage.base[j * n + c] }
        }
        return (a, r)
    }

    /// Thin SVD of an (m, n) matrix, k = min(m, n).
    /// - Returns: U (m, k), S (k) descending, Vt (k, n).
    public func svd() throws -> (u: Tensor, s: Tensor, vt: Tensor) {
        precondition(rank == 2, "svd: needs a matrix, got shape \(shape)")
        let m = shape[0], n = shape[1], k = Swift.min(m, n)
        var a = copy()
        var u = Tensor(uninitializedShape: [m, k]), s = Tensor(uninitializedShape: [k]), vt = Tensor(uninitializedShape: [k, n])
        var info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), Int32(m), Int32(n), a.storage.base, Int32(n),
                                  s.storage.base, u.storage.base, Int32(k), vt.storage.base, Int32(n))
        if info > 0 {
            // Divide and conquer did not converge; QR iteration is slower but more robust.
            a = copy()
            var superb = [Float](repeating: 0, count: Swift.max(k, 1))
            info = LAPACKE_sgesvd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), CChar(UInt8(ascii: "S")), Int32(m), Int32(n), a.storage.base, Int32(n),
                                  s.storage.base, u.storage.base, Int32(k), vt.storage.base, Int32(n), &superb)
        }
        guard info == 0 else { throw LinalgError(op: "svd", info: Int(info), shape: shape) }
        return (u, s, vt)
    }

    /// Eigendecomposition of a symmetric (n, n) matrix (only the upper triangle is read).
    /// - Returns: eigenvalues (n) descending and eigenvectors (n, n), column j for value j.
    public func symmetricEigen() throws -> (values: Tensor, vectors: Tensor) {
        precondition(rank == 2 && shape[0] == shape[1], "symmetricEigen: needs a square matrix, got shape \(shape)")
        let n = shape[0]
        var a = copy()
        var w = Tensor(uninitializedShape: [n])
        let info = LAPACKE_ssyevd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")), Int32(n), a.storage.base, Int32(n), w.storage.base)
        guard info == 0 else { throw LinalgError(op: "symmetricEigen (ssyevd)", info: Int(info), shape: shape) }
        // LAPACK returns ascending order; flip to descending.
        var values = Tensor(uninitializedShape: [n]), vectors = Tensor(uninitializedShape: [n, n])
        for j in 0..<n {
            values.storage.base[j] = w.storage.base[n - 1 - j]
            for i in 0..<n { vectors.storage.base[i * n + j] = a.storage.base[i * n + (n - 1 - j)] }
        }
        return (values, vectors)
    }
}
