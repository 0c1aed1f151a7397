import Autograd
import Foundation
@testable import NN
import Tensor
import XCTest

final class GrassTests: XCTestCase {
    // MARK: moment transfer

    /// ALGORITHMS.md §7 in Double. Left: m, v (r, n); right: (m, r). c (r, r).
    private func referenceTransfer(m: [Double], v: [Double], c: [Double], rows: Int, cols: Int, r: Int, left: Bool,
                                   b1: Double, b2: Double, t: Int) -> (m: [Double], v: [Double]) {
        let c1 = 1 - Foundation.pow(b1, Double(t)), c2 = 1 - Foundation.pow(b2, Double(t))
        let mh = m.map { $0 / c1 }
        let variance = zip(v, mh).map { Swift.max($0 / c2 - $1 * $1, 0) }
        let csq = c.map { $0 * $0 }
        let cm = left ? refMatmul(c, mh, r, r, cols) : refMatmul(mh, refTranspose(c, r, r), rows, r, r)
        let spread = left ? refMatmul(csq, variance, r, r, cols) : refMatmul(variance, refTranspose(csq, r, r), rows, r, r)
        return (cm.map { $0 * c1 }, zip(spread, cm).map { ($0 + $1 * $1) * c2 })
    }

    func testTransferMatchesReferenceOnBothSides() {
        // The optimizer's betas are Floats: the reference uses the same values.
        let r = 3, (b1, b2, t) = (Double(Float(0.9)), Double(Float(0.999)), 7)
        let c = refWave(r * r, seed: 3)
        for (rows, cols, left) in [(r, 5, true), (6, r, false)] {
            let m = refWave(rows * cols, seed: 1), v = refWave(rows * cols, seed: 2).map { $0 * $0 * 0.01 }
            let (tm, tv) = Grass.transferMoments(m: refTensor(m, [rows, cols]), v: refTensor(v, [rows, cols]), change: refTensor(c, [r, r]),
                                                 side: left ? .left : .right, beta1: Float(b1), beta2: Float(b2), step: t)
            let ref = referenceTransfer(m: m, v: v, c: c, rows: rows, cols: cols, r: r, left: left, b1: b1, b2: b2, t: t)
            assertCloseRef(refDoubles(tm), ref.m, relative: 1e-5, "M' \(left ? "left" : "right")")
            assertCloseRef(refDoubles(tv), ref.v, relative: 1e-5, "V' \(left ? "left" : "right")")
        }
    }

    func testTransferIsTheIdentityWhenTheBasisDoesNotMove() {
        let r = 4, (b1, b2, t) = (Float(0.9), Float(0.999), 5)
        let c1 = 1 - Foundation.pow(0.9, 5.0), c2 = 1 - Foundation.pow(0.999, 5.0)
        for (rows, cols, side) in [(r, 6, ProjectionSide.left), (7, r, .right)] {
            let m = refWave(rows * cols, seed: 4)
            // A reachable Adam state: V̂ ≥ M̂² (so the clamp is inactive).
            let v = refWave(rows * cols, seed: 5).enumerated().map { i, x in (m[i] / c1) * (m[i] / c1) * c2 * 1.5 + x * x * 1e-3 }
            let (tm, tv) = Grass.transferMoments(m: refTensor(m, [rows, cols]), v: refTensor(v, [rows, cols]), change: Tensor.eye(r),
                                                 side: side, beta1: b1, beta2: b2, step: t)
            assertCloseRef(refDoubles(tm), refDoubles(refTensor(m, [rows, cols])), relative: 1e-6, "M \(side)")
            assertCloseRef(refDoubles(tv), refDoubles(refTensor(v, [rows, cols])), relative: 1e-6, "V \(side)")
        }
    }

    func testOptimizerWithAStillBasisEqualsOneThatNeverMoves() {
        // A walk of step 0 moves nothing, so transferring at every step must change nothing.
        // β1 = β2 makes M̂ and V̂ averages with the same weights, so V̂ ≥ M̂² (Jensen) and the
        // clamp, which is not an identity, never acts.
        let (m, n) = (8, 12)
        func run(_ o: Grass.Options) -> Tensor {
            let w = refParameter(refWave(m * n, seed: 1), [m, n], name: "layers.0.mlp.up.weight")
            let opt = Grass(parameters: [(w.name, w)], learningRate: 0.01, options: o, seed: 3)
            for k in 1...4 { w.grad = refTensor(refWave(m * n, seed: Double(k) + 1), [m, n]); opt.step() }
            return w.value
        }
        let still = run(Grass.Options(subspace: SubspaceOptions(rank: 3, gap: 1, beta2: 0.9), move: .walk(step: 0)))
        let never = run(Grass.Options(subspace: SubspaceOptions(rank: 3, gap: 1000, beta2: 0.9), move: .walk(step: 0)))
        assertCloseRef(refDoubles(still), refDoubles(never), relative: 1e-5)
        let jumping = run(Grass.Options(subspace: SubspaceOptions(rank: 3, gap: 1, beta2: 0.9), move: .jump))
        XCTAssertGreaterThan(refMaxAbs(zip(refDoubles(jumping), refDoubles(never)).map { $0 - $1 }), 1e-4, "the test can fail")
    }

    // MARK: recovery scaling

