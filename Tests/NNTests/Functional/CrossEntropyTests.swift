import Autograd
import Foundation
@testable import NN
import Tensor
import TestSupport
import XCTest

final class CrossEntropyTests: XCTestCase {
    /// Mean over non-ignored rows of −log_softmax(h Wᵀ)[target], from generic ops.
    func reference(_ h: Variable, _ w: Variable, _ targets: [Int32]) -> Variable {
        let logp = linear(h, w).logSoftmax()
        var pick = Tensor.zeros(logp.shape)
        let count = targets.filter { $0 != -100 }.count
        for (r, t) in targets.enumerated() where t != -100 { pick[r, Int(t)] = -1 / Float(count) }
        return (logp * Variable(pick)).sum()
    }

    func testFusedMatchesReferenceForEveryChunkSize() {
        let h = randomParameter([10, 6], seed: 1), w = randomParameter([23, 6], seed: 2)
        let targets: [Int32] = [0, 5, -100, 22, 7, 7, 1, -100, 13, 2]
        h.zeroGrad(); w.zeroGrad()
        let ref = reference(h.variable, w.variable, targets)
        ref.backward()
        let (refH, refW) = (h.grad!, w.grad!)
        for chunk in [1, 3, 10, 64] {
            h.zeroGrad(); w.zeroGrad()
            let loss = linearCrossEntropy(h.variable, weight: w.variable, targets: targets, chunkSize: chunk)
            XCTAssertEqual(loss.value.item, ref.value.item, accuracy: 1e-5, "chunk \(chunk)")
            loss.backward()
            XCTAssertLessThan(maxAbsDifference(h.grad!, refH), 1e-6, "dh, chunk \(chunk)")
            XCTAssertLessThan(maxAbsDifference(w.grad!, refW), 1e-6, "dW, chunk \(chunk)")
        }
    }

    func testUpstreamGradientScalesBoth() {
        let h = randomParameter([4, 3], seed: 3), w = randomParameter([5, 3], seed: 4)
        let targets: [Int32] = [1, 2, 3, 4]
        let err = maxGradientError([h, w]) { linearCrossEntropy(h.variable, weight: w.variable, targets: targets, chunkSize: 3) * 2.5 }
        XCTAssertLessThan(err, 1e-2)
    }

    func testPlainCrossEntropyMatchesFiniteDifferences() {
        let logits = randomParameter([5, 18], seed: 5, std: 2)
        let targets: [Int32] = [17, -100, 0, 3, 9]
        let err = maxGradientError([logits]) { crossEntropy(logits.variable, targets: targets) * 0.7 }
        XCTAssertLessThan(err, 1e-2)
    }

    func testPlainAndFusedAgree() {
        let h = randomTensor([6, 4], seed: 6), w = randomTensor([9, 4], seed: 7)
        let targets: [Int32] = [8, 0, 1, -100, 4, 4]
        let fused = linearCrossEntropy(Variable(h), weight: Variable(w), targets: targets).value.item
        let plain = crossEntropy(Variable(Tensor.matmul(h, w, transposeB: true)), targets: targets).value.item
        XCTAssertEqual(fused, plain, accuracy: 1e-5)
    }

    func testAllTargetsIgnoredGivesZeroLossAndGradient() {
        let h = randomParameter([3, 4], seed: 8), w = randomParameter([5, 4], seed: 9)
        h.zeroGrad(); w.zeroGrad()
        let loss = linearCrossEntropy(h.variable, weight: w.variable, targets: [-100, -100, -100])
        XCTAssertEqual(loss.value.item, 0)
        loss.backward()
        XCTAssertEqual(h.grad!.norm(), 0)
        XCTAssertEqual(w.grad!.norm(), 0)
    }

    func testUniformLogitsGiveLogVocab() {
        let loss = linearCrossEntropy(Variable(Tensor.zeros([4, 3])), weight: Variable(Tensor.zeros([50, 3])), targets: [0, 1, 2, 49])
        XCTAssertEqual(loss.value.item, Float(log(50.0)), accuracy: 1e-5)
    }

    /// The head's weight gradient is formed in the forward under `.gradient`, stays off the tape's
    /// saved tensors, and is handed to the parameter scaled in place (no copy of V × D).
    func testWeightGradientIsAGradientNotASavedTensor() {
        let (n, d, vocab) = (12, 8, 400)
        let h = randomParameter([n, d], seed: 10), w = randomParameter([vocab, d], seed: 11)
        var rng = RNG(seed: 12)
        let targets = (0..<n).map { _ in Int32(rng.nextInt(below: vocab)) }
        h.zeroGrad(); w.zeroGrad()
        let reference = linearCrossEntropy(h.variable, weight: w.variable, targets: targets, chunkSize: 5)
        reference.backward()
        let (refH, refW) = (h.grad!, w.grad!)
        h.zeroGrad(); w.zeroGrad()
        Tape.current.reset()
        let before = Memory.stats
        let loss = linearCrossEntropy(h.variable, weight: w.variable, targets: targets, chunkSize: 5)
        XCTAssertEqual(Tape.current.savedBytes, n * d * 4, "only dh is saved")
        XCTAssertEqual(Memory.stats.live(.gradient) - before.live(.gradient), vocab * d * 4, "dW counted as gradient")
        let (_, backward) = Memory.measure { (loss * 3).backward() }
        XCTAssertLessThan(backward.peak(.workspace) - before.live(.workspace), vocab * d * 4 / 2, "dW scaled without a copy")
        XCTAssertEqual(Memory.stats.live(.gradient) - before.live(.gradient), (vocab + n) * d * 4)
        XCTAssertLessThan(maxAbsDifference(w.grad!, refW * 3), 1e-6)
        XCTAssertLessThan(maxAbsDifference(h.grad!, refH * 3), 1e-6)
    }
}
