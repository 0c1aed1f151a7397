import Autograd
import Estimators
@testable import NN
import Tensor
import XCTest

/// A tiny LLaMA on random tokens with the optimizer `spec`, driven by the real `Trainer`.
func makeTinyTrainer(optimizer spec: String, estimators: String = "default=exact", clip: Float = 0, steps: Int = 3,
                     config: LlamaConfig = tinyLlamaConfig(), batch: Int = 2, seq: Int = 16, seed: UInt64 = 5) throws -> Trainer {
    var rng = RNG(seed: seed)
    let model = LlamaModel(config: config, rng: &rng)
    let assignment = try EstimatorAssignment(parsing: estimators)
    model.assignEstimators { path, layer in
        path == "head" ? nil : assignment.estimator(forPath: path, weightShape: layer.weight.shape, seed: seed)
    }
    var options = TrainingOptions()
    options.batch = batch; options.seq = seq; options.steps = steps; options.warmup = 0
    options.learningRate = 1e-2; options.weightDecay = 0.01; options.clip = clip; options.seed = seed
    let optimizer = try OptimizerSpec(parsing: spec).make(parameters: model.namedParameters(), learningRate: options.learningRate,
                                                          weightDecay: options.weightDecay, seed: seed)
    let tokens = randomTokenIDs(batch * seq * 64, vocab: config.vocabSize, seed: seed)
    return Trainer(model: model, optimizer: optimizer, data: TokenDataset(tokens: tokens), options: options)
}

/// Layer-wise updates (ALGORITHMS.md §12): the optimizer's own step, applied in the gradient-complete
/// hooks, with no full set of gradients alive; clipped steps measure the norm in a pass that leaves
/// the estimators untouched.
final class LayerwiseTests: XCTestCase {
    private let optimizers = ["adamw", "sgd(momentum:0.9)", "galore(rank:4,gap:2)", "grasswalk(rank:4,gap:2)",
                              "grassjump(rank:4,gap:2)", "adamw(states:int8)", "galore(rank:4,gap:2,states:int8)"]

    /// Adds `layerwise:on` to a spec.
    private func layerwise(_ spec: String) -> String {
        spec.hasSuffix(")") ? String(spec.dropLast()) + ",layerwise:on)" : spec + "(layerwise:on)"
    }

    private func assertSameParameters(_ a: Trainer, _ b: Trainer, relative tol: Double, _ message: String,
                                      file: StaticString = #filePath, line: UInt = #line) {
        for ((path, pa), (_, pb)) in zip(a.model.namedParameters(), b.model.namedParameters()) {
            assertCloseRef(refDoubles(pb.value), refDoubles(pa.value), relative: tol, "\(message) \(path)", file: file, line: line)
        }
    }

    func testLayerwiseStepEqualsTheOptimizerStep() throws {
        // 8-bit states need tensors of 4096 values: a wider model for those specs.
        let wide = LlamaConfig(hiddenSize: 64, intermediateSize: 96, numHeads: 2, numLayers: 1, vocabSize: 64, maxSequenceLength: 32)
        for spec in optimizers {
            for clip: Float in [0, 0.05] {
                let config = spec.contains("int8") ? wide : tinyLlamaConfig()
                let plain = try makeTinyTrainer(optimizer: spec, clip: clip, config: config)
                let fused = try makeTinyTrainer(optimizer: layerwise(spec), clip: clip, config: config)
                XCTAssertFalse(plain.optimizer.updatesDuringBackward, spec)
                XCTAssertTrue(fused.optimizer.updatesDuringBackward, spec)
                for k in 1...3 { // crosses a basis refresh / move (gap 2)
                    let a = plain.trainStep(), b = fused.trainStep()
                    XCTAssertEqual(a.loss, b.loss, accuracy: 1e-5 * a.loss, "\(spec) clip \(clip) step \(k): the same weights went in")
                    if clip > 0 {
                        XCTAssertGreaterThan(a.gradNorm!, clip, "the test must clip")
                        XCTAssertEqual(b.gradNorm!, a.gradNorm!, accuracy: 1e-5 * a.gradNorm!, "\(spec): measured norm")
                    }
                }
                assertSameParameters(plain, fused, relative: 1e-5, "\(spec) clip \(clip)")
                XCTAssertEqual(fused.optimizer.stepCount, 3, spec)
                XCTAssertNotEqual(refBits(fused.model.head.weight.value), refBits(try makeTinyTrainer(optimizer: spec, config: config)
                    .model.head.weight.value), "\(spec): the weights moved")
                assertCloseState(plain.optimizer.stateTensors(), fused.optimizer.stateTensors(), spec)
            }
        }
    }

