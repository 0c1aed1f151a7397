import Autograd
import Tensor
import TestSupport
import XCTest

/// Finite-difference checks of every differentiable op in Sources/Autograd/Ops:
///
/// - Arithmetic.swift: `+`, `−`, `×`, `÷` (equal shapes and broadcasting both ways), prefix `−`,
///   scalar ops `x·s`, `s·x`, `x/s`, `x+s`, `x−s`
/// - Unary.swift: exp, log, sqrt, rsqrt, square, tanh, sigmoid, relu, silu, gelu, pow
/// - Reduce.swift: sum, mean, sum(axis:) and mean(axis:) (every axis, with and without keepDims)
/// - Shape.swift: reshaped, permuted, transposed, sliced, concatenate, split
/// - Index.swift: indexSelect (repeated indices), scatterAdd
/// - MatMul.swift: matmul (all four transpose combinations; 2-D, batched, folded leading dims,
///   shared 2-D operand against a batch), linear
/// - Softmax.swift: softmax, logSoftmax
///
/// Each op's output is reduced to a scalar with `projectedSum` (Σ y∘r for a fixed random r), so
/// the upstream gradient is generic. Central differences with h = 1e-2 (relative step; see
/// `gradientCheck`). Tolerance: max |analytic − numeric| / max|gradient| ≤ 5e-3 (the fp32 FD
/// noise is ~1e-4); relu is checked away from its kink.
final class GradientCheckTests: XCTestCase {
    let tol: Float = 5e-3

    func assertGradients(_ name: String, _ params: [Parameter], tol: Float? = nil, h: Float = 1e-2, _ f: () -> Variable,
                         file: StaticString = #filePath, line: UInt = #line) {
        let r = gradientCheck(params, h: h, f)
        if ProcessInfo.processInfo.environment["GC_PRINT"] != nil { print("GC \(name): \(r.maxError)") }
        XCTAssertLessThanOrEqual(r.maxError, tol ?? self.tol, "\(name): \(r)", file: file, line: line)
        XCTAssertTrue(r.maxError.isFinite, "\(name): \(r)", file: file, line: line)
    }

    override func setUp() { Tape.current.reset() }

    /// The check must fail a wrong gradient and a NaN gradient (NaN is the worst error, not skipped).
    func testCheckCatchesWrongAndNaNGradients() {
        let x = randomParameter([5], seed: 3, name: "x")
        func op(_ gradient: @escaping (Tensor) -> Tensor) -> Variable {
            Tape.current.record("test-op", inputs: [x.variable], output: x.value * 2, saved: []) { g, _ in [gradient(g)] }.sum()
        }
        XCTAssertLessThan(gradientCheck([x]) { op { $0 * 2 } }.maxError, 1e-3)
        XCTAssertGreaterThan(gradientCheck([x]) { op { $0 * 3 } }.maxError, 0.1)
        var nanAt = Tensor.zeros([5])
        nanAt[2] = .nan
        let r = gradientCheck([x]) { op { g in g * 2 + nanAt } }
        XCTAssertTrue(r.maxError.isNaN, "\(r)")
        XCTAssertFalse(r.maxError <= tol)
    }

    // MARK: arithmetic

    func testBinaryOpsEqualShapes() {
        let a = randomParameter([3, 4], seed: 1, name: "a"), b = randomUniformParameter([3, 4], seed: 2, low: 0.5, high: 2, name: "b")
        assertGradients("add", [a, b]) { projectedSum(a.variable + b.variable) }
        assertGradients("sub", [a, b]) { projectedSum(a.variable - b.variable) }
        assertGradients("mul", [a, b]) { projectedSum(a.variable * b.variable) }
        assertGradients("div", [a, b]) { projectedSum(a.variable / b.variable) }
    }

    func testBinaryOpsBroadcastingBothWays() {
        let shapes: [([Int], [Int])] = [([2, 3, 4], [3, 1]), ([4], [2, 3, 4]), ([2, 1, 4], [1, 3, 1]), ([3, 5], [5]), ([3, 5], []), ([], [2, 2])]
        for (i, (sa, sb)) in shapes.enumerated() {
            let a = randomParameter(sa, seed: UInt64(10 + i), name: "a")
            let b = randomUniformParameter(sb, seed: UInt64(20 + i), low: 0.5, high: 2, name: "b")
            assertGradients("add \(sa) \(sb)", [a, b]) { projectedSum(a.variable + b.variable) }
            assertGradients("add \(sb) \(sa)", [a, b]) { projectedSum(b.variable + a.variable) }
            assertGradients("sub \(sa) \(sb)", [a, b]) { projectedSum(a.variable - b.variable) }
            assertGradients("sub \(sb) \(sa)", [a, b]) { projectedSum(b.variable - a.variable) }
            assertGradients("mul \(sa) \(sb)", [a, b]) { projectedSum(a.variable * b.variable) }
            assertGradients("mul \(sb) \(sa)", [a, b]) { projectedSum(b.variable * a.variable) }
            assertGradients("div \(sa) \(sb)", [a, b]) { projectedSum(a.variable / b.variable) }
            assertGradients("div \(sb) \(sa)", [a, b]) { projectedSum(b.variable / (a.variable * a.variable + 1)) }
        }
    }

