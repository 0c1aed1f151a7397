import Foundation
import TestSupport
import XCTest

/// The executables other than the training loop's happy path: `--help` with examples, sizes and
/// values that must be refused with one line (never a trap), the memory pre-flight, `llama-gradients`
/// on non-finite weights, and a resume that asks for a different configuration.
final class ToolRobustnessTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-tools-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    var environment: [String: String] { ["SKETCHGRAD_CACHE": scratch.appendingPathComponent("cache").path] }

    /// Non-zero exit, exactly one line naming the problem on stderr (a usage error adds
    /// ArgumentParser's `Help:`/`Usage:`/`See` lines after it), no trap or stack trace.
    func assertOneLineError(_ tool: String, _ args: [String], mentions: String? = nil, environment extra: [String: String] = [:],
                            file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runTool(tool, args, environment: environment.merging(extra) { $1 })
        XCTAssertNotEqual(r.status, 0, "\(tool) \(args)", file: file, line: line)
        XCTAssertFalse([132, 133, 134, 139].contains(r.status), "\(tool) \(args) trapped: \(r.stderr)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("Usage:") && !$0.hasPrefix("Help:") && !$0.hasPrefix("  See '") }
        XCTAssertEqual(lines.count, 1, "\(tool) \(args): \(r.stderr)", file: file, line: line)
        if let mentions { XCTAssertTrue(r.stderr.contains(mentions), "\(tool) \(args): \(r.stderr)", file: file, line: line) }
    }

    func testEveryToolHasHelpWithExamples() throws {
        for (tool, args) in [("llama-pretrain", ["--help"]), ("llama-gradients", ["--help"]), ("sketchgrad-bench", ["--help"]),
                             ("sketchgrad-bench", ["train", "--help"]), ("sketchgrad-bench", ["estimators", "--help"]),
                             ("sketchgrad-bench", ["kernels", "--help"])] {
            let r = try runTool(tool, args)
            XCTAssertEqual(r.status, 0, "\(tool) \(args)")
            XCTAssertTrue(r.stdout.contains("Example"), "\(tool) \(args): \(r.stdout)")
        }
    }

    func testBenchmarkRefusesBadSizes() throws {
        for args in [["train", "--batch", "0"], ["train", "--seq", "0"], ["train", "--steps", "0"], ["train", "--threads", "0"],
                     ["train", "--threads", "99999999999"], ["train", "--lr", "nan"], ["train", "--loss-chunk", "0"],
                     ["train", "--seq", "100000"], ["train", "--config", "llama-7b"], ["train", "--moe", "experts:0"],
                     ["estimators", "--rows", "0"], ["estimators", "--rows", "-5"], ["estimators", "--iterations", "0"],
                     ["estimators", "--rows", "99999999999999"], ["kernels", "--reps", "2"], ["kernels", "--reps", "x"],
                     ["memory", "--rounds", "0"], ["memory", "--rounds", "51"]] {
            try assertOneLineError("sketchgrad-bench", args)
        }
        try assertOneLineError("sketchgrad-bench", ["train", "--batch", "100000", "--seq", "1024"], mentions: "the run needs about")
    }

    func testMemoryPreflightRefusesARunThatDoesNotFit() throws {
        let start = Date()
        try assertOneLineError("llama-pretrain", ["--out", scratch.path], mentions: "the run needs about",
                               environment: ["SKETCHGRAD_MEMORY_LIMIT": "64M"])
        try assertOneLineError("llama-pretrain", ["--vocab-size", "1000000000000", "--out", scratch.path], mentions: "physical memory")
        try assertOneLineError("llama-pretrain", ["--batch", "4000000000", "--seq", "4000000000", "--out", scratch.path], mentions: "overflows")
        try assertOneLineError("llama-pretrain", ["--out", scratch.path], mentions: "SKETCHGRAD_MEMORY_LIMIT",
                               environment: ["SKETCHGRAD_MEMORY_LIMIT": "lots"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 20, "refusals come before any data or model is built")
    }

    func testNonFiniteAndAbsurdFlagsAreRefused() throws {
        for args in [["--clip", "inf"], ["--weight-decay", "inf"], ["--lr", "nan"], ["--lr", "inf"], ["--min-lr-ratio", "nan"],
                     ["--threads", "0"], ["--threads", "100000"], ["--moe", "experts:4,balance:inf"], ["--moe", "experts:100000"],
                     ["--save-every", "-1"], ["--seq", "0"]] {
            try assertOneLineError("llama-pretrain", args + ["--out", scratch.path])
        }
        try assertOneLineError("llama-pretrain", ["compare", "--runs", "", "--out", scratch.path], mentions: "--runs")
        try assertOneLineError("llama-pretrain", ["compare", "--runs", "haar(rank:8)@", "--out", scratch.path], mentions: "--runs")
        let config = scratch.appendingPathComponent("bad.json")
        for (key, value) in [("rms_norm_eps", "1e999"), ("rope_theta", "-1"), ("num_hidden_layers", "1000000000"),
                             ("hidden_size", "1000000000000"), ("initializer_range", "1e999")] {
            var json = ["\"hidden_size\": 32", "\"intermediate_size\": 64", "\"num_attention_heads\": 2",
                        "\"num_hidden_layers\": 2", "\"vocab_size\": 300"].filter { !$0.contains("\"\(key)\"") }
            json.append("\"\(key)\": \(value)")
            try Data("{\(json.joined(separator: ","))}".utf8).write(to: config)
            // Foundation's JSON reader refuses 1e999 outright (it names the number, not the key).
            try assertOneLineError("llama-pretrain", ["--config", config.path, "--out", scratch.path], mentions: value == "1e999" ? value : key)
        }
    }

    func testResumeNamesTheFlagThatDiffers() throws {
        let model = scratch.appendingPathComponent("tiny.json")
        try Data("""
        {"model_type": "llama", "hidden_size": 16, "intermediate_size": 24, "num_attention_heads": 2,
         "num_hidden_layers": 1, "vocab_size": 300, "max_position_embeddings": 32}
        """.utf8).write(to: model)
        let out = scratch.appendingPathComponent("run")
        let r = try runTool("llama-pretrain", ["--config", model.path, "--batch", "2", "--seq", "8", "--steps", "2", "--eval-batches", "1",
                                               "--threads", "1", "--out", out.path], environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertOneLineError("llama-pretrain", ["--resume", out.path, "--steps", "4", "--lr", "0.1"], mentions: "--lr is 0.001")
        try assertOneLineError("llama-pretrain", ["--resume", out.path, "--steps", "4", "--batch", "3"], mentions: "--batch is 2")
        try assertOneLineError("llama-pretrain", ["--resume", out.path], mentions: "already at step 2")
        let ok = try runTool("llama-pretrain", ["--resume", out.path, "--steps", "3", "--batch", "2"], environment: environment)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("note: the learning-rate schedule was fixed"), ok.stdout)

        // llama-gradients on that checkpoint, then with a NaN written into one weight.
        let ids = scratch.appendingPathComponent("ids.safetensors")
        try writeInputIDs([1, 5, 9, 2, 7, 3], shape: [2, 3], to: ids)
        let grads = scratch.appendingPathComponent("grads.safetensors")
        let checkpoint = out.appendingPathComponent("checkpoint")
        let good = try runTool("llama-gradients", ["--model", checkpoint.path, "--input", ids.path, "--output", grads.path])
        XCTAssertEqual(good.status, 0, good.stderr)
        try poisonFirstFloat(of: "model.norm.weight", in: checkpoint.appendingPathComponent("model.safetensors"))
        try assertOneLineError("llama-gradients", ["--model", checkpoint.path, "--input", ids.path, "--output", grads.path],
                               mentions: "'model.norm.weight' has 1 non-finite values")
    }

    /// A safetensors file holding `input_ids` as I32.
    func writeInputIDs(_ ids: [Int32], shape: [Int], to url: URL) throws {
        let header = #"{"input_ids":{"dtype":"I32","shape":[\#(shape[0]),\#(shape[1])],"data_offsets":[0,\#(4 * ids.count)]}}"#
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header.utf8)
        ids.withUnsafeBytes { data.append(contentsOf: $0) }
        try data.write(to: url)
    }

    /// Overwrites the first element of tensor `name` with NaN (leaving the header alone).
    func poisonFirstFloat(of name: String, in url: URL) throws {
        var data = try Data(contentsOf: url)
        let length = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as! [String: Any]
        let begin = ((header[name] as! [String: Any])["data_offsets"] as! [Int])[0]
        let at = 8 + length + begin
        withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { data.replaceSubrange(at..<(at + 4), with: $0) }
        try data.write(to: url)
    }
}
