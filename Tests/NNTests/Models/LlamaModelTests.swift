import Autograd
import Estimators
@testable import NN
import Tensor
import TestSupport
import XCTest

final class LlamaModelTests: XCTestCase {
    func testParameterPathsOrderAndCount() {
        var rng = RNG(seed: 1)
        let model = LlamaModel(config: tinyLlamaConfig(), rng: &rng)
        let named = model.namedParameters()
        let layer = { (i: Int) in
            ["attentionNorm", "attention.wq", "attention.wk", "attention.wv", "attention.wo", "mlpNorm", "mlp.gate", "mlp.up", "mlp.down"]
                .map { "layers.\(i).\($0).weight" }
        }
        XCTAssertEqual(named.map(\.0), ["embed.weight"] + layer(0) + layer(1) + ["norm.weight", "head.weight"])
        XCTAssertEqual(named.map { $0.1.name }, named.map(\.0))
        XCTAssertEqual(model.parameterCount, model.config.parameterCount)
        XCTAssertEqual(model.head.weight.shape, [50, 16])
        XCTAssertEqual(model.embed.weight.shape, [50, 16])
        XCTAssertFalse(model.head.weight === model.embed.weight)
    }

    func testMoEParameterPaths() {
        var rng = RNG(seed: 2)
        let config = tinyLlamaConfig(moe: MoEConfig(experts: 3, topK: 2, sharedExpert: true))
        let model = LlamaModel(config: config, rng: &rng)
        let paths = model.namedParameters().map(\.0)
        XCTAssertTrue(paths.contains("layers.1.mlp.router.weight"))
        XCTAssertTrue(paths.contains("layers.0.mlp.experts.2.down.weight"))
        XCTAssertTrue(paths.contains("layers.1.mlp.shared.up.weight"))
        XCTAssertEqual(model.parameterCount, config.parameterCount)
    }

    func testLossMatchesCrossEntropyOfLogits() {
        var rng = RNG(seed: 3)
        let model = LlamaModel(config: tinyLlamaConfig(kvHeads: 1), rng: &rng)
        let tokens = randomTokenIDs(2 * 8, vocab: 50, seed: 4)
        var targets = randomTokenIDs(2 * 8, vocab: 50, seed: 5)
        targets[3] = LlamaModel.ignoreIndex
        let logits = withNoGrad { model.logits(tokens: tokens, batch: 2, seq: 8) }
        XCTAssertEqual(logits.shape, [2, 8, 50])
        let reference = crossEntropy(logits, targets: targets).value.item
        let loss = withNoGrad { model.loss(tokens: tokens, targets: targets, batch: 2, seq: 8) }
        XCTAssertEqual(loss.value.item, reference, accuracy: 1e-5)
        // Freshly initialised: close to log(vocab).
        XCTAssertEqual(loss.value.item, logf(50), accuracy: 0.1)
    }

    /// A later position never changes an earlier position's logits.
    func testCausality() {
        var rng = RNG(seed: 6)
        let model = LlamaModel(config: tinyLlamaConfig(), rng: &rng)
        var tokens = randomTokenIDs(6, vocab: 50, seed: 7)
        let before = withNoGrad { model.logits(tokens: tokens, batch: 1, seq: 6) }.value
        tokens[5] = (tokens[5] + 1) % 50
        let after = withNoGrad { model.logits(tokens: tokens, batch: 1, seq: 6) }.value
        XCTAssertEqual(maxAbsDifference(before.sliced(axis: 1, 0..<5), after.sliced(axis: 1, 0..<5)), 0)
        XCTAssertGreaterThan(maxAbsDifference(before.sliced(axis: 1, 5..<6), after.sliced(axis: 1, 5..<6)), 0)
    }

    /// Whole MoE model (routing, gates, balance loss, shared expert) against central differences on
    /// 6 elements per parameter. h = 3e-3: smaller steps drown parameters with small gradients in fp32
    /// rounding, larger ones flip expert choices. Measured worst 5e-3; tolerance 2e-2 of the largest
    /// gradient per parameter.
    func testWholeModelGradientMatchesFiniteDifferences() {
        var rng = RNG(seed: 8)
        var config = tinyLlamaConfig(moe: MoEConfig(experts: 3, topK: 2, sharedExpert: true, balanceCoefficient: 0.1))
        config.initStd = 0.3 // larger weights so that every path carries a visible gradient
        let model = LlamaModel(config: config, rng: &rng)
        let tokens = randomTokenIDs(2 * 5, vocab: 50, seed: 9), targets = randomTokenIDs(2 * 5, vocab: 50, seed: 10)
        let err = sampledGradientError(model.parameters, samples: 6, h: 3e-3) {
            model.loss(tokens: tokens, targets: targets, batch: 2, seq: 5)
        }
        XCTAssertLessThan(err, 2e-2)
    }

