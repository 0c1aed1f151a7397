import Autograd
@testable import NN
import Tensor
import TestSupport
import XCTest

/// The fused head + loss chunk is sized from a workspace budget (`defaultLossChunkSize`).
final class LossChunkTests: XCTestCase {
    func testDefaultChunkFollowsTheBudget() throws {
        let small = try LlamaConfig.preset("llama-20m"), large = try LlamaConfig.preset("llama-130m")
        XCTAssertEqual(small.defaultLossChunkSize(tokens: 8 * 256), 128)
        XCTAssertEqual(large.defaultLossChunkSize(tokens: 4 * 1024), 1024)
        XCTAssertEqual(tinyLlamaConfig().defaultLossChunkSize(tokens: 64), 32, "clamped to 32 rows")
        // The chunk's logits stay within a ninth of the estimated rest of a lean step.
        for (c, n) in [(small, 2048), (large, 4096), (small, 512)] {
            let rows = c.defaultLossChunkSize(tokens: n)
            XCTAssertEqual(rows % 32, 0)
            let rest = 4 * c.parameterCount + 4 * c.vocabSize * c.hiddenSize + 24 * n * c.numLayers * c.hiddenSize
            XCTAssertLessThanOrEqual(rows * c.vocabSize * 4, max(rest / 9, 32 * c.vocabSize * 4))
        }
    }

    func testChunkSizeDoesNotChangeTheLoss() {
        var rng = RNG(seed: 3)
        let model = LlamaModel(config: tinyLlamaConfig(), rng: &rng)
        let tokens = randomTokenIDs(4 * 24, vocab: 50, seed: 1), targets = randomTokenIDs(4 * 24, vocab: 50, seed: 2)
        var losses: [Float] = [], heads: [Tensor] = []
        for chunk in [nil, 96, 7] as [Int?] {
            model.lossChunkSize = chunk
            model.head.weight.zeroGrad()
            let loss = model.loss(tokens: tokens, targets: targets, batch: 4, seq: 24)
            losses.append(loss.value.item)
            loss.backward()
            heads.append(model.head.weight.grad!)
        }
        for i in 1..<3 {
            XCTAssertEqual(losses[i], losses[0], accuracy: 1e-5 * losses[0])
            XCTAssertLessThan(maxAbsDifference(heads[i], heads[0]), 1e-6)
        }
    }
}
