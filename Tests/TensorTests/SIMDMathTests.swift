import Foundation
import Tensor
import XCTest

/// Vectorised transcendental kernels against Foundation in Double, on a dense grid over
/// [-100, 100] plus small magnitudes, special values and extremes. The error measure is
/// `|f − ref| / (|ref| + floor)`: relative error, with an absolute floor where the function
/// underflows or crosses zero. Bounds are stated per function (a few ulp: 1 ulp ≈ 6e-8).
final class SIMDMathTests: XCTestCase {
    /// Dense grid over [-100, 100], small magnitudes down to 1e-30, and lengths not a multiple of
    /// 16 so the scalar tails run too.
    lazy var inputs: [Float] = {
        var x: [Float] = stride(from: -100, through: 100, by: 0.0137).map { Float($0) }
        for e in stride(from: -30.0, through: 2, by: 0.25) { x += [Float(pow(10, e)), -Float(pow(10, e))] }
        x += [0, -0, 1, -1, 88.7, 88.72, -87.3, -87.4, -103, 0.4, -0.4, 0.3999, 0.4001, 1e-7]
        return x
    }()

    func maxError(_ t: Tensor, _ x: [Float], floor: Double, _ ref: (Double) -> Double) -> (Double, Float) {
        var worst = 0.0, at: Float = 0
        for (i, v) in t.scalars.enumerated() {
            let r = ref(Double(x[i]))
            let e: Double
            if r.isInfinite || v.isInfinite { e = (r == Double(v)) ? 0 : .infinity } else { e = abs(Double(v) - r) / (abs(r) + floor) }
            if !(e <= worst) { worst = e; at = x[i] }
        }
        return (worst, at)
    }

    func check(_ name: String, _ f: (Tensor) -> Tensor, bound: Double, floor: Double, inputs x: [Float]? = nil,
               _ ref: (Double) -> Double, file: StaticString = #filePath, line: UInt = #line) {
        let xs = x ?? inputs
        let (err, at) = maxError(f(Tensor(xs)), xs, floor: floor, ref)
        XCTAssertLessThanOrEqual(err, bound, "\(name): max error \(err) at x = \(at)", file: file, line: line)
    }

    func testExp() {
        // Float exp overflows above 88.72 (ref → inf) and is denormal below -87.3.
        check("exp", { $0.exp() }, bound: 3e-7, floor: 1e-37) { exp($0) > Double(Float.greatestFiniteMagnitude) ? .infinity : exp($0) }
        let e = Tensor([100, -100, 89, -104, -90]).exp().scalars
        XCTAssertEqual(e[0], .infinity); XCTAssertEqual(e[2], .infinity); XCTAssertEqual(e[3], 0)
        XCTAssertEqual(Double(e[1]), exp(-100), accuracy: 1.5e-45, "denormal result")
        XCTAssertEqual(Double(e[4]), exp(-90), accuracy: 1.5e-45 + 1e-6 * exp(-90))
        let big = Double(Float(88.7))
        XCTAssertEqual(Double(Tensor([88.7]).exp().item), exp(big), accuracy: 3e-7 * exp(big), "just below FLT_MAX")
    }

    func testLog() {
        let pos = inputs.filter { $0 > 0 } + [1e-38, Float.leastNormalMagnitude / 64, Float.leastNonzeroMagnitude, Float.greatestFiniteMagnitude, 1e30, 0.70710677, 0.7071068, 1.4142135]
        check("log", { $0.log() }, bound: 2e-7, floor: 1e-7, inputs: pos) { log($0) }
        let special = Tensor([0, -1, .infinity, .nan]).log().scalars
        XCTAssertEqual(special[0], -.infinity)
        XCTAssertTrue(special[1].isNaN)
        XCTAssertEqual(special[2], .infinity)
        XCTAssertTrue(special[3].isNaN)
    }

    func testTanh() {
        check("tanh", { $0.tanh() }, bound: 4e-7, floor: 1e-30) { tanh($0) }
    }

    func testSigmoid() {
        check("sigmoid", { $0.sigmoid() }, bound: 4e-7, floor: 1e-30) { 1 / (1 + exp(-$0)) }
    }

