@testable import Tensor
import XCTest

/// Broadcasting: every fast path (equal shapes, scalar operand, coalesced SIMD runs, one operand
/// constant along the run) against a naive index loop, for all four ops. Exact equality is
/// expected (each output element is one fp32 operation in both).
final class BroadcastTests: XCTestCase {
    /// `op` elementwise over the broadcast index space, one element at a time.
    func naive(_ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float) -> (values: [Float], shape: [Int]) {
        let shape = broadcastShape(a.shape, b.shape, op: "naive")
        let n = shape.reduce(1, *)
        return ((0..<n).map { k in
            let idx = multiIndex(k, shape)
            return op(broadcastElement(a, idx), broadcastElement(b, idx))
        }, shape)
    }

    func checkAllOps(_ sa: [Int], _ sb: [Int], file: StaticString = #filePath, line: UInt = #line) {
        let a = randn(sa, seed: UInt64(sa.reduce(7, *))), b = randn(sb, seed: UInt64(sb.reduce(11, *))) + 3 // b away from 0 for ÷
        let cases: [(String, (Tensor, Tensor) -> Tensor, (Float, Float) -> Float)] = [
            ("+", { $0 + $1 }, { $0 + $1 }), ("-", { $0 - $1 }, { $0 - $1 }),
            ("*", { $0 * $1 }, { $0 * $1 }), ("/", { $0 / $1 }, { $0 / $1 }),
            ("max", Tensor.maximum, { Swift.max($0, $1) }), ("min", Tensor.minimum, { Swift.min($0, $1) }),
        ]
        for (name, f, g) in cases {
            let ref = naive(a, b, g)
            let out = f(a, b)
            XCTAssertEqual(out.shape, ref.shape, "\(sa) \(name) \(sb)", file: file, line: line)
            XCTAssertEqual(out.scalars, ref.values, "\(sa) \(name) \(sb)", file: file, line: line)
            // Swapped operands take the mirrored path.
            let ref2 = naive(b, a, g)
            XCTAssertEqual(f(b, a).scalars, ref2.values, "\(sb) \(name) \(sa)", file: file, line: line)
        }
    }

    func testEqualShapes() {
        checkAllOps([17], [17]); checkAllOps([3, 65], [3, 65]); checkAllOps([], [])
    }

    func testScalarOperand() {
        checkAllOps([3, 17], []); checkAllOps([3, 17], [1]); checkAllOps([2, 3, 5], [1, 1, 1]); checkAllOps([1], [])
    }

    func testTrailingBlockAndRowScale() {
        checkAllOps([5, 33], [33])          // bias rows
        checkAllOps([4, 3, 33], [1, 33])
        checkAllOps([5, 33], [5, 1])        // one value per row
        checkAllOps([2, 3, 17], [2, 3, 1])
    }

    func testGeneralShapes() {
        checkAllOps([2, 3, 4], [3, 1])
        checkAllOps([4], [2, 3, 4])
        checkAllOps([2, 1, 4], [1, 3, 1])
        checkAllOps([2, 1, 17], [3, 1])
        checkAllOps([3, 1, 5, 1], [1, 4, 1, 2])
        checkAllOps([2, 3, 40], [2, 1, 40])
        checkAllOps([0, 3], [3])
    }

    func testLargeGeneralBroadcastSplitsAcrossThreads() {
        // > 2^20 outputs: the outer index is split over threads; chunk starts must be right.
        let (p, q, r) = (1031, 3, 347)
        let a = randn([p, q, r], seed: 1), b = randn([q, 1], seed: 2)
        let out = a - b
        let av = a.scalars, bv = b.scalars, ov = out.scalars
        var bad = 0
        for i in 0..<p { for j in 0..<q { for k in 0..<r {
            let f = (i * q + j) * r + k
            if ov[f] != av[f] - bv[j] { bad += 1 }
        } } }
        XCTAssertEqual(bad, 0)
        let out2 = b - a
        XCTAssertEqual(out2.scalars[(5 * q + 2) * r + 7], bv[2] - av[(5 * q + 2) * r + 7])
        XCTAssertEqual(out2.scalars[out2.count - 1], bv[2] - av[av.count - 1])
    }

    func testCoalescing() {
        let (d, a, b) = coalescedStrides([2, 3, 4], [12, 4, 1], [0, 0, 1])
        XCTAssertEqual(d, [6, 4]); XCTAssertEqual(a, [4, 1]); XCTAssertEqual(b, [0, 1])
        let (d2, _, _) = coalescedStrides([1, 1], [0, 0], [0, 0])
        XCTAssertEqual(d2, [1])
    }

    func testBroadcastedTo() {
        for (s, t) in [([3, 1], [2, 3, 4]), ([4], [2, 3, 4]), ([1, 3, 1], [2, 3, 5]), ([], [2, 2]), ([2, 2], [2, 2])] {
            let x = randn(s, seed: 3)
            let out = x.broadcasted(to: t)
            XCTAssertEqual(out.shape, t)
            XCTAssertEqual(out.scalars, (0..<t.reduce(1, *)).map { broadcastElement(x, multiIndex($0, t)) }, "\(s) → \(t)")
        }
    }

    func testReducedToShapeIsAdjointOfBroadcast() {
        for (s, t) in [([3, 1], [2, 3, 4]), ([4], [2, 3, 4]), ([1, 3, 1], [2, 3, 5]), ([], [2, 2]), ([1, 1], [3, 5])] {
            let g = randn(t, seed: 4)
            let r = g.reduced(toShape: s)
            XCTAssertEqual(r.shape, s)
            var ref = [Double](repeating: 0, count: s.reduce(1, *))
            for k in 0..<g.count {
                let idx = multiIndex(k, t), off = t.count - s.count
                let j = flatIndex((0..<s.count).map { s[$0] == 1 ? 0 : idx[$0 + off] }, s)
                ref[j] += Double(g.scalars[k])
            }
            assertClose(r, ref.map(Float.init), shape: s, tol: 1e-5, "\(t) → \(s)")
        }
    }

    func testBroadcastShape() {
        XCTAssertEqual(broadcastShape([2, 1, 4], [3, 1], op: "t"), [2, 3, 4])
        XCTAssertEqual(broadcastShape([], [5], op: "t"), [5])
    }
}
