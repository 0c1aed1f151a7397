import Autograd
import Tensor
import TestSupport
import XCTest

final class TapeSmokeTests: XCTestCase {
    func testTwoLayerMLPGradientMatchesFiniteDifferences() {
        let w1 = randomParameter([5, 3], seed: 1, std: 0.5), w2 = randomParameter([2, 5], seed: 2, std: 0.5)
        let x = Variable(randomTensor([4, 3], seed: 3))
        let err = maxGradientError([w1, w2]) {
            linear(linear(x, w1.variable).tanh(), w2.variable).square().mean()
        }
        XCTAssertLessThan(err, 2e-3)
    }
}
