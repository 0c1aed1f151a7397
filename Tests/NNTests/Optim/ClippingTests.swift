import Autograd
@testable import NN
import Tensor
import XCTest

final class ClippingTests: XCTestCase {
    func testScalesToMaxNormAndReturnsThePreClipNorm() {
        let a = refParameter([0, 0], [2]), b = refParameter([0, 0, 0], [3]), c = refParameter([1], [1])
        a.grad = Tensor([3, 0]); b.grad = Tensor([0, 4, 12]) // ‖·‖ = 13; c has no gradient
        let norm = clipGradientNorm([a, b, c], maxNorm: 2)
        XCTAssertEqual(norm, 13, accuracy: 1e-5)
        XCTAssertEqual(globalGradientNorm([a, b, c]), 2, accuracy: 1e-5)
        XCTAssertEqual(a.grad!.scalars[0], 3 * 2 / 13, accuracy: 1e-6)
        XCTAssertEqual(b.grad!.scalars[2], 12 * 2 / 13, accuracy: 1e-6)
        XCTAssertNil(c.grad)
    }

    func testBelowTheThresholdNothingChanges() {
        let a = refParameter([0, 0], [2])
        a.grad = Tensor([0.3, 0.4])
        XCTAssertEqual(clipGradientNorm([a], maxNorm: 1), 0.5, accuracy: 1e-6)
        XCTAssertEqual(a.grad!.scalars, [0.3, 0.4])
    }

    func testNonFiniteNormLeavesGradientsForTheCallerToSkip() {
        let a = refParameter([0, 0], [2]), b = refParameter([0], [1])
        a.grad = Tensor([.infinity, 1]); b.grad = Tensor([5])
        XCTAssertFalse(clipGradientNorm([a, b], maxNorm: 1).isFinite)
        XCTAssertEqual(b.grad!.scalars, [5])
    }

    func testAccumulationBookkeeping() {
        var acc = GradientAccumulation(microBatches: 3)
        XCTAssertEqual(acc.lossScale, 1.0 / 3, accuracy: 1e-7)
        XCTAssertEqual((0..<6).map { _ in acc.advance() }, [false, false, true, false, false, true])
    }
}
