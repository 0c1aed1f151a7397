import CLAPACKErrors
import COpenBLAS

/// A LAPACK routine reported failure (`info ≠ 0`) or got unusable input.
///
/// `info < 0` follows LAPACK: argument `-info` was illegal (the wrappers reject a matrix holding
/// NaN or ±Inf before calling LAPACK, with the info LAPACKE's own NaN check would give and a
/// `reason`); `info > 0` means the algorithm did not converge.
public struct LinalgError: Error, CustomStringConvertible {
    public let op: String
    public let info: Int
    public let shape: [Int]
    /// Why the wrapper rejected the input or the result, when it did (nil when LAPACK's info
    /// says it all).
    public var reason: String? = nil
    public var description: String {
        if let reason { return "\(op): \(reason) (matrix of shape \(shape), info \(info))" }
        return "\(op): LAPACK failed with info \(info) on a matrix of shape \(shape)"
    }
}

/// A report LAPACK's error handler `xerbla_` recorded (`CLAPACKErrors`): `routine` was called
/// with illegal argument `argument`. Inside a driver given valid input this is an inner routine
/// failing (sgesdd's divide and conquer on some rank-deficient fp32 matrices), after which the
/// driver carries on and its result cannot be trusted.
struct LAPACKReport: CustomStringConvertible, Equatable {
    let routine: String
    let argument: Int
    var description: String { "LAPACK routine \(routine) reported illegal argument \(argument)" }

    /// Runs one LAPACK call. - Returns: its info and the report a routine made during it, if any.
    static func run(_ call: () -> Int32) -> (info: Int, report: LAPACKReport?) {
        _ = take()
        let info = Int(call())
        return (info, take())
    }

    /// The last report on this thread, cleared.
    static func take() -> LAPACKReport? {
        var name = [CChar](repeating: 0, count: 16)
        let argument = Int(sketchgrad_lapack_take_report(&name))
        guard argument != 0 else { return nil }
        return LAPACKReport(routine: name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, argument: argument)
    }
}

extension LinalgError {
    /// The error for a call that returned `info` with `report`, nil when it succeeded.
    init?(op: String, shape: [Int], _ result: (info: Int, report: LAPACKReport?)) {
        guard result.info != 0 || result.report != nil else { return nil }
        self.init(op: op, info: result.info, shape: shape, reason: result.report?.description)
    }
}

