import Autograd
import Estimators
import Foundation
@testable import NN
import Tensor
import TestSupport
import XCTest

/// The memory pre-flight against the allocator: for each configuration the estimate must cover
/// the measured per-step peak (total bytes) and overshoot it by at most 60% (it is an upper bound:
/// activations and gradients never peak at the same moment).
final class MemoryEstimateTests: XCTestCase {
    func config(moe: MoEConfig? = nil) -> LlamaConfig {
        LlamaConfig(hiddenSize: 64, intermediateSize: 172, numHeads: 4, numLayers: 2, vocabSize: 512,
                    maxSequenceLength: 64, moe: moe)
    }

    /// Peak total bytes of the allocator over three training steps, and the estimate.
    func measure(_ c: LlamaConfig, estimators: String = "default=exact", activations: String = "default=fp32",
                 optimizer: String = "adamw", clip: Float = 1,
                 checkpointBlocks: Bool = false) throws -> (measured: Int, estimate: MemoryEstimate) {
        let (batch, seq) = (4, 64)
        let assignment = try EstimatorAssignment(parsing: estimators)
        let codecs = try ActivationCodecAssignment(parsing: activations)
        let spec = try OptimizerSpec(parsing: optimizer)
        let estimate = try MemoryEstimate.training(model: c, batch: batch, seq: seq, estimators: assignment, codecs: codecs,
                                                   optimizer: spec, checkpointBlocks: checkpointBlocks)
        Memory.releaseCache()
        let before = Memory.stats.liveTotal
        var rng = RNG(seed: 3)
        let model = LlamaModel(config: c, rng: &rng)
        model.checkpointBlocks = checkpointBlocks || assignment.requestsCheckpointing
        model.assignEstimators(assignment, seed: 0, skip: { $0 == "head" }) // shared sketches, as a run makes them
        try model.assignActivationCodecs(codecs)
        var options = TrainingOptions()
        options.batch = batch; options.seq = seq; options.steps = 3; options.warmup = 0; options.clip = clip
        let optimizer = spec.make(parameters: model.namedParameters(), learningRate: 1e-3, weightDecay: 0, seed: 0)
        let trainer = Trainer(model: model, optimizer: optimizer,
                              data: TokenDataset(tokens: randomTokenIDs(20_000, vocab: c.vocabSize, seed: 4)), options: options)
        var peak = 0
        for _ in 0..<3 { peak = max(peak, trainer.trainStep().peakMemory["total"]! - before) }
        return (peak, estimate)
    }

    func assertCovers(_ name: String, _ r: (measured: Int, estimate: MemoryEstimate), file: StaticString = #filePath, line: UInt = #line) {
        let total = r.estimate.total
        if ProcessInfo.processInfo.environment["MEMORY_ESTIMATE_PRINT"] != nil {
            print("MEM \(name): measured \(r.measured) estimate \(total) ratio \(Double(total) / Double(r.measured)) \(r.estimate)")
        }
        XCTAssertGreaterThanOrEqual(total, r.measured, "\(name): \(r.estimate) below the measured \(r.measured)", file: file, line: line)
        XCTAssertLessThanOrEqual(Double(total), 1.6 * Double(r.measured), "\(name): \(r.estimate) vs measured \(r.measured)", file: file, line: line)
    }

    func testEstimateCoversTheMeasuredPeak() throws {
        assertCovers("exact adamw", try measure(config()))
        assertCovers("gradlite", try measure(config(), estimators: "default=exact; layers.*=gradlite(rank:16)"))
        assertCovers("haar mlp", try measure(config(), estimators: "default=exact; layers.*.mlp.*=haar(rank:16)"))
        assertCovers("optimal", try measure(config(), estimators: "default=exact; layers.*=optimal(rank:16,refresh:1)"))
        assertCovers("checkpoint blocks", try measure(config(), checkpointBlocks: true))
        assertCovers("galore", try measure(config(), optimizer: "galore(rank:8)"))
        assertCovers("lomo", try measure(config(), optimizer: "lomo"))
        assertCovers("moe", try measure(config(moe: MoEConfig(experts: 4, topK: 2, sharedExpert: true))))
        assertCovers("int8 codecs", try measure(config(), activations: "default=int8"))
        assertCovers("bf16 attention, exact wo", try measure(config(), activations: "default=fp32; layers.*.attention=bf16"))
        assertCovers("layer-wise adamw", try measure(config(), optimizer: "adamw(layerwise:on)", clip: 0))
        assertCovers("lean", try measure(config(), estimators: "default=exact; layers.*=gradlite(rank:16)",
                                         activations: "default=int8; layers.*.attention=bf16",
                                         optimizer: "galore(rank:8,layerwise:on,states:int8)", clip: 0))
        assertCovers("lean + checkpointing", try measure(config(), estimators: "default=exact; layers.*=gradlite(rank:16)",
                                                         activations: "default=int8; layers.*.attention=bf16",
                                                         optimizer: "galore(rank:8,layerwise:on,states:int8)", clip: 0,
                                                         checkpointBlocks: true))
    }