    func testNoFullSetOfGradientsIsAlive() throws {
        let config = LlamaConfig(hiddenSize: 64, intermediateSize: 96, numHeads: 2, numLayers: 2, vocabSize: 512, maxSequenceLength: 32)
        let plain = try makeTinyTrainer(optimizer: "adamw", config: config)
        let fused = try makeTinyTrainer(optimizer: "adamw(layerwise:on)", config: config)
        let a = plain.trainStep(), b = fused.trainStep()
        let parameterBytes = plain.model.parameters.reduce(0) { $0 + $1.value.bytes }
        let largest = plain.model.parameters.map(\.value.bytes).max()!
        XCTAssertGreaterThanOrEqual(a.peakMemory["gradient"]!, parameterBytes, "a full set of gradients")
        // Layer-wise: the head's weight gradient (formed in the forward) and the gradients in flight.
        XCTAssertLessThanOrEqual(b.peakMemory["gradient"]!, 2 * largest)
        XCTAssertLessThan(b.peakMemory["gradient"]!, parameterBytes / 2)
        XCTAssertTrue(fused.model.parameters.allSatisfy { $0.grad == nil }, "every gradient freed in its hook")
    }

    func testLayerwiseWithCheckpointedBlocksEqualsPlainStep() throws {
        let plain = try makeTinyTrainer(optimizer: "adamw")
        let fused = try makeTinyTrainer(optimizer: "adamw(layerwise:on)")
        fused.model.checkpointBlocks = true
        for _ in 1...2 { _ = plain.trainStep(); _ = fused.trainStep() }
        assertSameParameters(plain, fused, relative: 1e-5, "checkpointed blocks")
    }

    /// Every estimator's state as bit patterns, by module path and key.
    private func estimatorBits(_ model: LlamaModel) -> [String: [UInt32]] {
        var out: [String: [UInt32]] = [:]
        for (path, state) in TrainingState.estimatorState(of: model) { for (k, t) in state { out["\(path).\(k)"] = refBits(t) } }
        return out
    }

    func testMeasuringPassLeavesEstimatorStateAsOneRealPass() throws {
        // Error feedback (H updated in each backward), an optimal estimator (Σ updated in each
        // backward) and random projections (step counters keying the draws).
        let estimators = "default=exact; layers.*.mlp.*=gradlite(rank:4,feedback:on,refresh:1); layers.*.attention.wq=optimal(rank:4,refresh:1); layers.*.attention.wv=haar(rank:4)"
        // Estimator state after a step depends only on the forward and backward of its batch, so
        // one step of plain AdamW (a single pass) is the reference for every optimizer.
        let reference = try makeTinyTrainer(optimizer: "adamw", estimators: estimators, clip: 0.05)
        XCTAssertGreaterThan(reference.trainStep().gradNorm!, 0.05, "the test must clip")
        let expected = estimatorBits(reference.model)
        for spec in ["adamw(layerwise:on)", "galore(rank:4,gap:1,layerwise:on)", "lomo", "adalomo"] {
            let trainer = try makeTinyTrainer(optimizer: spec, estimators: estimators, clip: 0.05)
            _ = trainer.trainStep() // a measuring pass, then the updating one
            let got = estimatorBits(trainer.model)
            XCTAssertEqual(got.keys.sorted(), expected.keys.sorted(), spec)
            XCTAssertFalse(expected.isEmpty)
            for (k, bits) in expected { XCTAssertEqual(got[k], bits, "\(spec): \(k)") }
        }
    }

    func testGradientAccumulationWithLayerwiseIsRefused() throws {
        var config = RunConfiguration()
        config.optimizer = "galore(rank:64,layerwise:on)"
        config.training.gradAccum = 2
        XCTAssertThrowsError(try PretrainSession(config)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("layerwise:on") && text.contains("--grad-accum 2"), text)
            XCTAssertFalse(text.contains("\n"))
        }
    }
}

/// Same keys, values equal to `tol` relative to each tensor's largest magnitude.
func assertCloseState(_ a: [String: Tensor], _ b: [String: Tensor], _ spec: String, relative tol: Double = 1e-4,
                      file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.keys.sorted(), b.keys.sorted(), spec, file: file, line: line)
    for (k, t) in a {
        guard let u = b[k] else { continue }
        assertCloseRef(refDoubles(u), refDoubles(t), relative: tol, "\(spec) \(k)", file: file, line: line)
    }
}
