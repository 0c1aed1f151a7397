import Foundation
import Tensor
import TestSupport
import XCTest

/// The tiled kernel against the materialised one it replaced, on sizes that are and are not
/// multiples of the tiles, with and without grouped-query heads.
final class CausalAttentionKernelTests: XCTestCase {
    struct Case {
        var batch, seq, heads, kvHeads, headDim: Int
    }

    /// Forward and all three gradients of both kernels on the same random inputs.
    func compare(_ c: Case, tiles: (Int, Int, Int, Int)? = nil, tolerance: Float = 1e-5,
                 file: StaticString = #filePath, line: UInt = #line) {
        var kernel = CausalAttentionKernel(batch: c.batch, seq: c.seq, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim)
        if let (qt, kt, bkt, bqt) = tiles {
            kernel.queryTile = qt; kernel.keyTile = kt; kernel.backwardKeyTile = bkt; kernel.backwardQueryTile = bqt
        }
        let reference = MaterializedAttention(batch: c.batch, seq: c.seq, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim)
        let rows = c.batch * c.seq
        let q = randn([rows, c.heads * c.headDim], seed: 1), k = randn([rows, c.kvHeads * c.headDim], seed: 2)
        let v = randn([rows, c.kvHeads * c.headDim], seed: 3), dO = randn([rows, c.heads * c.headDim], seed: 4)
        let (out, lse) = kernel.forward(q: q, k: k, v: v)
        let tiled = kernel.backward(gradOutput: dO, q: q, k: k, v: v, out: out, logSumExp: lse, needs: (true, true, true))
        let (refOut, p) = reference.forward(q: q, k: k, v: v)
        let ref = reference.backward(gradOutput: dO, q: q, k: k, v: v, probabilities: p)
        let label = "B \(c.batch) S \(c.seq) H \(c.heads)/\(c.kvHeads) d \(c.headDim)"
        assertRelativeClose(out, refOut, tolerance, "output, \(label)", file: file, line: line)
        assertRelativeClose(tiled.dq!, ref.dq, tolerance, "dq, \(label)", file: file, line: line)
        assertRelativeClose(tiled.dk!, ref.dk, tolerance, "dk, \(label)", file: file, line: line)
        assertRelativeClose(tiled.dv!, ref.dv, tolerance, "dv, \(label)", file: file, line: line)
    }

    func testMatchesMaterializedKernel() {
        for seq in [1, 17, 64, 256] {
            compare(Case(batch: 2, seq: seq, heads: 2, kvHeads: 2, headDim: 16))
            compare(Case(batch: 2, seq: seq, heads: 4, kvHeads: 2, headDim: 16))
        }
    }

    /// Kept small in batch and heads so that the reference's S² buffers stay a few MiB.
    func testMatchesMaterializedKernelAtSequence1024() {
        compare(Case(batch: 2, seq: 1024, heads: 1, kvHeads: 1, headDim: 16))
        compare(Case(batch: 2, seq: 1024, heads: 2, kvHeads: 1, headDim: 16))
    }

    /// Tiles that do not divide each other or the sequence, query tiles smaller than key tiles
    /// (rows with no key in a tile), a head dimension that is not a multiple of 16.
    func testOddTileSizes() {
        compare(Case(batch: 2, seq: 45, heads: 4, kvHeads: 2, headDim: 12), tiles: (7, 10, 6, 11))
        compare(Case(batch: 3, seq: 33, heads: 3, kvHeads: 1, headDim: 8), tiles: (16, 5, 9, 4))
        compare(Case(batch: 2, seq: 40, heads: 2, kvHeads: 2, headDim: 16), tiles: (40, 64, 64, 40))
    }

    /// One (batch, key/value head) unit: the key tiles are dealt out to several work items, which
    /// add their dQ through scratch copies.
    func testSingleUnitSplitsKeyTiles() {
        compare(Case(batch: 1, seq: 300, heads: 2, kvHeads: 1, headDim: 16))
        compare(Case(batch: 1, seq: 50, heads: 1, kvHeads: 1, headDim: 16), tiles: (8, 8, 8, 8))
    }

    /// Only the requested gradients are formed, and each equals the one formed with all three.
    func testPartialGradients() {
        let kernel = CausalAttentionKernel(batch: 2, seq: 70, heads: 4, kvHeads: 2, headDim: 16)
        let q = randn([140, 64], seed: 5), k = randn([140, 32], seed: 6), v = randn([140, 32], seed: 7)
        let dO = randn([140, 64], seed: 8)
        let (out, lse) = kernel.forward(q: q, k: k, v: v)
        let all = kernel.backward(gradOutput: dO, q: q, k: k, v: v, out: out, logSumExp: lse, needs: (true, true, true))
        let onlyV = kernel.backward(gradOutput: dO, q: q, k: k, v: v, out: out, logSumExp: lse, needs: (false, false, true))
        let onlyQ = kernel.backward(gradOutput: dO, q: q, k: k, v: v, out: out, logSumExp: lse, needs: (true, false, false))
        XCTAssertNil(onlyV.dq); XCTAssertNil(onlyV.dk); XCTAssertNil(onlyQ.dk); XCTAssertNil(onlyQ.dv)
        XCTAssertEqual(onlyV.dv!.scalars, all.dv!.scalars)
        XCTAssertEqual(onlyQ.dq!.scalars, all.dq!.scalars)
    }

    /// The log-sum-exp rows are those of the masked, scaled scores.
    func testLogSumExpOfScaledScores() {
        let kernel = CausalAttentionKernel(batch: 1, seq: 3, heads: 1, kvHeads: 1, headDim: 4)
        let q = randn([3, 4], seed: 9), k = randn([3, 4], seed: 10), v = randn([3, 4], seed: 11)
        let lse = kernel.forward(q: q, k: k, v: v).logSumExp
        XCTAssertEqual(lse.shape, [1, 1, 3])
        for i in 0..<3 {
            var sum = 0.0
            for j in 0...i {
                var dot = 0.0
                for c in 0..<4 { dot += Double(q[i, c] * k[j, c]) }
                sum += Foundation.exp(dot / 2)
            }
            XCTAssertEqual(Double(lse[0, 0, i]), Foundation.log(sum), accuracy: 1e-5)
        }
    }
}

/// Fails unless both tensors have the same shape, every element is finite, and
/// `max|a − b| ≤ tolerance · max(max|b|, 1)` (NaN or ±inf anywhere is a failure). The floor of 1
/// covers gradients that vanish in exact arithmetic (dq, dk at S = 1), where both kernels leave
/// rounding noise of ~1e-7 that no relative measure can compare.
func assertRelativeClose(_ a: Tensor, _ b: Tensor, _ tolerance: Float, _ message: String,
                         file: StaticString = #filePath, line: UInt = #line) {
    guard a.shape == b.shape else { XCTFail("\(message): shape \(a.shape) vs \(b.shape)", file: file, line: line); return }
    var worst: Float = 0, scale: Float = 1, at = 0
    let x = a.scalars, y = b.scalars
    for i in x.indices {
        guard x[i].isFinite && y[i].isFinite else {
            XCTFail("\(message): non-finite element \(x[i]) vs \(y[i]) at \(i)", file: file, line: line); return
        }
        scale = max(scale, abs(y[i]))
        if abs(x[i] - y[i]) > worst { worst = abs(x[i] - y[i]); at = i }
    }
    XCTAssertLessThanOrEqual(worst, tolerance * scale,
                             "\(message): max difference \(worst) at \(at) (\(x.isEmpty ? 0 : x[at]) vs \(y.isEmpty ? 0 : y[at])), scale \(scale)",
                             file: file, line: line)
}
