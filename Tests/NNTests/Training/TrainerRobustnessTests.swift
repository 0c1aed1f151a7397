import Autograd
import Estimators
import Foundation
@testable import NN
import Tensor
import TestSupport
import XCTest

/// The trainer's defences: a non-finite gradient norm skips the update; clipping GradLite's
/// error-feedback gradient scales the one buffer it shares with the estimator; GaLore leaves the
/// MoE router to AdamW; the refusal of NaN in comparison helpers.
final class TrainerRobustnessTests: XCTestCase {
    func trainer(_ config: LlamaConfig = tinyLlamaConfig(), estimators: String = "default=exact",
                 optimizer: String = "adamw", clip: Float = 1) throws -> Trainer {
        var rng = RNG(seed: 7)
        let model = LlamaModel(config: config, rng: &rng)
        let assignment = try EstimatorAssignment(parsing: estimators)
        model.assignEstimators { path, layer in
            path == "head" ? nil : assignment.estimator(forPath: path, weightShape: layer.weight.shape, seed: 1)
        }
        var options = TrainingOptions()
        options.batch = 2; options.seq = 8; options.steps = 10; options.warmup = 0; options.clip = clip
        let opt = try OptimizerSpec(parsing: optimizer).make(parameters: model.namedParameters(), learningRate: 1e-2,
                                                             weightDecay: 0, seed: 0)
        return Trainer(model: model, optimizer: opt, data: TokenDataset(tokens: randomTokenIDs(2000, vocab: 50, seed: 8)),
                       options: options)
    }

    func weights(_ model: LlamaModel) -> [[UInt32]] { model.namedParameters().map { $0.1.value.scalars.map(\.bitPattern) } }

    func testStepWithNonFiniteGradientNormIsNotApplied() throws {
        for clip: Float in [0, 1] {
            let t = try trainer(clip: clip)
            _ = t.trainStep()
            let before = weights(t.model), steps = t.optimizer.stepCount
            let poisoned = t.model.layers[0].mlp.forwardParameter
            poisoned.onGradientComplete { $0.grad = Tensor(shape: $0.shape, repeating: .infinity) }
            let m = t.trainStep()
            XCTAssertEqual(m.skipped, true, "clip \(clip)")
            XCTAssertFalse(m.gradNorm!.isFinite)
            XCTAssertEqual(weights(t.model), before, "a skipped step changes no weight (clip \(clip))")
            XCTAssertEqual(t.optimizer.stepCount, steps)
            XCTAssertTrue(t.model.namedParameters().allSatisfy { $0.1.grad == nil }, "gradients are dropped")
            poisoned.removeGradientHooks()
            let next = t.trainStep()
            XCTAssertNil(next.skipped)
            XCTAssertNotEqual(weights(t.model), before)
        }
    }

    /// LOMO with clipping measures the norm first and skips the updating backward when it is not finite.
    func testFusedOptimizerSkipsTheUpdateOnANonFiniteNorm() throws {
        let t = try trainer(optimizer: "lomo", clip: 1)
        let before = weights(t.model)
        // A NaN weight the loss reads makes every gradient NaN in the measuring pass.
        t.model.layers[1].attention.wq.weight.value[0, 0] = .nan
        var expected = before
        expected[t.model.namedParameters().firstIndex { $0.0 == "layers.1.attention.wq.weight" }!][0] = Float.nan.bitPattern
        let m = t.trainStep()
        XCTAssertEqual(m.skipped, true)
        XCTAssertEqual(weights(t.model), expected, "no weight was updated")
    }

    /// With error feedback the gradient *is* the memory H: global-norm clipping scales that one
    /// buffer in place, so no second m×n buffer appears (the gradient peak equals exact's).
    func testClippingErrorFeedbackGradientsKeepsOneBuffer() throws {
        let t = try trainer(estimators: "default=exact; layers.*.mlp.*=gradlite(rank:4,feedback:on)", clip: 1e-4)
        let layer = t.model.layers[0].mlp as! SwiGLUMLP
        let estimator = layer.up.estimator as! GradLiteEstimator
        let batch = t.data.batch(size: 2, seq: 8, split: .train, rng: &t.dataRNG)
        t.model.loss(tokens: batch.inputs, targets: batch.targets, batch: 2, seq: 8).backward()
        let params = t.model.parameters
        let before = layer.up.weight.grad!.scalars
        let norm = clipGradientNorm(params, maxNorm: 1e-4)
        XCTAssertGreaterThan(norm, 1e-4, "the clip must act for this test")
        XCTAssertTrue(layer.up.weight.grad!.storage === estimator.memory!.storage, "clipping copied the error-feedback buffer")
        let scale = 1e-4 / (norm + 1e-6)
        XCTAssertEqual(Double(layer.up.weight.grad!.scalars[3]), Double(before[3] * scale), accuracy: 1e-9)
        t.optimizer.zeroGrad()

        let exact = try trainer(clip: 1e-4)
        let ef = try trainer(estimators: "default=exact; layers.*.mlp.*=gradlite(rank:4,feedback:on)", clip: 1e-4)
        for _ in 0..<2 { _ = exact.trainStep(); _ = ef.trainStep() }
        XCTAssertLessThanOrEqual(ef.trainStep().peakMemory["gradient"]!, exact.trainStep().peakMemory["gradient"]!)
    }

    /// The router (experts × dim) keeps AdamW under GaLore; the experts are projected.
    func testGaLoreDoesNotProjectTheRouter() throws {
        let t = try trainer(tinyLlamaConfig(moe: MoEConfig(experts: 4, topK: 2)), optimizer: "galore(rank:2)")
        let keys = t.optimizer.stateTensors().keys
        XCTAssertFalse(keys.contains("layers.0.mlp.router.weight.projection"))
        XCTAssertEqual(t.optimizer.stateTensors()["layers.0.mlp.router.weight.exp_avg"]?.shape, [4, 16])
        XCTAssertTrue(keys.contains("layers.0.mlp.experts.1.up.weight.projection"))
    }

    func testReferenceComparisonFailsOnNaN() {
        XCTAssertTrue(refRelativeError([1, .nan], [1, 2]).isNaN)
        XCTAssertTrue(refRelativeError([1, 2], [1, .nan]).isNaN)
        XCTAssertEqual(refRelativeError([1, 2], [1, 2]), 0)
        let p = randomParameter([3], seed: 1)
        let error = sampledGradientError([p], samples: 3) {
            Tape.current.record("nan-grad", inputs: [p.variable], output: p.value, saved: []) { g, _ in [g * .nan] }.sum()
        }
        XCTAssertTrue(error.isNaN)
    }
}

private extension FeedForwardLayer {
    /// A parameter of this MLP that every token's loss reaches.
    var forwardParameter: Parameter { (self as! SwiGLUMLP).gate.weight }
}
