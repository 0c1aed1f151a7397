import Autograd
import Foundation
@testable import NN
import Tensor
import XCTest

final class AdamWTests: XCTestCase {
    /// PyTorch's AdamW written out in Double for one tensor. The betas default to the Float values
    /// the optimizer holds (1 − Float(0.999) differs from 0.001 by 1.3e-5 relative).
    struct Reference {
        var w: [Double], m: [Double], v: [Double]
        var t = 0
        init(_ w: [Double]) { self.w = w; m = .init(repeating: 0, count: w.count); v = m }
        mutating func step(_ g: [Double], lr: Double, wd: Double, b1: Double = Double(Float(0.9)), b2: Double = Double(Float(0.999)), eps: Double = Double(Float(1e-8))) {
            t += 1
            let c1 = 1 - Foundation.pow(b1, Double(t)), c2 = 1 - Foundation.pow(b2, Double(t))
            for i in w.indices {
                w[i] *= 1 - lr * wd
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                w[i] -= lr / c1 * m[i] / (v[i].squareRoot() / c2.squareRoot() + eps)
            }
        }
    }

    func testThreeStepsMatchReference() {
        // 7×5 = 35 elements: two full SIMD blocks plus a tail; the vector has a per-path lr scale and no decay.
        let w0 = refWave(35, seed: 1), b0 = refWave(3, seed: 2)
        let w = refParameter(w0, [7, 5], name: "w"), b = refParameter(b0, [3], name: "b")
        var groups = ParameterGroups()
        groups.rules.append(.init("b", learningRateScale: 0.5, weightDecay: 0))
        let opt = AdamW(parameters: [("w", w), ("b", b)], learningRate: 0.01, weightDecay: 0.1, groups: groups)
        var rw = Reference(w0), rb = Reference(b0)
        for k in 1...3 {
            let gw = refWave(35, seed: Double(k) + 10), gb = refWave(3, seed: Double(k) + 20)
            w.grad = refTensor(gw, [7, 5]); b.grad = refTensor(gb, [3])
            let storage = ObjectIdentifier(w.value.storage)
            opt.step()
            XCTAssertEqual(ObjectIdentifier(w.value.storage), storage, "the update must be in place")
            opt.zeroGrad()
            XCTAssertNil(w.grad)
            rw.step(gw, lr: 0.01, wd: 0.1)
            rb.step(gb, lr: 0.005, wd: 0)
            assertCloseRef(refDoubles(w.value), rw.w, relative: 2e-6, "w after step \(k)")
            assertCloseRef(refDoubles(b.value), rb.w, relative: 2e-6, "b after step \(k)")
        }
        let state = opt.stateTensors()
        assertCloseRef(refDoubles(state["w.exp_avg"]!), rw.m, relative: 2e-6)
        assertCloseRef(refDoubles(state["w.exp_avg_sq"]!), rw.v, relative: 2e-6)
        XCTAssertEqual(state["step"]?.item, 3)
        XCTAssertEqual(state["b.step"]?.item, 3)
    }

    func testParameterWithoutGradientIsLeftAlone() {
        let w = refParameter(refWave(6, seed: 3), [2, 3]), before = refBits(w.value)
        let opt = AdamW(parameters: [("w", w)], learningRate: 0.1, weightDecay: 0.5)
        opt.step()
        XCTAssertEqual(refBits(w.value), before)
        XCTAssertEqual(opt.stateTensors()["w.step"]?.item, 0)
        XCTAssertEqual(opt.stepCount, 1)
    }

    func testFrozenParameterGetsNoStateAndNoUpdate() {
        let w = refParameter(refWave(6, seed: 3), [2, 3]), e = refParameter(refWave(4, seed: 4), [4])
        let before = refBits(e.value)
        let opt = AdamW(parameters: [("w", w), ("embed", e)], learningRate: 0.1,
                        groups: ParameterGroups(rules: [.init("emb*", frozen: true)]))
        e.grad = Tensor.ones([4]); w.grad = Tensor.ones([2, 3])
        opt.step()
        XCTAssertEqual(refBits(e.value), before)
        XCTAssertNil(opt.stateTensors()["embed.exp_avg"])
        opt.zeroGrad()
        XCTAssertNil(e.grad, "zeroGrad clears frozen parameters' gradients too")
    }

    func testStateIsTwiceTheParameterBytesUnderOptimizer() {
        let w = refParameter(refWave(96, seed: 5), [8, 12]), b = refParameter(refWave(8, seed: 6), [8])
        let before = Memory.stats.live(.optimizer)
        let opt = AdamW(parameters: [("w", w), ("b", b)], learningRate: 0.01)
        XCTAssertEqual(Memory.stats.live(.optimizer) - before, 2 * (96 + 8) * 4)
        w.grad = Tensor.ones([8, 12]); b.grad = Tensor.ones([8])
        withExtendedLifetime(opt) {
            opt.step()
            XCTAssertEqual(Memory.stats.live(.optimizer) - before, 2 * (96 + 8) * 4, "stepping allocates no lasting state")
        }
    }
}
