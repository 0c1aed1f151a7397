import Autograd
import Tensor
import TestSupport
import XCTest

/// A low-rank gradient `left · rightᵀ` kept factored on its parameter (`accumulateGrad(left:right:)`):
/// every reader of `grad` sees the product, sums with other contributions stay exact, and only a
/// sole factored contribution can be taken unformed.
final class FactoredGradientTests: XCTestCase {
    let left = randomTensor([6, 3], seed: 1), right = randomTensor([5, 3], seed: 2)
    var product: Tensor { Tensor.matmul(left, right, transposeB: true) }

    func testReadingTheGradientFormsTheProduct() {
        let p = randomParameter([6, 5], seed: 3)
        p.accumulateGrad(left: left, right: right)
        assertClose(p.grad!, product, tol: 1e-6)
        XCTAssertNil(p.takeFactoredGrad(), "formed once read")
    }

    func testContributionsSumInEitherOrder() {
        let dense = randomTensor([6, 5], seed: 4)
        let a = randomParameter([6, 5], seed: 3), b = randomParameter([6, 5], seed: 3), c = randomParameter([6, 5], seed: 3)
        a.accumulateGrad(left: left, right: right); a.accumulateGrad(dense)
        b.accumulateGrad(dense); b.accumulateGrad(left: left, right: right)
        c.accumulateGrad(left: left, right: right); c.accumulateGrad(left: left, right: right)
        assertClose(a.grad!, product + dense, tol: 1e-5)
        assertClose(b.grad!, product + dense, tol: 1e-5)
        assertClose(c.grad!, product * 2, tol: 1e-5)
    }

    func testASoleFactoredContributionIsTakenUnformed() {
        let p = randomParameter([6, 5], seed: 3)
        p.accumulateGrad(left: left, right: right)
        let f = p.takeFactoredGrad()
        XCTAssertEqual(f?.left.scalars, left.scalars)
        XCTAssertEqual(f?.right.scalars, right.scalars)
        XCTAssertNil(p.grad, "taking it leaves no gradient")
        p.accumulateGrad(left: left, right: right)
        p.zeroGrad()
        XCTAssertNil(p.grad)
        XCTAssertNil(p.takeFactoredGrad(), "zeroGrad drops the factors")
    }
}
