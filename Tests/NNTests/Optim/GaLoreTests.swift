import Autograd
import Foundation
@testable import NN
import Tensor
import XCTest

final class GaLoreTests: XCTestCase {
    let lr = 0.01, alpha = 0.25, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-6
    let singular: [Double] = [5, 4, 3, 2, 1, 0.5, 0.25, 0.1]

    /// ALGORITHMS.md §7 written out: given the basis P (left: U_r (m, r); right: V_r (n, r)),
    /// the moments on R and the weight after each gradient.
    private func reference(_ w0: [Double], _ grads: [[Double]], p: [Double], m: Int, n: Int, r: Int, left: Bool) -> [Double] {
        var w = w0
        let pr = left ? [r, n] : [m, r]
        var mom = [Double](repeating: 0, count: pr[0] * pr[1]), vel = mom
        for (k, g) in grads.enumerated() {
            let t = Double(k + 1)
            // R = Pᵀ G (r, n) or G P (m, r).
            let rr = left ? refMatmul(refTranspose(p, m, r), g, r, m, n) : refMatmul(g, p, m, n, r)
            if k == 0 { XCTAssertGreaterThan(rr.map(Swift.abs).min()!, 1e-3, "test data: R has no near-zero entry") }
            var nn = rr
            for i in rr.indices {
                mom[i] = b1 * mom[i] + (1 - b1) * rr[i]
                vel[i] = b2 * vel[i] + (1 - b2) * rr[i] * rr[i]
                nn[i] = mom[i] / (vel[i].squareRoot() + eps)
            }
            let step = lr * (1 - Foundation.pow(b2, t)).squareRoot() / (1 - Foundation.pow(b1, t))
            let lifted = left ? refMatmul(p, nn, m, r, n) : refMatmul(nn, refTranspose(p, n, r), m, r, n)
            for i in w.indices { w[i] = (w[i] - step * alpha * lifted[i]) * (1 - lr * wd) }
        }
        return w
    }

    private func check(m: Int, n: Int, r: Int) {
        let left = m < n
        let u = refOrthogonal(m, seed: 1), v = refOrthogonal(n, seed: 2)
        let g1 = refWithSingularValues(Array(singular.prefix(Swift.min(m, n))), u: u, v: v, m, n)
        let g2 = refWave(m * n, seed: 9)
        let w0 = refWave(m * n, seed: 4)
        let path = "layers.0.mlp.up.weight"
        let w = refParameter(w0, [m, n], name: path)
        let opt = GaLore(parameters: [(path, w)], learningRate: Float(lr), weightDecay: Float(wd),
                         options: SubspaceOptions(rank: r, gap: 200, scale: Float(alpha), eps: Float(eps)))
        for g in [g1, g2] { w.grad = refTensor(g, [m, n]); opt.step(); opt.zeroGrad() }
        let p = left ? refLeadingColumns(u, m, r) : refLeadingColumns(v, n, r)
        let expected = reference(w0, [g1, g2], p: p, m: m, n: n, r: r, left: left)
        // Compare the change of W (the part GaLore computes), relative to its size.
        let delta = zip(refDoubles(w.value), w0).map { $0 - $1 }, expectedDelta = zip(expected, w0).map { $0 - $1 }
        assertCloseRef(delta, expectedDelta, relative: 1e-4, "ΔW \(m)×\(n)")
        let state = opt.stateTensors()
        XCTAssertEqual(state["\(path).exp_avg"]?.shape, left ? [r, n] : [m, r])
        XCTAssertEqual(state["\(path).projection"]?.shape, left ? [m, r] : [n, r])
        XCTAssertEqual(opt.svdFailures, 0)
    }

    func testLeftProjectionMatchesHandComputedUpdate() { check(m: 8, n: 12, r: 3) }
    func testRightProjectionMatchesHandComputedUpdate() { check(m: 12, n: 8, r: 3) }

    func testBasisIsRefreshedFromTheGradientEveryGapSteps() {
        let (m, n, r) = (8, 12, 2)
        let w = refParameter(refWave(m * n, seed: 1), [m, n], name: "layers.0.attention.wq.weight")
        let opt = GaLore(parameters: [(w.name, w)], learningRate: 0.01, options: SubspaceOptions(rank: r, gap: 2))
        let u3 = refOrthogonal(m, seed: 5)
        let g3 = refWithSingularValues(singular, u: u3, v: refOrthogonal(n, seed: 6), m, n)
        for g in [refWave(m * n, seed: 2), refWave(m * n, seed: 3), g3] { w.grad = refTensor(g, [m, n]); opt.step() }
        // Step 3 = 1 + gap: the basis is the top-r left singular vectors of G3 (up to sign).
        let q = refDoubles(opt.stateTensors()["\(w.name).projection"]!)
        for k in 0..<r {
            let dot = (0..<m).reduce(0.0) { $0 + q[$1 * r + k] * u3[$1 * m + k] }
            XCTAssertEqual(Swift.abs(dot), 1, accuracy: 1e-5, "column \(k)")
        }
    }

    func testNonFiniteGradientKeepsTheBasisAndSkipsAWeightWithoutOne() {
        let w = refParameter(refWave(96, seed: 1), [8, 12], name: "layers.0.mlp.gate.weight"), before = refBits(w.value)
        let opt = GaLore(parameters: [(w.name, w)], learningRate: 0.01, options: SubspaceOptions(rank: 2))
        var g = refTensor(refWave(96, seed: 2), [8, 12])
        g[3, 4] = .nan
        w.grad = g
        opt.step()
        XCTAssertEqual(opt.svdFailures, 1)
        XCTAssertEqual(refBits(w.value), before, "no basis yet: no update")
        XCTAssertEqual(opt.stateTensors()["\(w.name).step"]?.item, 0, "retried at the next step")
        w.grad = refTensor(refWave(96, seed: 3), [8, 12])
        opt.step()
        XCTAssertEqual(opt.svdFailures, 1)
        XCTAssertNotEqual(refBits(w.value), before)
    }

    func testGroupsAndStateMemory() {
        // Projected: the attention matrix (12×8, right side, rank 3). AdamW: the embedding and the norm.
        let (m, n, r) = (12, 8, 3)
        let q = refParameter(refWave(m * n, seed: 1), [m, n]), e = refParameter(refWave(40, seed: 2), [10, 4])
        let norm = refParameter(refWave(8, seed: 3), [8])
        let params = [("layers.0.attention.wq.weight", q), ("embedding.weight", e), ("layers.0.attention_norm.weight", norm)]
        let before = Memory.stats.live(.optimizer)
        let opt = GaLore(parameters: params, learningRate: 0.01, options: SubspaceOptions(rank: r))
        let projected = (2 * m * r + n * r) * 4, adam = 2 * (40 + 8) * 4
        XCTAssertEqual(Memory.stats.live(.optimizer) - before, projected + adam)
        XCTAssertLessThan(2 * m * r + n * r, 2 * m * n)
        XCTAssertEqual(opt.core.states.map(\.slot.path), ["layers.0.attention.wq.weight"])
        XCTAssertTrue(opt.description.contains("on 1 matrices (rank 3), AdamW on 2 others"), opt.description)
        for (_, p) in params { p.grad = Tensor.ones(p.shape) }
        withExtendedLifetime(opt) {
            opt.step()
            XCTAssertEqual(Memory.stats.live(.optimizer) - before, projected + adam, "a refresh replaces the basis in place")
        }
    }
}