    func testOneSidedGradients() {
        // Only one operand needs a gradient: the op saves only what that gradient uses.
        let a = randomParameter([3, 4], seed: 3, name: "a")
        let c = Variable(randomTensor([4], seed: 4) + 3)
        assertGradients("mul const", [a]) { projectedSum(a.variable * c) }
        assertGradients("div const", [a]) { projectedSum(a.variable / c) }
        assertGradients("const div", [a]) { projectedSum(c / (a.variable * a.variable + 1)) }
        assertGradients("const sub", [a]) { projectedSum(c - a.variable) }
    }

    func testNegationAndScalarOps() {
        let a = randomParameter([2, 5], seed: 5, name: "a")
        assertGradients("neg", [a]) { projectedSum(-a.variable) }
        assertGradients("x*s", [a]) { projectedSum(a.variable * 3) }
        assertGradients("s*x", [a]) { projectedSum(-0.5 * a.variable) }
        assertGradients("x/s", [a]) { projectedSum(a.variable / 4) }
        assertGradients("x+s", [a]) { projectedSum(a.variable + 2) }
        assertGradients("x-s", [a]) { projectedSum(a.variable - 2) }
    }

    // MARK: unary

    func testUnaryOps() {
        let x = randomParameter([3, 7], seed: 6, name: "x")
        let pos = randomUniformParameter([3, 7], seed: 7, low: 0.3, high: 3, name: "pos")
        assertGradients("exp", [x]) { projectedSum(x.variable.exp()) }
        assertGradients("log", [pos]) { projectedSum(pos.variable.log()) }
        assertGradients("sqrt", [pos]) { projectedSum(pos.variable.sqrt()) }
        assertGradients("rsqrt", [pos]) { projectedSum(pos.variable.rsqrt()) }
        assertGradients("square", [x]) { projectedSum(x.variable.square()) }
        assertGradients("tanh", [x]) { projectedSum(x.variable.tanh()) }
        assertGradients("sigmoid", [x]) { projectedSum(x.variable.sigmoid()) }
        assertGradients("silu", [x]) { projectedSum(x.variable.silu()) }
        assertGradients("gelu", [x]) { projectedSum(x.variable.gelu()) }
        for p: Float in [2, 3, -1, 0.5, 1.7, -0.5] {
            assertGradients("pow \(p)", [pos]) { projectedSum(pos.variable.pow(p)) }
        }
        assertGradients("pow 3 (negative x)", [x]) { projectedSum(x.variable.pow(3)) }
    }

    func testReLUAwayFromKink() {
        // |x| ≥ 0.1 so x ± h never crosses 0.
        let base = randomUniformParameter([2, 9], seed: 8, low: 0.1, high: 2, name: "x")
        let signs = Tensor((0..<18).map { $0 % 3 == 0 ? -1 : 1 }, shape: [2, 9])
        let x = Parameter(base.value * signs, name: "x")
        assertGradients("relu", [x]) { projectedSum(x.variable.relu()) }
    }

    // MARK: reductions

    func testReductions() {
        let x = randomParameter([2, 3, 4], seed: 9, name: "x")
        assertGradients("sum", [x]) { x.variable.sum() * 0.7 }
        assertGradients("mean", [x]) { x.variable.mean() * 3 }
        for axis in -3..<3 {
            for keep in [false, true] {
                assertGradients("sum(axis: \(axis), keepDims: \(keep))", [x]) { projectedSum(x.variable.sum(axis: axis, keepDims: keep)) }
                assertGradients("mean(axis: \(axis), keepDims: \(keep))", [x]) { projectedSum(x.variable.mean(axis: axis, keepDims: keep)) }
            }
        }
    }

    // MARK: layout

    func testLayoutOps() {
        let x = randomParameter([2, 3, 4], seed: 10, name: "x")
        assertGradients("reshape", [x]) { projectedSum(x.variable.reshaped([4, -1])) }
        for axes in [[0, 1, 2], [2, 0, 1], [1, 2, 0], [0, 2, 1], [2, 1, 0]] {
            assertGradients("permute \(axes)", [x]) { projectedSum(x.variable.permuted(axes)) }
        }
        assertGradients("transpose", [x]) { projectedSum(x.variable.transposed()) }
        assertGradients("transpose(0, 2)", [x]) { projectedSum(x.variable.transposed(0, 2)) }
        for axis in 0..<3 {
            assertGradients("slice axis \(axis)", [x]) { projectedSum(x.variable.sliced(axis: axis, 1..<2)) }
        }
        assertGradients("split", [x]) {
            let parts = x.variable.split(axis: 2, sizes: [1, 3])
            return projectedSum(parts[0], seed: 1) + projectedSum(parts[1], seed: 2)
        }
        let y = randomParameter([2, 2, 4], seed: 11, name: "y")
        assertGradients("concat", [x, y]) { projectedSum(Variable.concatenate([x.variable, y.variable, x.variable], axis: 1)) }
        assertGradients("concat last axis", [x]) { projectedSum(Variable.concatenate([x.variable, x.variable.sliced(axis: 2, 0..<1)], axis: -1)) }
    }

