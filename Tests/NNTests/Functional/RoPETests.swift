import Autograd
import Foundation
@testable import NN
import Tensor
import TestSupport
import XCTest

final class RoPETests: XCTestCase {
    /// The Hugging Face formula: q·cos + rotate_half(q)·sin with cos/sin = cat(freqs, freqs).
    func testForwardMatchesHuggingFaceFormula() {
        let heads = 2, d = 8, seq = 5, batch = 2
        let rope = RotaryEmbedding(headDim: d, maxPositions: 16, theta: 10_000)
        let x = randomTensor([batch * seq, heads * d], seed: 1)
        let y = applyRotary(Variable(x), rope, heads: heads, seq: seq).value
        for row in 0..<batch * seq {
            let pos = Float(row % seq)
            for h in 0..<heads {
                for i in 0..<d {
                    let j = i % (d / 2)
                    let angle = Double(pos * (1 / Foundation.pow(Float(10_000), Float(2 * j) / Float(d))))
                    let rotated = i < d / 2 ? -x[row, h * d + i + d / 2] : x[row, h * d + i - d / 2]
                    let expected = x[row, h * d + i] * Float(cos(angle)) + rotated * Float(sin(angle))
                    XCTAssertEqual(y[row, h * d + i], expected, accuracy: 1e-5)
                }
            }
        }
    }

    func testRotationKeepsNormAndInverseUndoesIt() {
        let rope = RotaryEmbedding(headDim: 40, maxPositions: 32) // half = 20: SIMD block plus tail
        let x = randomTensor([12, 80], seed: 2)
        let y = RotaryKernel.rotate(x, cos: rope.cos, sin: rope.sin, heads: 2, seq: 6, inverse: false)
        XCTAssertEqual(y.norm(), x.norm(), accuracy: 1e-4)
        let back = RotaryKernel.rotate(y, cos: rope.cos, sin: rope.sin, heads: 2, seq: 6, inverse: true)
        for (a, b) in zip(back.scalars, x.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testGradientMatchesFiniteDifferences() {
        let rope = RotaryEmbedding(headDim: 6, maxPositions: 8)
        let x = randomParameter([6, 12], seed: 3)
        let probe = Variable(randomTensor([6, 12], seed: 4))
        let err = maxGradientError([x]) { (applyRotary(x.variable, rope, heads: 2, seq: 3) * probe).sum() }
        XCTAssertLessThan(err, 1e-2)
    }
}
