import Autograd
@testable import NN
import Tensor
import TestSupport
import XCTest

final class SwiGLUTests: XCTestCase {
    func testForwardIsSiluTimesUp() {
        let g = randomTensor([3, 21], seed: 1), u = randomTensor([3, 21], seed: 2)
        let y = swiglu(gate: Variable(g), up: Variable(u)).value
        let expected = g.silu() * u
        for (a, b) in zip(y.scalars, expected.scalars) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }

    func testGradientMatchesFiniteDifferences() {
        let g = randomParameter([3, 19], seed: 3, std: 2), u = randomParameter([3, 19], seed: 4)
        let probe = Variable(randomTensor([3, 19], seed: 5))
        let err = maxGradientError([g, u]) { (swiglu(gate: g.variable, up: u.variable) * probe).sum() }
        XCTAssertLessThan(err, 1e-2)
    }

    func testGradientOfUpOnly() {
        let u = randomParameter([2, 5], seed: 6)
        let g = Variable(randomTensor([2, 5], seed: 7)), probe = Variable(randomTensor([2, 5], seed: 8))
        let err = maxGradientError([u]) { (swiglu(gate: g, up: u.variable) * probe).sum() }
        XCTAssertLessThan(err, 1e-2)
    }
}
