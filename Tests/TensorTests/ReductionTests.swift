import Tensor
import XCTest

/// Reductions on every axis against naive loops. Sums: 1e-5 relative (Double reference);
/// max/argmax: exact.
final class ReductionTests: XCTestCase {
    let shapes: [[Int]] = [[17], [3, 17], [2, 3, 5], [4, 1, 33], [2, 70, 3], [130, 2]]

    func naiveReduce(_ t: Tensor, axis a: Int, _ initial: Double, _ f: (Double, Double) -> Double) -> [Double] {
        var outShape = t.shape
        outShape.remove(at: a)
        var out = [Double](repeating: initial, count: outShape.reduce(1, *))
        for k in 0..<t.count {
            var idx = multiIndex(k, t.shape)
            idx.remove(at: a)
            let j = flatIndex(idx, outShape)
            out[j] = f(out[j], Double(t.scalars[k]))
        }
        return out
    }

    func testSumAndMeanOnEveryAxis() {
        for s in shapes {
            let t = randn(s, seed: UInt64(s.reduce(1, *)))
            for a in 0..<s.count {
                let ref = naiveReduce(t, axis: a, 0, +)
                var rs = s; rs.remove(at: a)
                var ks = s; ks[a] = 1
                assertClose(t.sum(axis: a), ref.map(Float.init), shape: rs, tol: 1e-5, "sum axis \(a) of \(s)")
                assertClose(t.sum(axis: a - s.count, keepDims: true), ref.map(Float.init), shape: ks, tol: 1e-5, "sum axis \(a - s.count) keepDims")
                assertClose(t.mean(axis: a), ref.map { Float($0 / Double(s[a])) }, shape: rs, tol: 1e-5, "mean axis \(a) of \(s)")
            }
            let total = t.scalars.reduce(0.0) { $0 + Double($1) }
            XCTAssertEqual(Double(t.sum()), total, accuracy: 1e-5 * max(1, abs(total)))
            XCTAssertEqual(Double(t.mean()), total / Double(t.count), accuracy: 1e-6)
            let sq = t.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }
            XCTAssertEqual(Double(t.squaredNorm()), sq, accuracy: 1e-5 * sq)
        }
    }

    func testLongAxisSumIsAccurate() {
        // 100 000 rows of 1/3 summed along axis 0 (blocked accumulation keeps the error small).
        let t = Tensor.full([100_000, 3], 1.0 / 3)
        for v in t.sum(axis: 0).scalars { XCTAssertEqual(v, 100_000.0 / 3, accuracy: 0.05) }
        XCTAssertEqual(t.sum(axes: [0, 1]).item, 100_000, accuracy: 0.1)
        XCTAssertEqual(t.sum(), 100_000, accuracy: 0.05)
    }

    func testMaxAndArgmaxOnEveryAxis() {
        for s in shapes {
            let t = randn(s, seed: UInt64(s.reduce(3, *)))
            for a in 0..<s.count {
                let ref = naiveReduce(t, axis: a, -.infinity, { Swift.max($0, $1) })
                var rs = s; rs.remove(at: a)
                XCTAssertEqual(t.max(axis: a).shape, rs)
                XCTAssertEqual(t.max(axis: a).scalars, ref.map(Float.init), "max axis \(a) of \(s)")
                var ks = s; ks[a] = 1
                XCTAssertEqual(t.max(axis: a, keepDims: true).shape, ks)
                // argmax: the index along `a` of that maximum.
                let am = t.argmax(axis: a)
                XCTAssertEqual(am.count, rs.reduce(1, *))
                for j in 0..<am.count {
                    var idx = multiIndex(j, rs)
                    idx.insert(am[j], at: a)
                    XCTAssertEqual(t.scalars[flatIndex(idx, s)], Float(ref[j]), "argmax axis \(a) of \(s) at \(j)")
                }
            }
            XCTAssertEqual(t.max(), t.scalars.max())
            XCTAssertEqual(t.min(), t.scalars.min())
        }
    }

    func testArgmaxTakesFirstOfTies() {
        let t = Tensor([1, 5, 5, 2, 7, 7, 7, 0], shape: [2, 4])
        XCTAssertEqual(t.argmax(axis: 1), [1, 0])
        XCTAssertEqual(Tensor([3, 3, 1, 4], shape: [2, 2]).argmax(axis: 0), [0, 1])
        let wide = Tensor.zeros([3, 40])
        XCTAssertEqual(wide.argmax(axis: 0), [Int](repeating: 0, count: 40))
    }

    func testEmptyReductions() {
        XCTAssertEqual(Tensor.zeros([0, 3]).sum(axis: 0).scalars, [0, 0, 0])
        XCTAssertEqual(Tensor.zeros([0]).sum(), 0)
        XCTAssertEqual(Tensor.zeros([0]).max(), -.infinity)
    }
}
