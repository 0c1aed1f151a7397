import Autograd
@testable import NN
import Tensor
import XCTest

final class SGDTests: XCTestCase {
    /// PyTorch's SGD (dampening 0) in Double.
    private func reference(_ w0: [Double], grads: [[Double]], lr: Double, wd: Double, mu: Double, nesterov: Bool) -> (w: [Double], b: [Double]) {
        var w = w0, b = [Double](repeating: 0, count: w0.count)
        for (k, g) in grads.enumerated() {
            for i in w.indices {
                var d = g[i] + wd * w[i]
                if mu != 0 {
                    b[i] = k == 0 ? d : mu * b[i] + d
                    d = nesterov ? d + mu * b[i] : b[i]
                }
                w[i] -= lr * d
            }
        }
        return (w, b)
    }

    private func run(momentum: Float, nesterov: Bool) {
        let w0 = refWave(21, seed: 7)
        let grads = (1...3).map { refWave(21, seed: Double($0) * 3) }
        let w = refParameter(w0, [3, 7])
        let opt = SGD(parameters: [("w", w)], learningRate: 0.1, weightDecay: 0.01,
                      options: SGD.Options(momentum: momentum, nesterov: nesterov))
        for g in grads { w.grad = refTensor(g, [3, 7]); opt.step(); opt.zeroGrad() }
        let ref = reference(w0, grads: grads, lr: 0.1, wd: 0.01, mu: Double(momentum), nesterov: nesterov)
        assertCloseRef(refDoubles(w.value), ref.w, relative: 1e-6)
        if momentum > 0 { assertCloseRef(refDoubles(opt.stateTensors()["w.momentum_buffer"]!), ref.b, relative: 1e-6) }
    }

    func testMomentumMatchesReference() { run(momentum: 0.9, nesterov: false) }
    func testNesterovMatchesReference() { run(momentum: 0.9, nesterov: true) }
    func testPlainSGDMatchesReferenceAndHasNoBuffers() {
        run(momentum: 0, nesterov: false)
        let opt = SGD(parameters: [("w", refParameter([1], [1]))], learningRate: 0.1)
        XCTAssertEqual(opt.stateTensors().keys.sorted(), ["step"])
    }
}
