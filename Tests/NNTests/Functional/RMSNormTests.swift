import Autograd
@testable import NN
import Tensor
import TestSupport
import XCTest

final class RMSNormTests: XCTestCase {
    func testForwardMatchesFormula() {
        let x = randomTensor([3, 20], seed: 1), w = randomTensor([20], seed: 2)
        let y = rmsNorm(Variable(x), weight: Variable(w), eps: 1e-6).value
        for r in 0..<3 {
            var ms: Float = 0
            for i in 0..<20 { ms += x[r, i] * x[r, i] }
            let inv = 1 / (ms / 20 + 1e-6).squareRoot()
            for i in 0..<20 { XCTAssertEqual(y[r, i], w[i] * (x[r, i] * inv), accuracy: 1e-5) }
        }
    }

    /// Tolerance 1e-2 relative to the largest gradient (central differences, h = 1e-2, fp32).
    func testGradientMatchesFiniteDifferences() {
        // D = 19 exercises both the 16-lane path and the scalar tail.
        let x = randomParameter([4, 19], seed: 3), w = randomParameter([19], seed: 4)
        let probe = Variable(randomTensor([4, 19], seed: 5))
        let err = maxGradientError([x, w]) { (rmsNorm(x.variable, weight: w.variable, eps: 1e-6) * probe).sum() }
        XCTAssertLessThan(err, 1e-2)
    }

    func testOnlyWeightGradient() {
        let w = randomParameter([8], seed: 6)
        let x = Variable(randomTensor([2, 8], seed: 7)), probe = Variable(randomTensor([2, 8], seed: 8))
        let err = maxGradientError([w]) { (rmsNorm(x, weight: w.variable, eps: 1e-6) * probe).sum() }
        XCTAssertLessThan(err, 1e-2)
    }
}