    /// The shapes the estimate sizes a run from are the model's own parameters.
    func testParameterShapesAreTheModelsParameters() {
        for c in [config(), config(moe: MoEConfig(experts: 3, topK: 1, sharedExpert: true)),
                  LlamaConfig(hiddenSize: 16, intermediateSize: 24, numHeads: 4, numKeyValueHeads: 2, numLayers: 3, vocabSize: 40)] {
            var rng = RNG(seed: 0)
            let model = LlamaModel(config: c, rng: &rng)
            XCTAssertEqual(c.parameterShapes.map(\.path), model.namedParameters().map(\.0))
            XCTAssertEqual(c.parameterShapes.map(\.shape), model.namedParameters().map(\.1.shape))
            XCTAssertEqual(c.parameterShapes.filter(\.isLinear).map(\.path), model.namedLinears.map { $0.0 + ".weight" })
            XCTAssertEqual(try c.checkedParameterCount(), model.parameterCount)
        }
    }

    /// Each optimizer's estimated state is exactly what it allocates.
    func testOptimizerStateEstimateIsExact() throws {
        for c in [config(), config(moe: MoEConfig(experts: 2, topK: 1))] {
            for text in ["adamw", "sgd", "sgd(momentum:0.9)", "galore(rank:8)", "grasswalk(rank:8)", "grassjump(rank:4)", "lomo", "adalomo"] {
                var rng = RNG(seed: 0)
                let model = LlamaModel(config: c, rng: &rng)
                let spec = try OptimizerSpec(parsing: text)
                let optimizer = spec.make(parameters: model.namedParameters(), learningRate: 1e-3, weightDecay: 0, seed: 0)
                let shapes = c.parameterShapes.map { (path: $0.path, shape: $0.shape) }
                XCTAssertEqual(try spec.estimatedStateBytes(parameters: shapes), optimizer.stateBytes, text)
            }
        }
    }

    /// Each estimator's `stateBytes` is what it holds once warmed up: its state tensors (the
    /// counters excluded) plus what its sketch keeps of the step in flight for the backward: the
    /// step's basis (n, k) where it is not itself state, only the exploration columns S (n, p)
    /// for GradLite, whose V = [V_c, S] contains its resident core.
    func testEstimatorStateBytesMatchTheirState() throws {
        let (m, n) = (24, 16)
        var rng = RNG(seed: 5)
        for text in ["exact", "lowrank(rank:4,refresh:1)", "haar(rank:4)", "optimal(rank:4,refresh:1)", "gradlite(rank:8,refresh:1)"] {
            let e = try EstimatorSpec(parsing: text).make(weightShape: [m, n], seed: 1, stream: 2)
            for _ in 0..<3 {
                let saved = e.save(input: Tensor.randomNormal([10, n], rng: &rng), weightShape: [m, n])
                _ = e.weightGradient(outputGradient: Tensor.randomNormal([10, m], rng: &rng), saved: saved, weightShape: [m, n])
            }
            let held = e.stateTensors().filter { !["clock", "covariance_step"].contains($0.key) }.values.reduce(0) { $0 + $1.bytes }
            let stepColumns = text.hasPrefix("exact") || text.hasPrefix("lowrank") ? 0
                : (e as? GradLiteEstimator)?.sketch.exploration ?? (e as! any SketchingEstimator).rank
            let stepBasis = n * stepColumns * 4
            XCTAssertEqual(e.stateBytes(weightShape: [m, n]), held + stepBasis, text)
        }
    }

    /// Sizes that overflow or cannot fit are refused with one line giving the estimate.
    func testAbsurdRunsAreRefusedWithTheEstimate() throws {
        var huge = config()
        huge.vocabSize = 1 << 40
        let exact = try EstimatorAssignment(parsing: "default=exact"), adam = try OptimizerSpec(parsing: "adamw")
        let e = try MemoryEstimate.training(model: huge, batch: 1, seq: 8, estimators: exact, optimizer: adam, checkpointBlocks: false)
        XCTAssertThrowsError(try e.check(against: MemoryLimit(bytes: 1 << 34, source: "the test limit"), advice: "shrink it")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("the run needs about "), text)
            XCTAssertTrue(text.contains("parameters") && text.contains("the test limit is 16.00 GiB") && text.hasSuffix("shrink it"), text)
            XCTAssertFalse(text.contains("\n"))
        }
        XCTAssertThrowsError(try MemoryEstimate.training(model: config(), batch: 1 << 40, seq: 1 << 30, estimators: exact,
                                                         optimizer: adam, checkpointBlocks: false)) { error in
            XCTAssertTrue(error is SizeOverflowError, "\(error)")
        }
        XCTAssertEqual(MemoryLimit.parseByteCount("8G"), 8 << 30)
        XCTAssertEqual(MemoryLimit.parseByteCount("512m"), 512 << 20)
        XCTAssertEqual(MemoryLimit.parseByteCount("1234"), 1234)
        for bad in ["", "0", "-1G", "1.5G", "8GiB", "99999999999T"] { XCTAssertNil(MemoryLimit.parseByteCount(bad), bad) }
        XCTAssertThrowsError(try MemoryLimit.current(environment: ["SKETCHGRAD_MEMORY_LIMIT": "lots"]))
        XCTAssertEqual(try MemoryLimit.current(environment: ["SKETCHGRAD_MEMORY_LIMIT": "2G"]).bytes, 2 << 30)
    }
}
