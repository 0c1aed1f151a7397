import Autograd
@testable import NN
import Tensor
import XCTest

final class LOMOTests: XCTestCase {
    /// A two-layer net `mean((tanh(x W1ᵀ) W2ᵀ)²)` with W1 (6, 5), W2 (3, 6).
    private func makeNet(seed: Double) -> [(String, Parameter)] {
        [("w1", refParameter(refWave(30, seed: seed), [6, 5], name: "w1")), ("w2", refParameter(refWave(18, seed: seed + 1), [3, 6], name: "w2"))]
    }

    private func loss(_ ps: [(String, Parameter)], batch: Double) -> Variable {
        let x = Variable(refTensor(refWave(20, seed: batch), [4, 5]))
        return linear(linear(x, ps[0].1.variable).tanh(), ps[1].1.variable).square().mean()
    }

    func testEqualsSGDWithoutClipping() {
        let a = makeNet(seed: 1), b = makeNet(seed: 1)
        let sgd = SGD(parameters: a, learningRate: 0.1, weightDecay: 0.01)
        let lomo = LOMO(parameters: b, learningRate: 0.1, weightDecay: 0.01)
        XCTAssertTrue(lomo.updatesDuringBackward)
        for k in 1...3 {
            loss(a, batch: Double(k)).backward()
            sgd.step(); sgd.zeroGrad()
            loss(b, batch: Double(k)).backward()
            XCTAssertTrue(b.allSatisfy { $0.1.grad == nil }, "LOMO frees every gradient inside the backward")
            lomo.step()
        }
        for (pa, pb) in zip(a, b) { assertCloseRef(refDoubles(pb.1.value), refDoubles(pa.1.value), relative: 1e-6, pa.0) }
        XCTAssertNotEqual(refBits(b[0].1.value), refBits(refParameter(refWave(30, seed: 1), [6, 5]).value), "the weights moved")
        XCTAssertEqual(lomo.stepCount, 3)
    }

    func testNoFullSetOfGradientsIsEverAlive() {
        let ps = makeNet(seed: 2)
        let lomo = LOMO(parameters: ps, learningRate: 0.1)
        let l = loss(ps, batch: 1)
        let before = Memory.stats.live(.gradient)
        let peak = Memory.measure { l.backward() }.stats.peak(.gradient) - before
        // One gradient at a time: at most the larger weight (W1, 30 floats), never W1 + W2 (48 floats).
        XCTAssertLessThanOrEqual(peak, 30 * 4)
        XCTAssertGreaterThan(peak, 0)
        withExtendedLifetime(lomo) {}
    }

    func testClippedLOMOEqualsClippedSGD() {
        let a = makeNet(seed: 3), b = makeNet(seed: 3)
        let sgd = SGD(parameters: a, learningRate: 0.5)
        let lomo = LOMO(parameters: b, learningRate: 0.5)
        loss(a, batch: 1).backward()
        let norm = clipGradientNorm(a.map(\.1), maxNorm: 0.01)
        sgd.step()
        let measured = lomo.measureGradientNorm(maxNorm: 0.01) { loss(b, batch: 1).backward() }
        XCTAssertEqual(measured, norm, accuracy: 1e-6 * norm)
        XCTAssertGreaterThan(norm, 0.01, "the test must clip")
        XCTAssertEqual(refBits(b[0].1.value), refBits(makeNet(seed: 3)[0].1.value), "measuring does not update")
        loss(b, batch: 1).backward()
        lomo.step()
        for (pa, pb) in zip(a, b) { assertCloseRef(refDoubles(pb.1.value), refDoubles(pa.1.value), relative: 1e-6, pa.0) }
    }

    func testDetachedLOMOUpdatesInStep() {
        let a = makeNet(seed: 4), b = makeNet(seed: 4)
        let sgd = SGD(parameters: a, learningRate: 0.1)
        let lomo = LOMO(parameters: b, learningRate: 0.1)
        lomo.detach()
        XCTAssertFalse(lomo.updatesDuringBackward)
        loss(a, batch: 2).backward(); sgd.step()
        loss(b, batch: 2).backward()
        XCTAssertNotNil(b[0].1.grad)
        lomo.step()
        for (pa, pb) in zip(a, b) { assertCloseRef(refDoubles(pb.1.value), refDoubles(pa.1.value), relative: 1e-6, pa.0) }
    }
}