    func testCheckpointedBlocksGiveTheSameGradients() {
        for moe in [nil, MoEConfig(experts: 3, topK: 2, balanceCoefficient: 0.1)] {
            var rng = RNG(seed: 11)
            let model = LlamaModel(config: tinyLlamaConfig(moe: moe), rng: &rng)
            let tokens = randomTokenIDs(2 * 6, vocab: 50, seed: 12), targets = randomTokenIDs(2 * 6, vocab: 50, seed: 13)
            func gradients() -> (Float, [Tensor]) {
                model.zeroGrad()
                let loss = model.loss(tokens: tokens, targets: targets, batch: 2, seq: 6)
                loss.backward()
                return (loss.value.item, model.parameters.map { $0.grad ?? Tensor.zeros($0.shape) })
            }
            let (plainLoss, plain) = gradients()
            let plainStats = model.lastRouterStats
            model.checkpointBlocks = true
            let (ckptLoss, ckpt) = gradients()
            XCTAssertEqual(plainLoss, ckptLoss, accuracy: 1e-6)
            XCTAssertEqual(model.lastRouterStats, plainStats)
            for (a, b) in zip(plain, ckpt) { XCTAssertLessThan(maxAbsDifference(a, b), 1e-6) }
        }
    }

    func testHeadWithEstimatorTakesUnfusedPathWithSameGradients() {
        var rng = RNG(seed: 14)
        let model = LlamaModel(config: tinyLlamaConfig(), rng: &rng)
        let tokens = randomTokenIDs(8, vocab: 50, seed: 15), targets = randomTokenIDs(8, vocab: 50, seed: 16)
        func gradients() -> [Tensor] {
            model.zeroGrad()
            model.loss(tokens: tokens, targets: targets, batch: 1, seq: 8).backward()
            return model.parameters.map { $0.grad! }
        }
        let fused = gradients()
        model.assignEstimators { path, _ in path == "head" ? TaggedEstimator(path) : nil }
        let unfused = gradients()
        for (a, b) in zip(fused, unfused) { XCTAssertLessThan(maxAbsDifference(a, b), 1e-6) }
    }

    /// After the forward the head's weight gradient is live as a gradient, and the tape's saved
    /// bytes hold only the head's dh of it (B·S × hidden floats).
    func testHeadWeightGradientIsGradientMemoryNotSavedActivations() {
        var rng = RNG(seed: 17)
        let model = LlamaModel(config: tinyLlamaConfig(), rng: &rng)
        let tokens = randomTokenIDs(16, vocab: 50, seed: 18), targets = randomTokenIDs(16, vocab: 50, seed: 19)
        model.zeroGrad()
        Tape.current.reset()
        let gradientBefore = Memory.stats.live(.gradient)
        let loss = model.loss(tokens: tokens, targets: targets, batch: 2, seq: 8)
        XCTAssertEqual(Memory.stats.live(.gradient) - gradientBefore, model.head.weight.value.bytes)
        XCTAssertEqual(Tape.current.savedEntries.filter { $0.label == "head" }.map(\.bytes), [16 * 16 * 4])
        loss.backward()
        XCTAssertEqual(model.head.weight.grad?.storage.category, .gradient)
    }

    func testRouterStatsAndBalanceLossOnlyInTraining() {
        var rng = RNG(seed: 17)
        let model = LlamaModel(config: tinyLlamaConfig(moe: MoEConfig(experts: 4, topK: 2, balanceCoefficient: 0.5)), rng: &rng)
        let tokens = randomTokenIDs(12, vocab: 50, seed: 18), targets = randomTokenIDs(12, vocab: 50, seed: 19)
        let train = withNoGrad { model.loss(tokens: tokens, targets: targets, batch: 2, seq: 6) }.value.item
        XCTAssertEqual(model.lastRouterStats.map(\.path), ["layers.0.mlp", "layers.1.mlp"])
        XCTAssertEqual(model.lastRouterStats.map { $0.tokensPerExpert.reduce(0, +) }, [24, 24])
        let ce = model.lastCrossEntropy!, balance = model.lastBalanceLoss!
        XCTAssertEqual(train, ce + 0.5 * balance, accuracy: 1e-5)
        XCTAssertGreaterThan(balance, 0)
        model.eval()
        XCTAssertEqual(withNoGrad { model.loss(tokens: tokens, targets: targets, batch: 2, seq: 6) }.value.item, ce, accuracy: 1e-6)
    }
}
