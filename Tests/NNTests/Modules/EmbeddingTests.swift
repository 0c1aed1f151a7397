import Autograd
@testable import NN
import Tensor
import TestSupport
import XCTest

final class EmbeddingTests: XCTestCase {
    func testLooksUpRows() {
        var rng = RNG(seed: 1)
        let embed = Embedding(vocabSize: 10, dim: 3, rng: &rng)
        let out = embed([4, 0, 4]).value
        XCTAssertEqual(out.shape, [3, 3])
        for i in 0..<3 {
            XCTAssertEqual(out[0, i], embed.weight.value[4, i])
            XCTAssertEqual(out[1, i], embed.weight.value[0, i])
        }
    }

    func testRepeatedTokensAccumulateGradient() {
        var rng = RNG(seed: 2)
        let embed = Embedding(vocabSize: 6, dim: 4, std: 1, rng: &rng)
        let probe = Variable(randomTensor([5, 4], seed: 3))
        let err = maxGradientError(embed.parameters) { (embed([1, 3, 1, 5, 1]) * probe).sum() }
        XCTAssertLessThan(err, 1e-2)
    }
}
