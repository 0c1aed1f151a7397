import Foundation
import TestSupport
import XCTest

/// `llama-pretrain` run as a user runs it, on a tiny model and the built-in corpus.
final class PretrainCommandTests: XCTestCase {
    var scratch: URL!
    var modelConfig: String!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let json = """
        {"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
         "num_hidden_layers": 2, "vocab_size": 384, "max_position_embeddings": 64}
        """
        modelConfig = scratch.appendingPathComponent("tiny.json").path
        try Data(json.utf8).write(to: URL(fileURLWithPath: modelConfig))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    var tinyFlags: [String] { ["--config", modelConfig, "--batch", "2", "--seq", "16", "--eval-batches", "1", "--threads", "1"] }
    var environment: [String: String] { ["SKETCHGRAD_CACHE": scratch.appendingPathComponent("cache").path] }

    /// The first Ctrl-C stops after the current step, saves a checkpoint and exits 0; the saved
    /// run then resumes from that step.
    func testInterruptSavesACheckpointThatResumes() throws {
        let out = scratch.appendingPathComponent("run")
        let p = Process()
        p.executableURL = try toolURL("llama-pretrain")
        p.arguments = tinyFlags + ["--steps", "100000", "--eval-every", "0", "--out", out.path]
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait for a step line (printed every 10 steps on long runs), then interrupt.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("step 10/") {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        p.interrupt()
        seen += pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let output = String(decoding: seen, as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 0, output)
        XCTAssertTrue(output.contains("interrupted at step"), output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("checkpoint/model.safetensors").path))
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("summary.json"))) as! [String: Any]
        XCTAssertEqual(summary["interrupted"] as? Bool, true)
        let stopped = summary["steps"] as! Int
        XCTAssertLessThan(stopped, 100000)

        let r = try runTool("llama-pretrain", ["--resume", out.path, "--steps", "\(stopped + 2)"], environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("resuming \(out.path) at step \(stopped)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("done: \(stopped + 2) steps"), r.stdout)
    }

    /// Compare mode trains each configuration once and leaves a table, compare.json and one SVG.
    func testCompareWritesTableJSONAndValidationCurves() throws {
        let out = scratch.appendingPathComponent("compare")
        let r = try runTool("llama-pretrain", ["compare"] + tinyFlags + ["--steps", "4", "--eval-every", "2", "--out", out.path,
                                               "--runs", "exact", "haar(rank:8)", "exact@sgd(momentum:0.9)"], environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr)
        for name in ["exact", "haar(rank:8)", "exact @ sgd(momentum:0.9)"] {
            XCTAssertTrue(r.stdout.contains("\n\(name) "), "table row \(name) missing:\n\(r.stdout)")
        }
        let entries = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("compare.json"))) as! [[String: Any]]
        XCTAssertEqual(entries.count, 3)
        let svg = try String(contentsOf: out.appendingPathComponent("validation.svg"), encoding: .utf8)
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 3)
        // The Haar run saves less than exact: its saved-activation bytes are smaller.
        let saved = entries.map { ($0["summary"] as! [String: Any])["peak_saved_activation_bytes"] as! Int }
        XCTAssertLessThan(saved[1], saved[0])
    }
}
