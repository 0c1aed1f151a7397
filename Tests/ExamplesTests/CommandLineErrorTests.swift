import Foundation
import TestSupport
import XCTest

/// Bad input to the user-facing programs gives one clear line on stderr and a non-zero exit,
/// never a crash or a stack trace.
final class CommandLineErrorTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func testUnknownFlagIsAUsageError() throws {
        let r = try runTool("llama-pretrain", ["--no-such-flag"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--no-such-flag"), r.stderr)
    }

    func testMalformedFlagValues() throws {
        for args in [["--steps", "ten"], ["--steps", "0"], ["--lr", "-1"], ["--estimators", "default=gradlite(rank:x)"],
                     ["--optimizer", "adamz"], ["--moe", "experts:two"], ["--config", "llama-7b"]] {
            let r = try runTool("llama-pretrain", args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertFalse(r.stderr.isEmpty, "\(args)")
            XCTAssertFalse(r.stderr.contains("Fatal error"), "\(args): \(r.stderr)")
        }
        let r = try runTool("llama-pretrain", ["--optimizer", "adamz"])
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("adamz"), r.stderr)
    }

    func testOptimizerModeConflictsAreOneLine() throws {
        for (args, needle) in [(["--optimizer", "galore(rank:64,layerwise:on)", "--grad-accum", "2"], "--grad-accum 2"),
                               (["--optimizer", "sgd(states:int8)"], "sgd has no states:int8 mode"),
                               (["--optimizer", "adamw(layerwize:on)"], "'layerwize'")] {
            let r = try runTool("llama-pretrain", args + ["--out", scratch.path])
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(needle), r.stderr)
        }
    }

    /// A flag given with no rule, or an option that only a data-parallel run uses, is a mistake to
    /// report, not a default to apply silently.
    func testEmptyRuleListsAndSingleProcessCompressionAreRefused() throws {
        for (tool, args, needle) in [("llama-pretrain", ["--activations", ""], "--activations is empty"),
                                     ("llama-pretrain", ["--estimators", " ; "], "--estimators is empty"),
                                     ("sketchgrad-bench", ["train", "--activations", ""], "--activations is empty")] {
            let r = try runTool(tool, args + (tool == "llama-pretrain" ? ["--out", scratch.path] : []))
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(needle), "\(args): \(r.stderr)")
        }
        let r = try runTool("llama-pretrain", ["--dp-compress", "powersgd(rank:4)", "--out", scratch.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("--dp-compress powersgd(rank:4)") && r.stderr.contains("one process"), r.stderr)
    }

    func testMissingAndEmptyDataFiles() throws {
        var r = try runTool("llama-pretrain", ["--data", scratch.appendingPathComponent("nope.txt").path, "--out", scratch.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("nope.txt"), r.stderr)
        let empty = scratch.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        r = try runTool("llama-pretrain", ["--data", empty.path, "--out", scratch.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("empty"), r.stderr)
    }

    func testResumeFromMissingOrCorruptRun() throws {
        var r = try runTool("llama-pretrain", ["--resume", scratch.appendingPathComponent("nothing").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("run.json"), r.stderr)
        try Data("{not json".utf8).write(to: scratch.appendingPathComponent("run.json"))
        r = try runTool("llama-pretrain", ["--resume", scratch.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }

    func testLlamaGradientsUsageAndMissingFiles() throws {
        var r = try runTool("llama-gradients", [])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertFalse(r.stderr.isEmpty)
        r = try runTool("llama-gradients", ["--model", "/nonexistent/model.safetensors", "--config", "/nonexistent/config.json",
                                            "--input", "/nonexistent/ids.safetensors", "--output", scratch.appendingPathComponent("g.safetensors").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }

    func testBenchmarkRejectsUnknownSubcommandAndFlags() throws {
        var r = try runTool("sketchgrad-bench", ["nonsense"])
        XCTAssertNotEqual(r.status, 0)
        r = try runTool("sketchgrad-bench", ["train", "--batch", "-3"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
        // A batch that cannot fit is refused up front, before any token is drawn.
        r = try runTool("sketchgrad-bench", ["gradient-error", "--batch", "1000000", "--seq", "1024"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("physical memory"), r.stderr)
    }
}