    func testSiLU() {
        check("silu", { $0.silu() }, bound: 4e-7, floor: 1e-30) { $0 / (1 + exp(-$0)) }
    }

    func testGELU() {
        // ½x(1 + tanh u) = x σ(2u), the reference evaluated that way in Double (no cancellation).
        let ref = { (x: Double) in x / (1 + exp(-2 * 0.7978845608028654 * (x + 0.044715 * x * x * x))) }
        // Computed as x·σ(2u): no cancellation for negative x. For x ≪ 0 the rounding of u
        // (≈ |2u| ulp relative) is amplified by e^(2u): ≤ 1e-5 relative down to 1e-30 overall,
        // ≤ 1e-6 (16 ulp) for x > -3.
        check("gelu", { $0.gelu() }, bound: 1e-5, floor: 1e-30, ref)
        check("gelu", { $0.gelu() }, bound: 1e-6, floor: 1e-30, inputs: inputs.filter { $0 > -3 }, ref)
        XCTAssertEqual(Tensor([1.5]).gelu().item, Float(0.5 * 1.5 * (1 + tanh(0.7978845608028654 * (1.5 + 0.044715 * 3.375)))), accuracy: 1e-6)
    }

    func testPow() {
        let pos = inputs.filter { $0 > 1e-12 && $0 < 1e12 }
        for p: Float in [0.5, -0.5, 1.5, -1.3, 0.25, 3.7] {
            // exp(p log x): relative error ≈ |p ln x| ulp, ≤ ~100 ulp on this range.
            check("pow \(p)", { $0.pow(p) }, bound: 6e-6, floor: 1e-30, inputs: pos) { pow($0, Double(p)) }
        }
        let all = inputs.filter { abs($0) < 1e6 && abs($0) > 1e-6 }
        for p: Float in [2, 3, -1, -2, 0, 1, 4] {
            check("pow \(p)", { $0.pow(p) }, bound: 5e-7, floor: 1e-30, inputs: all) { pow($0, Double(p)) }
        }
        XCTAssertEqual(Tensor([0, 4]).pow(0.5).scalars, [0, 2])
        XCTAssertEqual(Tensor([0]).pow(-1.5).item, .infinity)
        XCTAssertEqual(Tensor([0]).pow(1.5).item, 0)
        XCTAssertTrue(Tensor([-2]).pow(1.5).item.isNaN)
        XCTAssertEqual(Tensor([-2]).pow(3).item, -8)
    }

    func testNaNPropagates() {
        let x = Tensor([Float](repeating: .nan, count: 17))
        for (name, f) in [("exp", { (t: Tensor) in t.exp() }), ("tanh", { $0.tanh() }), ("sigmoid", { $0.sigmoid() }),
                          ("silu", { $0.silu() }), ("gelu", { $0.gelu() }), ("log", { $0.log() })] {
            XCTAssertTrue(f(x).scalars.allSatisfy(\.isNaN), name)
        }
    }

    func testOtherUnaryKernels() {
        let x = randn([37], seed: 1)
        let v = x.scalars
        XCTAssertEqual(x.relu().scalars, v.map { max($0, 0) })
        XCTAssertEqual(x.abs().scalars, v.map { abs($0) })
        XCTAssertEqual(x.square().scalars, v.map { $0 * $0 })
        XCTAssertEqual(x.clamped(min: -0.5, max: 0.5).scalars, v.map { min(max($0, -0.5), 0.5) })
        let p = x.abs() + 0.1
        XCTAssertEqual(p.sqrt().scalars, p.scalars.map { $0.squareRoot() })
        assertClose(p.rsqrt(), p.scalars.map { 1 / $0.squareRoot() }, shape: [37], tol: 1e-6)
        XCTAssertEqual((x * 2 - 1).scalars, v.map { $0 * 2 - 1 })
        XCTAssertEqual((1 - x).scalars, v.map { 1 - $0 })
        XCTAssertEqual((-x).scalars, v.map { -$0 })
        var y = x
        y.addScaled(x, 0.5)
        XCTAssertEqual(y.scalars, v.map { $0 + 0.5 * $0 })
        y.scale(by: 2)
        XCTAssertEqual(y.scalars, v.map { ($0 + 0.5 * $0) * 2 })
    }
}
