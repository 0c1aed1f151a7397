import Tensor
import TestSupport
import XCTest

/// BLAS wrappers against naive Double loops. Tolerance: 1e-4 relative to max(1, |x|) (fp32
/// sgemm with K ≤ 65 of N(0,1) entries; errors are ~1e-6, kernels differ by core type).
final class MatMulTests: XCTestCase {
    let sizes = [1, 3, 17, 65]

    func testAllTransposeFlagsOnOddShapes() {
        var seed: UInt64 = 1
        for m in sizes { for k in sizes { for n in sizes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                seed += 1
                let aShape = ta ? [k, m] : [m, k], bShape = tb ? [n, k] : [k, n]
                let a = randn(aShape, seed: seed), b = randn(bShape, seed: seed + 1000)
                let c = Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
                let ref = naiveMatmul(a.scalars, aShape, b.scalars, bShape, transposeA: ta, transposeB: tb)
                assertClose(c, ref, shape: [m, n], tol: 1e-4, "m=\(m) k=\(k) n=\(n) tA=\(ta) tB=\(tb)")
            }
        } } }
    }

    func testBatchedMatmulAllFlags() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (bt, m, k, n) = (3, 17, 5, 3)
            let aShape = [2, bt] + (ta ? [k, m] : [m, k]), bShape = [2, bt] + (tb ? [n, k] : [k, n])
            let a = randn(aShape, seed: 7), b = randn(bShape, seed: 8)
            let c = Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
            XCTAssertEqual(c.shape, [2, bt, m, n])
            var ref: [Float] = []
            let aS = Array(aShape.suffix(2)), bS = Array(bShape.suffix(2))
            for i in 0..<(2 * bt) {
                let ai = Array(a.scalars[(i * m * k)..<((i + 1) * m * k)])
                let bi = Array(b.scalars[(i * k * n)..<((i + 1) * k * n)])
                ref += naiveMatmul(ai, aS, bi, bS, transposeA: ta, transposeB: tb)
            }
            assertClose(c, ref, shape: [2, bt, m, n], tol: 1e-4, "tA=\(ta) tB=\(tb)")
        }
    }

    func testFoldedLeadingDimsAgainstSharedMatrix() {
        // a (2, 3, 17, 5) · b (5, 65) folds into one (102, 5) · (5, 65) sgemm; a transposed runs per batch.
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (m, k, n) = (17, 5, 65)
            let aShape = [2, 3] + (ta ? [k, m] : [m, k]), bShape = tb ? [n, k] : [k, n]
            let a = randn(aShape, seed: 11), b = randn(bShape, seed: 12)
            let c = Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
            var ref: [Float] = []
            for i in 0..<6 {
                let ai = Array(a.scalars[(i * m * k)..<((i + 1) * m * k)])
                ref += naiveMatmul(ai, Array(aShape.suffix(2)), b.scalars, bShape, transposeA: ta, transposeB: tb)
            }
            assertClose(c, ref, shape: [2, 3, m, n], tol: 1e-4, "tA=\(ta) tB=\(tb)")
        }
    }

    func testSharedLeftOperandAgainstBatch() {
        // a (M, K) shared, b (B, K, N) batched (needed by the gradient of a transposed batched a).
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (m, k, n) = (3, 17, 5)
            let aShape = ta ? [k, m] : [m, k], bShape = [4] + (tb ? [n, k] : [k, n])
            let a = randn(aShape, seed: 13), b = randn(bShape, seed: 14)
            let c = Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
            var ref: [Float] = []
            for i in 0..<4 {
                let bi = Array(b.scalars[(i * k * n)..<((i + 1) * k * n)])
                ref += naiveMatmul(a.scalars, aShape, bi, Array(bShape.suffix(2)), transposeA: ta, transposeB: tb)
            }
            assertClose(c, ref, shape: [4, m, n], tol: 1e-4, "tA=\(ta) tB=\(tb)")
        }
    }

    func testMatmulSummingBatches() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (m, k, n) = (17, 3, 5)
            let aShape = [2, 3] + (ta ? [k, m] : [m, k]), bShape = [2, 3] + (tb ? [n, k] : [k, n])
            let a = randn(aShape, seed: 15), b = randn(bShape, seed: 16)
            let c = Tensor.matmulSummingBatches(a, b, transposeA: ta, transposeB: tb)
            var ref = [Float](repeating: 0, count: m * n)
            for i in 0..<6 {
                let ai = Array(a.scalars[(i * m * k)..<((i + 1) * m * k)])
                let bi = Array(b.scalars[(i * k * n)..<((i + 1) * k * n)])
                let p = naiveMatmul(ai, Array(aShape.suffix(2)), bi, Array(bShape.suffix(2)), transposeA: ta, transposeB: tb)
                for j in 0..<(m * n) { ref[j] += p[j] }
            }
            assertClose(c, ref, shape: [m, n], tol: 1e-4, "tA=\(ta) tB=\(tb)")
        }
    }

    func testAddMatmulAlphaBeta() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for (alpha, beta) in [(Float(1), Float(1)), (0.5, 0), (-2, 0.25)] {
                let (m, k, n) = (17, 65, 3)
                let a = randn(ta ? [k, m] : [m, k], seed: 21), b = randn(tb ? [n, k] : [k, n], seed: 22)
                let c0 = randn([m, n], seed: 23)
                var c = c0
                c.addMatmul(a, b, transposeA: ta, transposeB: tb, alpha: alpha, beta: beta)
                let p = naiveMatmul(a.scalars, a.shape, b.scalars, b.shape, transposeA: ta, transposeB: tb)
                let ref = (0..<(m * n)).map { alpha * p[$0] + beta * c0.scalars[$0] }
                assertClose(c, ref, shape: [m, n], tol: 1e-4, "tA=\(ta) tB=\(tb) α=\(alpha) β=\(beta)")
                // Copy-on-write: the original accumulator is untouched.
                XCTAssertEqual(c0.scalars, randn([m, n], seed: 23).scalars)
            }
        }
    }

    /// Products of ≥ 2²¹ multiply-adds run as blocks of C's rows (m ≥ n) or columns (m < n) on
    /// the kernel threads: every block edge (multiples of 16, the remainder in the last block),
    /// transpose flags and an accumulating beta against the naive product, and the same bits
    /// for 1 thread and 2 up to the kernels' rounding (the blocks are whole rows/columns of C).
    func testProductsSplitOverTheThreadsMatchTheReference() {
        let before = Parallel.threads
        defer { Parallel.setThreads(before) }
        for (m, k, n) in [(211, 97, 130), (130, 97, 211), (64, 600, 70)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = randn(ta ? [k, m] : [m, k], seed: 41), b = randn(tb ? [n, k] : [k, n], seed: 42)
                let c0 = randn([m, n], seed: 43)
                let p = naiveMatmul(a.scalars, a.shape, b.scalars, b.shape, transposeA: ta, transposeB: tb)
                let ref = (0..<(m * n)).map { 2 * p[$0] + 0.5 * c0.scalars[$0] }
                var outputs: [[Float]] = []
                for threads in [1, 2, 3] {
                    Parallel.setThreads(threads)
                    var c = c0
                    c.addMatmul(a, b, transposeA: ta, transposeB: tb, alpha: 2, beta: 0.5)
                    assertClose(c, ref, shape: [m, n], tol: 1e-3, "m=\(m) k=\(k) n=\(n) tA=\(ta) tB=\(tb) threads \(threads)")
                    outputs.append(c.scalars)
                }
                for o in outputs.dropFirst() {
                    XCTAssertLessThanOrEqual(zip(o, outputs[0]).map { Swift.abs($0 - $1) }.max()!, 1e-3, "m=\(m) n=\(n)")
                }
            }
        }
    }

    func testAddMatmulFoldsLeadingDims() {
        // dW += xᵀ δ with x (2, 3, 5) and δ (2, 3, 4): rows fold into K = 6.
        let x = randn([2, 3, 5], seed: 31), d = randn([2, 3, 4], seed: 32)
        var w = Tensor.zeros([5, 4])
        w.addMatmul(x, d, transposeA: true)
        let ref = naiveMatmul(x.scalars, [6, 5], d.scalars, [6, 4], transposeA: true, transposeB: false)
        assertClose(w, ref, shape: [5, 4], tol: 1e-4)
    }

    func testEmptyInnerDimensionGivesZeros() {
        let c = Tensor.matmul(Tensor.zeros([3, 0]), Tensor.zeros([0, 4]))
        XCTAssertEqual(c.shape, [3, 4])
        XCTAssertEqual(c.scalars, [Float](repeating: 0, count: 12))
        let d = Tensor.matmul(Tensor.zeros([2, 3, 0]), Tensor.zeros([0, 4]))
        XCTAssertEqual(d.scalars, [Float](repeating: 0, count: 24))
    }
}
