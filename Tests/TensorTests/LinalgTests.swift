import COpenBLAS
@testable import Tensor
import TestSupport
import XCTest

/// QR, SVD and symmetric eigendecomposition on small matrices. Tolerances: 1e-4 absolute on
/// reconstructions and orthonormality of O(1) matrices up to 17×9 (fp32 LAPACK, ~1e-6 typical).
final class LinalgTests: XCTestCase {
    /// LAPACK's report of an illegal argument (here slascl's zero `cfrom`, what sgesdd's inner
    /// routines hit on some rank-deficient matrices) reaches the caller through the replaced
    /// `xerbla_`, instead of being printed to stdout while the driver carries on.
    func testLAPACKReportsReachTheCaller() {
        var a: [Float] = [1, 2, 3, 4]
        let bad = LAPACKReport.run { LAPACKE_slascl_work(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "G")), 0, 0, 0, 1, 2, 2, &a, 2) }
        XCTAssertEqual(bad.report, LAPACKReport(routine: "SLASCL", argument: 4))
        XCTAssertEqual(a, [1, 2, 3, 4], "the routine did nothing")
        XCTAssertNil(LAPACKReport.take(), "a report is taken once")
        let good = LAPACKReport.run { LAPACKE_slascl_work(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "G")), 0, 0, 1, 2, 2, 2, &a, 2) }
        XCTAssertEqual(good.info, 0)
        XCTAssertNil(good.report)
        XCTAssertEqual(a, [2, 4, 6, 8])
        XCTAssertEqual(LinalgError(op: "svd", shape: [2, 2], bad)?.description,
                       "svd: LAPACK routine SLASCL reported illegal argument 4 (matrix of shape [2, 2], info \(bad.info))")
    }

    func testQROrthonormalUpperTriangularPositiveDiagonal() throws {
        for (m, n) in [(1, 1), (3, 3), (17, 5), (65, 17)] {
            let a = randn([m, n], seed: UInt64(m * 100 + n))
            let (q, r) = try a.qr()
            XCTAssertEqual(q.shape, [m, n]); XCTAssertEqual(r.shape, [n, n])
            assertClose(Tensor.matmul(q, q, transposeA: true), Tensor.eye(n), tol: 1e-4, "QᵀQ = I (\(m)×\(n))")
            assertClose(Tensor.matmul(q, r), a, tol: 1e-4, "QR = A (\(m)×\(n))")
            for i in 0..<n {
                XCTAssertGreaterThanOrEqual(r[i, i], 0, "diag(R) ≥ 0")
                for j in 0..<i { XCTAssertEqual(r[i, j], 0, "R upper triangular") }
            }
        }
    }

    func testSVDReconstructsWithOrthonormalFactorsAndDescendingValues() throws {
        for (m, n) in [(1, 1), (3, 5), (9, 4), (17, 17)] {
            let a = randn([m, n], seed: UInt64(m * 31 + n))
            let (u, s, vt) = try a.svd()
            let k = min(m, n)
            XCTAssertEqual(u.shape, [m, k]); XCTAssertEqual(s.shape, [k]); XCTAssertEqual(vt.shape, [k, n])
            let sv = s.scalars
            for i in 1..<max(k, 1) where k > 1 { XCTAssertGreaterThanOrEqual(sv[i - 1], sv[i], "descending") }
            XCTAssertGreaterThanOrEqual(sv.min() ?? 0, 0)
            // U diag(S) Vt = A.
            let us = u * s.reshaped([1, k])
            assertClose(Tensor.matmul(us, vt), a, tol: 1e-4, "U S Vt = A (\(m)×\(n))")
            assertClose(Tensor.matmul(u, u, transposeA: true), Tensor.eye(k), tol: 1e-4, "UᵀU = I")
            assertClose(Tensor.matmul(vt, vt, transposeB: true), Tensor.eye(k), tol: 1e-4, "V Vᵀ = I")
        }
    }

    func testSVDOfKnownMatrix() throws {
        // diag(3, 1) rotated: singular values 3 and 1.
        let a = Tensor([0, 3, 1, 0], shape: [2, 2])
        let (_, s, _) = try a.svd()
        assertClose(s, [3, 1], shape: [2], tol: 1e-6)
    }

    func testSymmetricEigen() throws {
        for n in [1, 3, 17] {
            let b = randn([n, n], seed: UInt64(n))
            let a = (b + b.transposed()) * 0.5
            let (values, vectors) = try a.symmetricEigen()
            XCTAssertEqual(values.shape, [n]); XCTAssertEqual(vectors.shape, [n, n])
            let lam = values.scalars
            for i in 1..<max(n, 1) where n > 1 { XCTAssertGreaterThanOrEqual(lam[i - 1], lam[i], "descending") }
            // A V = V diag(λ) column by column.
            let av = Tensor.matmul(a, vectors)
            assertClose(av, vectors * values.reshaped([1, n]), tol: 1e-4, "A v = λ v (n=\(n))")
            assertClose(Tensor.matmul(vectors, vectors, transposeA: true), Tensor.eye(n), tol: 1e-4, "VᵀV = I")
        }
    }

    func testEigenOfKnownMatrix() throws {
        let a = Tensor([2, 1, 1, 2], shape: [2, 2]) // eigenvalues 3, 1
        let (values, vectors) = try a.symmetricEigen()
        assertClose(values, [3, 1], shape: [2], tol: 1e-6)
        XCTAssertEqual(abs(vectors[0, 0]), Float(0.5).squareRoot(), accuracy: 1e-6)
    }

    /// LAPACKE's input NaN check makes every routine return info < 0 for a NaN matrix; the
    /// wrappers surface that as a thrown `LinalgError` naming the op (never a crash or garbage).
    func testNaNInputThrowsLinalgError() {
        var a = randn([4, 3], seed: 5)
        a[1, 2] = .nan
        XCTAssertThrowsError(try a.svd()) { error in
            guard let e = error as? LinalgError else { return XCTFail("not a LinalgError: \(error)") }
            XCTAssertTrue(e.op.hasPrefix("svd"), e.description)
            XCTAssertNotEqual(e.info, 0)
            XCTAssertEqual(e.shape, [4, 3])
        }
        XCTAssertThrowsError(try a.qr()) { XCTAssertTrue(($0 as? LinalgError)?.op.hasPrefix("qr") ?? false, "\($0)") }
        var s = Tensor.eye(3)
        s[0, 1] = .infinity
        XCTAssertThrowsError(try s.symmetricEigen()) {
            XCTAssertTrue(($0 as? LinalgError)?.op.hasPrefix("symmetricEigen") ?? false, "\($0)")
        }
    }
}
