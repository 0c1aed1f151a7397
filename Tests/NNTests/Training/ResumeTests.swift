import Foundation
@testable import NN
import Tensor
import TestSupport
import XCTest

/// Resuming end to end on a tiny model (hidden 16, 2 layers, 6 steps): bit-exact against the
/// uninterrupted run for every optimizer, the optimal estimator, checkpointed blocks and MoE;
/// refusals that name the first difference; the checkpoint swap against every state a kill can
/// leave; divergence keeping the last good checkpoint.
final class ResumeTests: XCTestCase {
    var scratch: URL!
    /// The tokenizer and the built-in corpus, shared by every test (training them is the slow part).
    static let cache = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-resume-cache-\(getpid())")

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    override class func tearDown() { try? FileManager.default.removeItem(at: cache) }

    func configuration(steps: Int = 6) throws -> RunConfiguration {
        let url = scratch.appendingPathComponent("tiny.json")
        try Data("""
        {"model_type": "llama", "hidden_size": 16, "intermediate_size": 24, "num_attention_heads": 2,
         "num_hidden_layers": 2, "vocab_size": 320, "max_position_embeddings": 32}
        """.utf8).write(to: url)
        var c = RunConfiguration()
        c.model = url.path
        c.corpusSentences = 1500
        c.training.steps = steps
        c.training.batch = 2
        c.training.seq = 16
        c.training.learningRate = 1e-2
        c.training.warmup = 2
        c.training.evalEvery = 3
        c.training.evalBatches = 1
        c.training.saveEvery = 0
        c.threads = 1
        return c
    }

    func session(_ c: RunConfiguration) throws -> PretrainSession { try PretrainSession(c, cacheDirectory: Self.cache) }

    func resume(_ dir: URL, steps: Int? = nil, changing change: (inout RunConfiguration) -> Void = { _ in }) throws -> PretrainSession {
        try PretrainSession.resume(from: dir, steps: steps, changing: change, cacheDirectory: Self.cache)
    }

    /// Runs `c` until `stopAt`, returning the run folder.
    func runStopped(_ c: RunConfiguration, at stopAt: Int, name: String) throws -> URL {
        let dir = scratch.appendingPathComponent(name)
        var steps = 0
        _ = try session(c).run(outDirectory: dir, shouldStop: { steps += 1; return steps == stopAt })
        return dir
    }

