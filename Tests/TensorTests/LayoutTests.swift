import Tensor
import XCTest

/// Layout ops against naive index loops (exact: they only move values).
final class LayoutTests: XCTestCase {
    func allPermutations(_ n: Int) -> [[Int]] {
        if n == 0 { return [[]] }
        return allPermutations(n - 1).flatMap { p in (0...p.count).map { i in var q = p; q.insert(n - 1, at: i); return q } }
    }

    func testPermuteEveryPermutationUpToRank4() {
        for shape in [[3, 17], [2, 3, 5], [2, 3, 1, 4], [33, 65]] {
            let t = randn(shape, seed: 1)
            for axes in allPermutations(shape.count) {
                let p = t.permuted(axes)
                let outShape = axes.map { shape[$0] }
                XCTAssertEqual(p.shape, outShape)
                var ref = [Float](repeating: 0, count: t.count)
                for k in 0..<t.count {
                    let idx = multiIndex(k, shape)
                    ref[flatIndex(axes.map { idx[$0] }, outShape)] = t.scalars[k]
                }
                XCTAssertEqual(p.scalars, ref, "\(shape) permuted \(axes)")
            }
        }
    }

    func testLargePermuteSplitsAcrossThreads() {
        // Enough 32×32 tiles to split over threads, with partial tiles at the edges.
        let shape = [2, 40, 2001]
        let t = randn(shape, seed: 11)
        for axes in [[0, 2, 1], [2, 1, 0]] {
            let p = t.permuted(axes)
            let outShape = axes.map { shape[$0] }
            let tv = t.scalars, pv = p.scalars
            var bad = 0
            for i in 0..<shape[0] { for j in 0..<shape[1] { for k in 0..<shape[2] {
                let idx = [i, j, k]
                let o = (idx[axes[0]] * outShape[1] + idx[axes[1]]) * outShape[2] + idx[axes[2]]
                if pv[o] != tv[(i * shape[1] + j) * shape[2] + k] { bad += 1 }
            } } }
            XCTAssertEqual(bad, 0, "\(axes)")
        }
    }

    func testTransposed() {
        let t = randn([2, 3, 4], seed: 2)
        XCTAssertEqual(t.transposed().scalars, t.permuted([0, 2, 1]).scalars)
        XCTAssertEqual(t.transposed(0, -1).scalars, t.permuted([2, 1, 0]).scalars)
        XCTAssertEqual(t.transposed().transposed().scalars, t.scalars)
    }

    func testSliceEveryAxis() {
        let shape = [3, 5, 4]
        let t = randn(shape, seed: 3)
        for a in 0..<3 {
            for range in [0..<1, 1..<shape[a], 0..<shape[a], 2..<2] {
                let s = t.sliced(axis: a, range)
                var outShape = shape; outShape[a] = range.count
                XCTAssertEqual(s.shape, outShape)
                let ref = (0..<outShape.reduce(1, *)).map { k -> Float in
                    var idx = multiIndex(k, outShape); idx[a] += range.lowerBound
                    return t.scalars[flatIndex(idx, shape)]
                }
                XCTAssertEqual(s.scalars, ref, "axis \(a) range \(range)")
            }
        }
    }

    func testConcatSplitRoundTripAndAssignSlice() {
        let shape = [2, 7, 3]
        let t = randn(shape, seed: 4)
        for a in 0..<3 {
            let sizes = a == 1 ? [2, 0, 4, 1] : [1, shape[a] - 1]
            let parts = t.split(axis: a, sizes: sizes)
            XCTAssertEqual(parts.map { $0.shape[a] }, sizes)
            var start = 0
            for (p, n) in zip(parts, sizes) {
                XCTAssertEqual(p.scalars, t.sliced(axis: a, start..<start + n).scalars)
                start += n
            }
            let back = Tensor.concatenate(parts, axis: a - 3)
            XCTAssertEqual(back.shape, shape)
            XCTAssertEqual(back.scalars, t.scalars)
        }
        var z = Tensor.zeros([2, 7, 3])
        let piece = randn([2, 2, 3], seed: 5)
        z.assignSlice(axis: 1, from: 4, piece)
        XCTAssertEqual(z.sliced(axis: 1, 4..<6).scalars, piece.scalars)
        XCTAssertEqual(z.sliced(axis: 1, 0..<4).scalars, [Float](repeating: 0, count: 24))
    }

    func testReshapeSharesStorageAndInfers() {
        let t = randn([2, 6], seed: 6)
        let r = t.reshaped([3, -1])
        XCTAssertEqual(r.shape, [3, 4])
        XCTAssertTrue(r.storage === t.storage)
    }
}

/// Gather / scatter-add along the first axis against naive loops.
final class IndexingTests: XCTestCase {
    func testIndexSelectWithRepeats() {
        let t = randn([5, 2, 3], seed: 7)
        let idx = [4, 0, 4, 2, 2, 2]
        let s = t.indexSelect(idx)
        XCTAssertEqual(s.shape, [6, 2, 3])
        XCTAssertEqual(s.scalars, idx.flatMap { Array(t.scalars[($0 * 6)..<($0 * 6 + 6)]) })
        XCTAssertEqual(t.indexSelect([]).shape, [0, 2, 3])
    }

    func testIndexAddAndScatterAddAccumulateRepeats() {
        let base = randn([4, 17], seed: 8)
        let src = randn([5, 17], seed: 9)
        let idx = [3, 1, 3, 3, 0]
        var t = base
        t.indexAdd(idx, src)
        var ref = base.scalars.map(Double.init)
        for (k, i) in idx.enumerated() { for j in 0..<17 { ref[i * 17 + j] += Double(src.scalars[k * 17 + j]) } }
        assertClose(t, ref.map(Float.init), shape: [4, 17], tol: 1e-6)
        XCTAssertEqual(base.scalars, randn([4, 17], seed: 8).scalars, "copy-on-write leaves the original alone")
        let sc = Tensor.scatterAdd(src, indices: idx, shape: [4, 17])
        assertClose(sc, (0..<68).map { Float(ref[$0] - Double(base.scalars[$0])) }, shape: [4, 17], tol: 1e-6)
    }
}