extension Tensor {
    /// Throws unless every element is finite (LAPACK would return garbage or loop on Inf).
    func checkFinite(op: String, info: Int) throws {
        let finite = withUnsafeBufferPointer { p -> Bool in
            var acc = Vec()
            var i = 0
            // x·0 is 0 for finite x and NaN for NaN/Inf; NaN poisons the sum.
            while i + 16 <= p.count { acc += load(p.baseAddress!, i) * 0; i += 16 }
            var s = acc.sum()
            while i < p.count { s += p[i] * 0; i += 1 }
            return s == 0
        }
        if !finite { throw LinalgError(op: op, info: info, shape: shape, reason: "input contains NaN or Inf") }
    }
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
        try checkFinite(op: "qr", info: -4)
        let a = copy()
        var tau = [Float](repeating: 0, count: Swift.max(n, 1))
        if let e = LinalgError(op: "qr (sgeqrf)", shape: shape, LAPACKReport.run {
            LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, Int32(m), Int32(n), a.storage.base, Int32(n), &tau)
        }) { throw e }
        let r = Tensor.zeros([n, n])
        for i in 0..<n { for j in i..<n { r.storage.base[i * n + j] = a.storage.base[i * n + j] } }
        if let e = LinalgError(op: "qr (sorgqr)", shape: shape, LAPACKReport.run {
            LAPACKE_sorgqr(LAPACK_ROW_MAJOR, Int32(m), Int32(n), Int32(n), a.storage.base, Int32(n), &tau)
        }) { throw e }
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
        try checkFinite(op: "svd", info: -5)
        var a = copy()
        let u = Tensor(uninitializedShape: [m, k]), s = Tensor(uninitializedShape: [k]), vt = Tensor(uninitializedShape: [k, n])
        var result = LAPACKReport.run {
            LAPACKE_sgesdd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), Int32(m), Int32(n), a.storage.base, Int32(n),
                           s.storage.base, u.storage.base, Int32(k), vt.storage.base, Int32(n))
        }
        var finite = s.isAllFinite && u.isAllFinite && vt.isAllFinite
        if result.info > 0 || result.report != nil || !finite {
            // Divide and conquer did not converge or an inner routine failed; QR iteration is
            // slower but more robust.
            a = copy()
            var superb = [Float](repeating: 0, count: Swift.max(k, 1))
            result = LAPACKReport.run {
                LAPACKE_sgesvd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), CChar(UInt8(ascii: "S")), Int32(m), Int32(n), a.storage.base, Int32(n),
                               s.storage.base, u.storage.base, Int32(k), vt.storage.base, Int32(n), &superb)
            }
            finite = s.isAllFinite && u.isAllFinite && vt.isAllFinite
        }
        if let e = LinalgError(op: "svd", shape: shape, result) { throw e }
        guard finite else {
            throw LinalgError(op: "svd", info: 0, shape: shape, reason: "LAPACK returned NaN or Inf for a finite matrix")
        }
        return (u, s, vt)
    }

    /// Eigendecomposition of a symmetric (n, n) matrix (only the upper triangle is read).
    /// - Returns: eigenvalues (n) descending and eigenvectors (n, n), column j for value j.
    public func symmetricEigen() throws -> (values: Tensor, vectors: Tensor) {
        precondition(rank == 2 && shape[0] == shape[1], "symmetricEigen: needs a square matrix, got shape \(shape)")
        let n = shape[0]
        try checkFinite(op: "symmetricEigen", info: -5)
        let a = copy()
        let w = Tensor(uninitializedShape: [n])
        if let e = LinalgError(op: "symmetricEigen (ssyevd)", shape: shape, LAPACKReport.run {
            LAPACKE_ssyevd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")), Int32(n), a.storage.base, Int32(n), w.storage.base)
        }) { throw e }
        // LAPACK returns ascending order; flip to descending.
        let values = Tensor(uninitializedShape: [n]), vectors = Tensor(uninitializedShape: [n, n])
        for j in 0..<n {
            values.storage.base[j] = w.storage.base[n - 1 - j]
            for i in 0..<n { vectors.storage.base[i * n + j] = a.storage.base[i * n + (n - 1 - j)] }
        }
        return (values, vectors)
    }
}

extension Tensor {
    /// CholeskyQR of a well-conditioned (n, p) matrix, n ≥ p: `R = chol(AᵀA)` (upper, positive
    /// diagonal, LAPACK `spotrf`) and `Q = A R⁻¹` (BLAS `strsm`), so Q is the sign-fixed thin QR's Q.
    /// All BLAS-3, several times cheaper than Householder QR for thin random matrices.
    /// - Returns: Q (n, p), or nil when a pivot keeps less than `minPivot` of its Gram diagonal
    ///   (κ(A)² too large for fp32 CholeskyQR) or the factorisation fails; use `qr()` then.
    public func choleskyQR(minPivot: Float = 1e-3) -> Tensor? {
        precondition(rank == 2 && shape[0] >= shape[1], "choleskyQR: needs rows ≥ columns, got shape \(shape)")
        let n = shape[0], p = shape[1]
        if p == 0 { return self }
        var r = Tensor.matmul(self, self, transposeA: true)
        let diagonal = (0..<p).map { r.pointer[$0 * p + $0] }
        let result = LAPACKReport.run {
            r.withUnsafeMutableBufferPointer { LAPACKE_spotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "U")), Int32(p), $0.baseAddress, Int32(p)) }
        }
        guard result.info == 0, result.report == nil else { return nil }
        for i in 0..<p {
            let pivot = r.pointer[i * p + i]
            guard pivot.isFinite, pivot * pivot >= minPivot * diagonal[i] else { return nil }
        }
        var q = copy()
        q.withUnsafeMutableBufferPointer { qp in
            cblas_strsm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit,
                        Int32(n), Int32(p), 1, r.pointer, Int32(p), qp.baseAddress, Int32(p))
        }
        return q
    }
}
