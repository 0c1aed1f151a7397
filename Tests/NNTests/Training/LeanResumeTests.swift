import Foundation
import NN
import Tensor
import XCTest

/// Resume with layer-wise updates and 8-bit states: bit-exact, and a clear error when the saved
/// state has another encoding than the run's optimizer.
final class LeanResumeTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-lean-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    /// A 2-layer, hidden-32 LLaMA with vocabulary 384 (its embedding and head have 8-bit states).
    func configuration(optimizer: String, steps: Int) throws -> RunConfiguration {
        let modelJSON = """
        {"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
         "num_hidden_layers": 2, "vocab_size": 384, "max_position_embeddings": 64, "rms_norm_eps": 1e-6}
        """
        let url = scratch.appendingPathComponent("tiny.json")
        try Data(modelJSON.utf8).write(to: url)
        var c = RunConfiguration()
        c.model = url.path
        c.corpusSentences = 3000
        c.optimizer = optimizer
        c.estimators = "default=exact; layers.*.mlp.*=gradlite(rank:8,feedback:on,refresh:3)"
        c.training.steps = steps
        c.training.batch = 4
        c.training.seq = 32
        c.training.learningRate = 1e-2
        c.training.warmup = 2
        c.training.clip = 0.5 // clipped: every step has a measuring pass
        c.training.evalEvery = 0
        c.threads = 2
        return c
    }

    func losses(_ dir: URL) throws -> [Float] {
        try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(StepMetrics.self, from: Data($0.utf8)).loss }
    }

    func testLayerwiseEightBitResumeIsBitExact() throws {
        let config = try configuration(optimizer: "galore(rank:4,gap:3,layerwise:on,states:int8)", steps: 8)
        let fullOut = scratch.appendingPathComponent("full"), partOut = scratch.appendingPathComponent("part")
        _ = try PretrainSession(config, cacheDirectory: scratch).run(outDirectory: fullOut)
        var stepsRun = 0
        _ = try PretrainSession(config, cacheDirectory: scratch).run(outDirectory: partOut, shouldStop: { stepsRun += 1; return stepsRun == 5 })
        let resumed = try PretrainSession.resume(from: partOut, cacheDirectory: scratch)
        XCTAssertEqual(resumed.trainer.step, 5)
        XCTAssertFalse(resumed.optimizer.stateCodes().isEmpty, "the run keeps 8-bit states")
        _ = try resumed.run(outDirectory: partOut)
        let a = try losses(fullOut), b = try losses(partOut)
        XCTAssertEqual(a.count, 8)
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern))
    }

    func testResumeWithAnotherStateEncodingIsAClearError() throws {
        let out = scratch.appendingPathComponent("run")
        _ = try PretrainSession(try configuration(optimizer: "adamw(states:int8)", steps: 2), cacheDirectory: scratch).run(outDirectory: out)
        // The same run continued with fp32 states: refused, not silently converted.
        let runFile = out.appendingPathComponent(PretrainSession.runFile)
        var run = try JSONDecoder().decode(RunConfiguration.self, from: Data(contentsOf: runFile))
        run.optimizer = "adamw"
        try JSONEncoder().encode(run).write(to: runFile)
        XCTAssertThrowsError(try PretrainSession.resume(from: out, cacheDirectory: scratch)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("stored as int8 but the optimizer keeps fp32"), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
    }
}