    func testRecoveryScalingMatchesReferenceAndLimitsGrowth() {
        let (m, n, r) = (6, 4, 2) // left case: Q (6, 2), R and N (2, 4), per-column ratios
        let q = refLeadingColumns(refOrthogonal(m, seed: 2), m, r)
        let g = refWave(m * n, seed: 3), nn = refWave(r * n, seed: 4)
        let rr = refMatmul(refTranspose(q, m, r), g, r, m, n)
        var u = g
        let lifted = refMatmul(q, rr, m, r, n)
        for i in 0..<m {
            for j in 0..<n {
                let nj = (0..<r).reduce(0.0) { $0 + nn[$1 * n + j] * nn[$1 * n + j] }.squareRoot()
                let rj = (0..<r).reduce(0.0) { $0 + rr[$1 * n + j] * rr[$1 * n + j] }.squareRoot()
                u[i * n + j] = (g[i * n + j] - lifted[i * n + j]) * nj / (rj + 1e-8)
            }
        }
        let norm = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let args = (gradient: refTensor(g, [m, n]), basis: refTensor(q, [m, r]), projected: refTensor(rr, [r, n]), direction: refTensor(nn, [r, n]))
        let free = Grass.recoveryScaling(gradient: args.gradient, basis: args.basis, projected: args.projected,
                                         direction: args.direction, side: .left, previousNorm: 0, gamma: 1.01)
        assertCloseRef(refDoubles(free.term), u, relative: 1e-5)
        XCTAssertEqual(Double(free.norm), norm, accuracy: 1e-5 * norm)
        // Previous norm half of this one: growth limited to γ.
        let limited = Grass.recoveryScaling(gradient: args.gradient, basis: args.basis, projected: args.projected,
                                            direction: args.direction, side: .left, previousNorm: Float(norm / 2), gamma: 1.01)
        let k = 1.01 * (norm / 2) / norm
        assertCloseRef(refDoubles(limited.term), u.map { $0 * k }, relative: 1e-5)
        XCTAssertEqual(Double(limited.norm), 1.01 * norm / 2, accuracy: 1e-5 * norm)
    }

    // MARK: the optimizer

    func testFirstStepMatchesHandComputedUpdate() {
        // Right case (12×8): Q (8, r), R = G Q (12, r), per-row recovery ratios.
        let (m, n, r) = (12, 8, 3), (lr, alpha, wd, b1, b2, eps) = (0.01, 0.25, 0.1, 0.9, 0.999, 1e-6)
        let w0 = refWave(m * n, seed: 1), g = refWave(m * n, seed: 2)
        let w = refParameter(w0, [m, n], name: "layers.1.attention.wk.weight")
        let opt = Grass(parameters: [(w.name, w)], learningRate: Float(lr), weightDecay: Float(wd),
                        options: Grass.Options(subspace: SubspaceOptions(rank: r, scale: Float(alpha)), move: .jump), seed: 11)
        let q = refDoubles(opt.stateTensors()["\(w.name).projection"]!)
        XCTAssertEqual(opt.stateTensors()["\(w.name).projection"]?.shape, [n, r])
        assertCloseRef(refMatmul(refTranspose(q, n, r), q, r, n, r), refDoubles(Tensor.eye(r)), relative: 1e-5, "Haar basis is orthonormal")
        w.grad = refTensor(g, [m, n])
        opt.step()

        let rr = refMatmul(g, q, m, n, r)
        let nn = rr.map { x in (1 - b1) * x / (((1 - b2) * x * x).squareRoot() + eps) }
        let lost = zip(g, refMatmul(rr, refTranspose(q, n, r), m, r, n)).map { $0 - $1 }
        var update = refMatmul(nn, refTranspose(q, n, r), m, r, n).map { $0 * alpha }
        for i in 0..<m {
            let ni = (0..<r).reduce(0.0) { $0 + nn[i * r + $1] * nn[i * r + $1] }.squareRoot()
            let ri = (0..<r).reduce(0.0) { $0 + rr[i * r + $1] * rr[i * r + $1] }.squareRoot()
            for j in 0..<n { update[i * n + j] += lost[i * n + j] * ni / (ri + 1e-8) }
        }
        let step = lr * (1 - b2).squareRoot() / (1 - b1)
        let expected = zip(w0, update).map { ($0 - step * $1) * (1 - lr * wd) }
        assertCloseRef(zip(refDoubles(w.value), w0).map { $0 - $1 }, zip(expected, w0).map { $0 - $1 }, relative: 1e-4)
    }

    func testBasesAreReproducibleFromTheSeedAndMoveEveryGap() {
        func bases(seed: UInt64, move: Grass.Move) -> [Double] {
            let w = refParameter(refWave(96, seed: 1), [8, 12], name: "layers.0.mlp.down.weight")
            let opt = Grass(parameters: [(w.name, w)], learningRate: 0.01,
                            options: Grass.Options(subspace: SubspaceOptions(rank: 2, gap: 2), move: move), seed: seed)
            var out = refDoubles(opt.stateTensors()["\(w.name).projection"]!)
            for k in 1...3 { w.grad = refTensor(refWave(96, seed: Double(k)), [8, 12]); opt.step() }
            let q = refDoubles(opt.stateTensors()["\(w.name).projection"]!)
            assertCloseRef(refMatmul(refTranspose(q, 8, 2), q, 2, 8, 2), [1, 0, 0, 1], relative: 1e-5, "orthonormal after the move")
            out += q
            return out
        }
        for move in [Grass.Move.jump, .walk(step: 0.5)] {
            let a = bases(seed: 5, move: move), b = bases(seed: 5, move: move), c = bases(seed: 6, move: move)
            XCTAssertEqual(a, b)
            XCTAssertNotEqual(a, c)
            XCTAssertGreaterThan(refMaxAbs(zip(a.prefix(16), a.suffix(16)).map { $0 - $1 }), 1e-3, "moved at step 3")
        }
    }
}
