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

    /// Given decoded copies it may overwrite, the backward writes the gradients into them: the
    /// same bits as into fresh buffers, for every combination of gradients asked for.
    func testBackwardIntoItsInputsGivesTheSameBits() {
        let (g, gate, up) = (randomTensor([7, 37], seed: 10), randomTensor([7, 37], seed: 11, std: 2), randomTensor([7, 37], seed: 12))
        for (needGate, needUp) in [(true, true), (true, false), (false, true)] {
            let fresh = SwiGLUKernel.backward(g, gate: gate, up: needGate ? up : nil, needGate: needGate, needUp: needUp)
            let (gateCopy, upCopy) = (gate.copy(), up.copy())
            let reused = SwiGLUKernel.backward(g, gate: gateCopy, up: needGate ? upCopy : nil, needGate: needGate, needUp: needUp,
                                               overwritingInputs: true)
            XCTAssertEqual(reused.gate?.scalars.map(\.bitPattern), fresh.gate?.scalars.map(\.bitPattern), "\(needGate) \(needUp)")
            XCTAssertEqual(reused.up?.scalars.map(\.bitPattern), fresh.up?.scalars.map(\.bitPattern), "\(needGate) \(needUp)")
            XCTAssertTrue(reused.gate.map { $0.storage === gateCopy.storage } ?? true)
            XCTAssertTrue(reused.up.map { $0.storage === (needGate ? upCopy : gateCopy).storage } ?? true)
        }
    }

    /// Under a lossy codec the backward's workspace peak is the upstream gradient and the two
    /// decoded inputs, which take the gradients: three (N, F) buffers, not five.
    func testCompressedBackwardHoldsThreeBuffers() {
        let (n, f) = (64, 256)
        let gate = randomParameter([n, f], seed: 13), up = randomParameter([n, f], seed: 14)
        let probe = Variable(randomTensor([n, f], seed: 15))
        Tape.current.reset()
        let loss = Tape.current.withModuleScope(path: "mlp", codec: .int8) {
            (swiglu(gate: gate.variable, up: up.variable) * probe).sum()
        }
        let (_, stats) = Memory.measure { loss.backward() }
        let buffer = n * f * 4
        XCTAssertLessThanOrEqual(stats.peak(.workspace), 3 * buffer + buffer / 4, "peak \(stats.peak(.workspace)) for (N, F) buffers of \(buffer)")
        XCTAssertNotNil(gate.grad); XCTAssertNotNil(up.grad)
    }
}
