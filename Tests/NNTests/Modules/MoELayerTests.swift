import Autograd
@testable import NN
import Tensor
import TestSupport
import XCTest

final class MoELayerTests: XCTestCase {
    /// Output and auxiliary loss together, through routing and gates into the router.
    /// Router weights have std 1 so that ±3e-3 perturbations never change the chosen experts
    /// (measured error 9e-4); tolerance 1e-2 of the largest gradient.
    func testGradientThroughExpertsGatesAndRouter() {
        var rng = RNG(seed: 4)
        let moe = MixtureOfExperts(dim: 6, hidden: 5, experts: 4, topK: 2, sharedExpert: true, std: 0.5, rng: &rng)
        moe.router.weight.value = Tensor.randomNormal([4, 6], std: 1, rng: &rng)
        let x = randomParameter([7, 6], seed: 5), probe = Variable(randomTensor([7, 6], seed: 6))
        let err = maxGradientError(moe.parameters + [x], h: 3e-3) {
            let (out, aux) = moe.forward(x.variable)
            return (out * probe).sum() + aux! * 0.5
        }
        XCTAssertLessThan(err, 1e-2)
        let stats = moe.lastStats!
        XCTAssertEqual(stats.tokensPerExpert.reduce(0, +), 14)
        XCTAssertEqual(stats.meanProbability.reduce(0, +), 1, accuracy: 1e-5)
    }

    func testTopOneMatchesExpertScaledByOne() {
        // With k = 1 the renormalised gate is 1, so each token gets exactly its expert's output.
        var rng = RNG(seed: 7)
        let moe = MixtureOfExperts(dim: 4, hidden: 3, experts: 3, topK: 1, rng: &rng)
        let x = randomTensor([5, 4], seed: 8)
        let out = moe(Variable(x)).value
        let choice = topKGates(Variable(Tensor.matmul(x, moe.router.weight.value, transposeB: true).softmax()), k: 1).routing.choice
        for t in 0..<5 {
            let expected = moe.experts[choice[t]](Variable(x.sliced(axis: 0, t..<t + 1))).value
            for i in 0..<4 { XCTAssertEqual(out[t, i], expected[0, i], accuracy: 1e-6) }
        }
    }
}