    // MARK: indexing

    func testIndexSelectAndScatterAdd() {
        let table = randomParameter([5, 3], seed: 12, name: "table")
        assertGradients("indexSelect (repeats)", [table]) { projectedSum(table.variable.indexSelect([4, 0, 4, 2, 4])) }
        let rows = randomParameter([4, 3], seed: 13, name: "rows")
        assertGradients("scatterAdd (repeats)", [rows]) { projectedSum(rows.variable.scatterAdd(indices: [1, 3, 1, 0], shape: [5, 3])) }
    }

    // MARK: matmul

    func testMatmulAllTransposes2D() {
        let (m, k, n) = (3, 4, 5)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randomParameter(ta ? [k, m] : [m, k], seed: 14, name: "a")
            let b = randomParameter(tb ? [n, k] : [k, n], seed: 15, name: "b")
            assertGradients("matmul tA=\(ta) tB=\(tb)", [a, b]) {
                projectedSum(matmul(a.variable, b.variable, transposeA: ta, transposeB: tb))
            }
        }
    }

    func testBatchedMatmulAllTransposes() {
        let (m, k, n) = (3, 2, 4)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randomParameter([2] + (ta ? [k, m] : [m, k]), seed: 16, name: "a")
            let b = randomParameter([2] + (tb ? [n, k] : [k, n]), seed: 17, name: "b")
            assertGradients("batched tA=\(ta) tB=\(tb)", [a, b]) {
                projectedSum(matmul(a.variable, b.variable, transposeA: ta, transposeB: tb))
            }
        }
    }

    func testFoldedAndSharedOperands() {
        let (m, k, n) = (3, 2, 4)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            // Batched a against a shared 2-D b (folded into one sgemm when a is not transposed).
            let a = randomParameter([2, 2] + (ta ? [k, m] : [m, k]), seed: 18, name: "a")
            let b = randomParameter(tb ? [n, k] : [k, n], seed: 19, name: "b")
            assertGradients("folded tA=\(ta) tB=\(tb)", [a, b]) {
                projectedSum(matmul(a.variable, b.variable, transposeA: ta, transposeB: tb))
            }
            // Shared 2-D a against a batched b.
            let a2 = randomParameter(ta ? [k, m] : [m, k], seed: 20, name: "a2")
            let b2 = randomParameter([3] + (tb ? [n, k] : [k, n]), seed: 21, name: "b2")
            assertGradients("shared-a tA=\(ta) tB=\(tb)", [a2, b2]) {
                projectedSum(matmul(a2.variable, b2.variable, transposeA: ta, transposeB: tb))
            }
        }
    }

    func testLinear() {
        let x = randomParameter([2, 3, 5], seed: 22, name: "x"), w = randomParameter([4, 5], seed: 23, name: "w")
        assertGradients("linear", [x, w]) { projectedSum(linear(x.variable, w.variable)) }
        // Only W needs a gradient (x a constant input): x is saved, W is not.
        let xc = Variable(randomTensor([6, 5], seed: 24))
        assertGradients("linear dW only", [w]) { projectedSum(linear(xc, w.variable)) }
    }

    // MARK: softmax

    func testSoftmaxAndLogSoftmax() {
        let x = randomParameter([3, 6], seed: 25, name: "x")
        assertGradients("softmax", [x]) { projectedSum(x.variable.softmax()) }
        assertGradients("logSoftmax", [x]) { projectedSum(x.variable.logSoftmax()) }
        let x3 = randomParameter([2, 2, 5], seed: 26, std: 3, name: "x3")
        assertGradients("softmax rank 3", [x3]) { projectedSum(x3.variable.softmax()) }
        assertGradients("logSoftmax rank 3", [x3]) { projectedSum(x3.variable.logSoftmax()) }
    }

    func testComposite() {
        // A small attention-like block: softmax(q kᵀ / √d) v, through batched matmuls.
        let q = randomParameter([2, 3, 4], seed: 27, std: 0.5, name: "q")
        let k = randomParameter([2, 3, 4], seed: 28, std: 0.5, name: "k")
        let v = randomParameter([2, 3, 4], seed: 29, std: 0.5, name: "v")
        assertGradients("attention", [q, k, v]) {
            let s = matmul(q.variable, k.variable, transposeB: true) * 0.5
            return projectedSum(matmul(s.softmax(), v.variable))
        }
    }
}
