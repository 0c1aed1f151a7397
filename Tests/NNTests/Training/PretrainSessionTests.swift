import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// The pretraining loop end to end on a tiny model and the built-in corpus (CI-sized: about
/// 30 steps of a 2-layer, hidden-32 LLaMA on 32-token sequences).
final class PretrainSessionTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-pretrain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func tinyConfiguration(steps: Int = 30) throws -> RunConfiguration {
        let modelJSON = """
        {"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
         "num_hidden_layers": 2, "vocab_size": 384, "max_position_embeddings": 64, "rms_norm_eps": 1e-6}
        """
        let url = scratch.appendingPathComponent("tiny.json")
        try Data(modelJSON.utf8).write(to: url)
        var c = RunConfiguration()
        c.model = url.path
        c.corpusSentences = 3000
        c.training.steps = steps
        c.training.batch = 4
        c.training.seq = 32
        c.training.learningRate = 1e-2
        c.training.warmup = 3
        c.training.evalEvery = 10
        c.training.evalBatches = 2
        c.threads = 2
        return c
    }

    func testTinyModelLossFallsOnBuiltinCorpus() throws {
        let session = try PretrainSession(try tinyConfiguration(), cacheDirectory: scratch)
        let out = scratch.appendingPathComponent("run")
        let summary = try session.run(outDirectory: out)
        let lines = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        XCTAssertEqual(lines.count, 30)
        let first = try JSONDecoder().decode(StepMetrics.self, from: Data(lines[0].utf8))
        // ln(vocab) ≈ 5.9 at the start; the grammar is learnable, so 30 steps must cut it clearly.
        XCTAssertGreaterThan(first.loss, 5)
        XCTAssertLessThan(summary.finalTrainLoss, first.loss - 1.0)
        XCTAssertNotNil(summary.finalValidationLoss)
        XCTAssertEqual(summary.validationCurve.map { Int($0[0]) }, [10, 20, 30])
        for file in ["summary.json", "loss.svg", "run.json", "checkpoint/model.safetensors",
                     "checkpoint/training_state.safetensors", "checkpoint/config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), file)
        }
        let svg = try String(contentsOf: out.appendingPathComponent("loss.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains("<polyline") && svg.contains("validation") && svg.contains(">step<"))
        // Sampling stays inside the ids the caller allows and is reproducible for a seed.
        var rng = RNG(seed: 9), again = RNG(seed: 9)
        let prompt = session.tokenizer!.encode("The")
        let ids = session.model.generate(prompt: prompt, count: 12, maxContext: 32, vocabularyLimit: 300, rng: &rng)
        XCTAssertEqual(ids.count, 12)
        XCTAssertTrue(ids.allSatisfy { $0 >= 0 && $0 < 300 })
        XCTAssertEqual(ids, session.model.generate(prompt: prompt, count: 12, maxContext: 32, vocabularyLimit: 300, rng: &again))
    }

    /// Stopping at step 12 and resuming gives exactly the losses of the uninterrupted run.
    func testResumeReproducesTheUninterruptedRun() throws {
        for optimizer in ["adamw", "galore(rank:4,gap:5)"] {
            var config = try tinyConfiguration(steps: 20)
            config.optimizer = optimizer
            config.estimators = "default=exact; layers.*.mlp.*=gradlite(rank:8,feedback:on,refresh:5)"
            let full = try PretrainSession(config, cacheDirectory: scratch)
            let fullOut = scratch.appendingPathComponent("full")
            _ = try full.run(outDirectory: fullOut)

            let part = try PretrainSession(config, cacheDirectory: scratch)
            let partOut = scratch.appendingPathComponent("part")
            var stepsRun = 0
            _ = try part.run(outDirectory: partOut, shouldStop: { stepsRun += 1; return stepsRun == 12 })
            let resumed = try PretrainSession.resume(from: partOut, cacheDirectory: scratch)
            XCTAssertEqual(resumed.trainer.step, 12)
            _ = try resumed.run(outDirectory: partOut)

            let a = try losses(fullOut), b = try losses(partOut)
            XCTAssertEqual(a.count, 20)
            XCTAssertEqual(a, b, "resumed losses differ for \(optimizer)")
        }
    }

    /// Codec rounding keyed by (seed, step, micro-batch) and shared sketches resume bit for bit too.
    func testResumeWithCodecsAndSharedSketches() throws {
        var config = try tinyConfiguration(steps: 10)
        config.estimators = "default=exact; layers.*=gradlite(rank:8,refresh:3)"
        config.activations = "default=int8; layers.*.attention=bf16"
        let fullOut = scratch.appendingPathComponent("full-codecs"), partOut = scratch.appendingPathComponent("part-codecs")
        _ = try PretrainSession(config, cacheDirectory: scratch).run(outDirectory: fullOut)
        var stepsRun = 0
        _ = try PretrainSession(config, cacheDirectory: scratch).run(outDirectory: partOut, shouldStop: { stepsRun += 1; return stepsRun == 5 })
        _ = try PretrainSession.resume(from: partOut, cacheDirectory: scratch).run(outDirectory: partOut)
        XCTAssertEqual(try losses(fullOut), try losses(partOut))
        XCTAssertEqual(try losses(fullOut).count, 10)
    }

    func testBadConfigurationsGiveOneLineErrors() throws {
        var c = try tinyConfiguration()
        c.dataFile = scratch.appendingPathComponent("missing.txt").path
        XCTAssertThrowsError(try PretrainSession(c, cacheDirectory: scratch)) { e in
            XCTAssertTrue("\(e)".contains("missing.txt"), "\(e)")
            XCTAssertFalse("\(e)".contains("\n"))
        }
        let empty = scratch.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        c.dataFile = empty.path
        XCTAssertThrowsError(try PretrainSession(c, cacheDirectory: scratch)) { e in
            XCTAssertTrue("\(e)".contains("empty"), "\(e)")
        }
        c = try tinyConfiguration()
        c.estimators = "default=haar(rank:0)"
        XCTAssertThrowsError(try PretrainSession(c, cacheDirectory: scratch))
        c.estimators = "default=exact"
        c.optimizer = "adamz"
        XCTAssertThrowsError(try PretrainSession(c, cacheDirectory: scratch)) { e in XCTAssertTrue("\(e)".contains("adamz"), "\(e)") }
        c.optimizer = "adamw"
        c.activations = "default=int8; layers.*.atention=bf16"
        XCTAssertThrowsError(try PretrainSession(c, cacheDirectory: scratch)) { e in
            XCTAssertTrue("\(e)".contains("layers.*.atention") && "\(e)".contains("layers.*.attention"), "\(e)")
        }
        c.activations = "default=int4"
        XCTAssertThrowsError(try PretrainSession(c, cacheDirectory: scratch)) { e in XCTAssertTrue("\(e)".contains("int4"), "\(e)") }
        c.activations = "default=fp32"
        c.training.seq = 4096
        XCTAssertThrowsError(try PretrainSession(c, cacheDirectory: scratch))
    }

    func testCorruptCheckpointIsRejectedOnResume() throws {
        let session = try PretrainSession(try tinyConfiguration(steps: 2), cacheDirectory: scratch)
        let out = scratch.appendingPathComponent("run")
        _ = try session.run(outDirectory: out)
        let weights = out.appendingPathComponent("checkpoint/model.safetensors")
        let bytes = try Data(contentsOf: weights)
        try bytes.prefix(bytes.count / 2).write(to: weights)
        XCTAssertThrowsError(try PretrainSession.resume(from: out, cacheDirectory: scratch)) { e in
            XCTAssertTrue("\(e)".contains("model.safetensors"), "\(e)")
        }
    }

    func losses(_ dir: URL) throws -> [Float] {
        try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(StepMetrics.self, from: Data($0.utf8)).loss }
    }
}