    func losses(_ dir: URL) throws -> [UInt32] {
        try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(StepMetrics.self, from: Data($0.utf8)).loss.bitPattern }
    }

    /// Every tensor of both checkpoint files, as bit patterns.
    func checkpointBits(_ dir: URL) throws -> [String: [UInt32]] {
        var out: [String: [UInt32]] = [:]
        for file in [CheckpointFileName.weights, CheckpointFileName.trainingState] {
            let f = try SafetensorsFile(contentsOf: dir.appendingPathComponent("checkpoint/\(file)"))
            for name in f.names { out["\(file):\(name)"] = try f.floatTensor(name).scalars.map(\.bitPattern) }
        }
        return out
    }

    func assertBitExactResume(_ c: RunConfiguration, _ label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let full = scratch.appendingPathComponent("full-\(label.hashValue)")
        _ = try session(c).run(outDirectory: full)
        let part = try runStopped(c, at: 3, name: "part-\(label.hashValue)")
        let resumed = try resume(part)
        XCTAssertEqual(resumed.trainer.step, 3, label, file: file, line: line)
        _ = try resumed.run(outDirectory: part)
        XCTAssertEqual(try losses(full).count, c.training.steps, label, file: file, line: line)
        XCTAssertEqual(try losses(part), try losses(full), "\(label): losses", file: file, line: line)
        let a = try checkpointBits(full), b = try checkpointBits(part)
        XCTAssertEqual(a.keys.sorted(), b.keys.sorted(), label, file: file, line: line)
        for (k, v) in a where b[k] != v { XCTFail("\(label): \(k) differs after resume", file: file, line: line) }
    }

    func testResumeIsBitExactForEveryOptimizer() throws {
        for optimizer in ["sgd(momentum:0.9)", "adamw", "galore(rank:4,gap:2)", "grasswalk(rank:4,gap:2)",
                          "grassjump(rank:4,gap:2)", "lomo", "adalomo"] {
            var c = try configuration()
            c.optimizer = optimizer
            try assertBitExactResume(c, optimizer)
        }
    }

    func testResumeIsBitExactForOptimalCheckpointedBlocksAndMoE() throws {
        var c = try configuration()
        c.estimators = "default=exact; layers.*=optimal(rank:4,refresh:2)"
        try assertBitExactResume(c, "optimal")
        c = try configuration()
        c.checkpointBlocks = true
        c.estimators = "default=exact; layers.*.mlp.*=gradlite(rank:4,refresh:2,feedback:on)"
        try assertBitExactResume(c, "checkpoint-blocks + gradlite feedback")
        c = try configuration()
        c.moe = "experts:3,topk:2,shared:1"
        c.estimators = "default=exact; layers.*.mlp.*=lowrank(rank:4,refresh:2)"
        try assertBitExactResume(c, "moe")
    }

    func testResumeRefusesAChangedConfigurationNamingTheKey() throws {
        let dir = try runStopped(try configuration(), at: 3, name: "run")
        XCTAssertThrowsError(try resume(dir) { $0.training.learningRate = 0.5 }) { error in
            let e = error as! ResumeChangeError
            XCTAssertEqual(e.difference.key, "training.learningRate")
            XCTAssertTrue("\(e)".contains("0.01") && "\(e)".contains("0.5"), "\(e)")
        }
        // Compared generically: a field without a flag is covered too.
        XCTAssertThrowsError(try resume(dir) { $0.corpusSentences = 100 }) { error in
            XCTAssertEqual((error as? ResumeChangeError)?.difference.key, "corpusSentences")
        }
        XCTAssertThrowsError(try resume(dir) { $0.estimators = "default=haar(rank:4)" })
        XCTAssertNoThrow(try resume(dir, steps: 9) { $0.threads = 2 })
        XCTAssertThrowsError(try resume(dir, steps: 2)) { XCTAssertTrue("\($0)".contains("below the checkpoint's step 3"), "\($0)") }
        XCTAssertThrowsError(try resume(dir, steps: 3)) { XCTAssertTrue("\($0)".contains("already at step 3"), "\($0)") }
    }

    func testResumeRefusesChangedDataAndForeignOrEditedRecords() throws {
        var c = try configuration()
        let data = scratch.appendingPathComponent("data.txt")
        try Data(SyntheticCorpus.generate(sentences: 1200, seed: 9).utf8).write(to: data)
        c.dataFile = data.path
        let dir = try runStopped(c, at: 3, name: "run")
        let run = try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: dir.appendingPathComponent("run.json")))
        XCTAssertEqual(run.configuration.dataFile, data.standardizedFileURL.path, "run.json keeps absolute paths")
        XCTAssertTrue(run.configuration.model.hasPrefix("/"))

        // The same run.json pointing at a different checkpoint: another run's.
        var other = c
        other.training.seed = 1
        let foreign = try runStopped(other, at: 3, name: "other")
        let moved = dir.appendingPathComponent("checkpoint")
        try FileManager.default.removeItem(at: moved)
        try FileManager.default.copyItem(at: foreign.appendingPathComponent("checkpoint"), to: moved)
        XCTAssertThrowsError(try resume(dir)) { XCTAssertTrue("\($0)".contains("belongs to another run: training.seed"), "\($0)") }

        // Edited data: the content hash differs.
        let edited = try runStopped(c, at: 3, name: "edited")
        try Data((SyntheticCorpus.generate(sentences: 1200, seed: 9) + " more").utf8).write(to: data)
        XCTAssertThrowsError(try resume(edited)) { XCTAssertTrue("\($0)".contains("is not the text the run was trained on"), "\($0)") }
    }

    func testExtendingARunKeepsTheScheduleFixedAtCreation() throws {
        let dir = scratch.appendingPathComponent("run")
        _ = try session(try configuration()).run(outDirectory: dir)
        let resumed = try resume(dir, steps: 9)
        XCTAssertEqual(resumed.configuration.training.scheduleSteps, 6)
        XCTAssertEqual(resumed.trainer.schedule.learningRate(atStep: 7), 1e-3, accuracy: 1e-9) // 0.1 × peak after the horizon
        XCTAssertTrue(resumed.resumeNotes.joined().contains("not stretched"), "\(resumed.resumeNotes)")
    }

    // MARK: the checkpoint swap

    /// Every combination a kill can leave in `checkpoint`, `checkpoint.new` and `checkpoint.old`
    /// (each absent, incomplete, or complete at step 3 or 6): `recover` keeps the newest complete
    /// one as `checkpoint` and nothing else; with none complete it refuses (or reports none).
    func testRecoveryFromEveryStateTheSwapCanLeave() throws {
        let run = scratch.appendingPathComponent("run")
        _ = try session(try configuration(steps: 3)).run(outDirectory: run)
        let templates = scratch.appendingPathComponent("templates")
        try FileManager.default.createDirectory(at: templates, withIntermediateDirectories: true)
        let step3 = templates.appendingPathComponent("3"), step6 = templates.appendingPathComponent("6")
        try FileManager.default.copyItem(at: run.appendingPathComponent("checkpoint"), to: step3)
        _ = try resume(run, steps: 6).run(outDirectory: run)
        try FileManager.default.copyItem(at: run.appendingPathComponent("checkpoint"), to: step6)
        let broken = templates.appendingPathComponent("broken")
        try FileManager.default.copyItem(at: step6, to: broken)
        let state = broken.appendingPathComponent(CheckpointFileName.trainingState)
        let bytes = try Data(contentsOf: state)
        try bytes.prefix(bytes.count - 7).write(to: state) // a write cut short

        enum Slot: CaseIterable { case absent, incomplete, step3, step6 }
        let rotation = CheckpointRotation(runDirectory: run, name: "checkpoint")
        for a in Slot.allCases { for b in Slot.allCases { for c in Slot.allCases {
            for url in [rotation.current, rotation.fresh, rotation.old] { try? FileManager.default.removeItem(at: url) }
            for (slot, url) in zip([a, b, c], [rotation.current, rotation.fresh, rotation.old]) {
                switch slot {
                case .absent: break
                case .incomplete: try FileManager.default.copyItem(at: broken, to: url)
                case .step3: try FileManager.default.copyItem(at: step3, to: url)
                case .step6: try FileManager.default.copyItem(at: step6, to: url)
                }
            }
            let label = "\(a) / \(b) / \(c)"
            let newest = [a, b, c].contains(.step6) ? 6 : [a, b, c].contains(.step3) ? 3 : nil
            if let newest {
                XCTAssertEqual(try rotation.recover(), newest, label)
                XCTAssertEqual(try CheckpointRotation.verifiedStep(rotation.current), newest, label)
                XCTAssertFalse(FileManager.default.fileExists(atPath: rotation.fresh.path), label)
                XCTAssertFalse(FileManager.default.fileExists(atPath: rotation.old.path), label)
            } else if [a, b, c].contains(.incomplete) {
                XCTAssertThrowsError(try rotation.recover(), label) { XCTAssertTrue("\($0)".contains("no complete checkpoint"), "\($0)") }
            } else {
                XCTAssertNil(try rotation.recover(), label)
            }
        } } }
    }

    /// A flipped bit in a checkpoint's data is caught by its checksum; the other copy is used.
    func testCorruptedCheckpointFallsBackToTheCompleteOne() throws {
        let run = scratch.appendingPathComponent("run")
        _ = try session(try configuration(steps: 3)).run(outDirectory: run)
        let rotation = CheckpointRotation(runDirectory: run, name: "checkpoint")
        try FileManager.default.copyItem(at: rotation.current, to: rotation.old)
        let weights = rotation.current.appendingPathComponent(CheckpointFileName.weights)
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count - 5] ^= 0x10
        try bytes.write(to: weights)
        XCTAssertThrowsError(try CheckpointRotation.verifiedStep(rotation.current)) { XCTAssertTrue("\($0)".contains("checksum"), "\($0)") }
        XCTAssertEqual(try rotation.recover(), 3)
        XCTAssertNoThrow(try CheckpointRotation.verifiedStep(rotation.current))
    }

    // MARK: divergence

    func testDivergedRunStopsAndKeepsTheLastGoodCheckpoint() throws {
        var c = try configuration(steps: 20)
        c.optimizer = "sgd"
        c.training.learningRate = 1e12
        c.training.clip = 0
        c.training.warmup = 0
        c.training.evalEvery = 0
        c.training.saveEvery = 1
        let dir = scratch.appendingPathComponent("run")
        XCTAssertThrowsError(try session(c).run(outDirectory: dir)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("training diverged at step "), text)
            XCTAssertTrue(text.contains("the last good checkpoint (step "), text)
            XCTAssertFalse(text.contains("\n"))
        }
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("summary.json"))) as! [String: Any]
        let diverged = try XCTUnwrap(summary["diverged_at_step"] as? Int)
        XCTAssertEqual(try CheckpointRotation.verifiedStep(dir.appendingPathComponent("checkpoint")), diverged - 1)
        XCTAssertEqual(try losses(dir).count, diverged - 1, "metrics hold the good steps only")
        XCTAssertTrue(try losses(dir).allSatisfy { Float(bitPattern: $0).isFinite })
        // One key style in summary.json, nested configurations included.
        let nested = try XCTUnwrap(summary["config"] as? [String: Any])
        XCTAssertNotNil(nested["checkpoint_blocks"])
        XCTAssertNotNil((nested["training"] as? [String: Any])?["learning_rate"])
        XCTAssertNotNil((summary["model_config"] as? [String: Any])?["hidden_size"])
    }
}
