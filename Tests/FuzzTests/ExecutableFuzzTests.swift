import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// Random command lines through the real executables. Every run must exit 0, 1 (an error line)
/// or 64 (a usage error), never die of a signal or a Swift runtime trap, finish within its
/// timeout, and on failure say what is wrong in one line. Valid runs are kept tiny (a hidden-16
/// model, one or two steps) so a case costs a fraction of a second.
final class ExecutableFuzzTests: XCTestCase {
    var dir: URL!
    var tiny: String { dir.appendingPathComponent("tiny.json").path }
    var text: String { dir.appendingPathComponent("text.txt").path }

    override func setUpWithError() throws {
        dir = try fuzzDirectory(self, "tools")
        _ = try writeTinyModelConfig(in: dir)
        try Data(SyntheticCorpus.generate(sentences: 300, seed: 5).utf8).write(to: URL(fileURLWithPath: text))
    }

    /// Runs `tool` with a timeout; checks the exit rules. - Returns: the result.
    @discardableResult
    func check(_ tool: String, _ args: [String], tally: FuzzTally, timeout: TimeInterval = 60) throws -> (status: Int32, stderr: String)? {
        let input = "\(tool) \(args.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " "))"
        var result: (status: Int32, stderr: String)?
        tally.run(input) {
            let p = Process()
            p.executableURL = try toolURL(tool)
            p.arguments = args
            p.environment = ProcessInfo.processInfo.environment.merging(
                ["SKETCHGRAD_CACHE": dir.appendingPathComponent("cache").path, "SKETCHGRAD_MEMORY_LIMIT": "1G"]) { $1 }
            p.currentDirectoryURL = dir
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let killer = DispatchWorkItem { if p.isRunning { p.terminate() } }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
            let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            killer.cancel()
            _ = o
            let r = (status: p.terminationStatus, stderr: String(decoding: e, as: UTF8.self))
            result = r
            if p.terminationReason == .uncaughtSignal { return tally.fail("died of signal \(r.status) (timeout \(timeout) s?): \(r.stderr.suffix(300))", input) }
            guard [0, 1, 64].contains(r.status) else { return tally.fail("exit status \(r.status): \(r.stderr.suffix(300))", input) }
            for marker in ["Fatal error", "Stack dump", "Current stack trace", "Illegal instruction"] where r.stderr.contains(marker) {
                return tally.fail("stderr shows a trap: \(r.stderr.suffix(300))", input)
            }
            if r.status != 0 {
                let problems = r.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") || $0.contains(": error:") }
                if problems.count != 1 { tally.fail("expected one error line, got: \(r.stderr.suffix(400))", input) }
            }
        }
        return result
    }

    func testLlamaPretrainCommandLines() throws {
        var f = Fuzzer("llama-pretrain")
        let tally = FuzzTally("llama-pretrain", budget: 40)
        func value(_ flag: String) -> String {
            switch flag {
            case "--config": return f.pick([tiny, tiny, tiny, "llama-7b", "", "/nonexistent.json", text])
            case "--data", "--valid-data": return f.pick([text, text, "/nonexistent.txt", dir.path, ""])
            case "--steps": return f.chance(0.8) ? f.pick(["1", "2"]) : f.sizeText()
            case "--batch": return f.chance(0.8) ? f.pick(["1", "2"]) : f.sizeText()
            case "--seq": return f.chance(0.8) ? f.pick(["4", "8"]) : f.sizeText()
            case "--lr", "--min-lr-ratio", "--weight-decay", "--clip": return f.numberText()
            case "--estimators": return f.pick(["default=exact", "default=exact; layers.*=haar(rank:4)", "layers.*=gradlite(rank:2,feedback:on)",
                                                "default=bogus", "=", "layers.*=optimal(rank:99999999999)", f.mutate("default=lowrank(rank:4)")])
            case "--optimizer": return f.pick(["adamw", "lomo", "galore(rank:2)", "sgd(momentum:1)", "adalomo(clip:inf)", f.mutate("grasswalk(rank:2)")])
            case "--moe": return f.pick(["experts:2,topk:1", "experts:2,topk:2,shared:1", "experts:-1", "topk:2", f.mutate("experts:2")])
            case "--runs": return f.pick(["exact", "", "@", "haar(rank:4)@adamw", "exact@", "x@y"])
            default: return f.sizeText()
            }
        }
        let flags = ["--config", "--data", "--valid-data", "--vocab-size", "--steps", "--batch", "--seq", "--lr", "--warmup",
                     "--min-lr-ratio", "--weight-decay", "--clip", "--grad-accum", "--seed", "--estimators", "--optimizer", "--moe",
                     "--eval-every", "--eval-batches", "--save-every", "--threads", "--sample", "--temperature", "--no-such-flag"]
        for i in 0..<(10 * Fuzzer.scale) where !tally.outOfTime {
            let out = dir.appendingPathComponent("run-\(i)").path
            var args = ["--config", tiny, "--steps", "1", "--batch", "2", "--seq", "8", "--eval-batches", "1", "--threads", "1", "--out", out]
            for _ in 0..<f.int(1...4) {
                let flag = f.pick(flags)
                args += flag == "--no-such-flag" ? [flag] : [flag, value(flag)]
            }
            if f.chance(0.1) { args.append("--checkpoint-blocks") }
            if f.chance(0.15) { args = ["compare", "--runs", value("--runs")] + args.filter { !["--sample", "--temperature"].contains($0) } }
            try check("llama-pretrain", args, tally: tally)
            if f.chance(0.3), FileManager.default.fileExists(atPath: out + "/run.json") {
                try check("llama-pretrain", ["--resume", out, "--steps", f.pick(["1", "2", "3", "0", "x"])] + (f.chance(0.4) ? ["--lr", f.numberText()] : []),
                          tally: tally)
            }
        }
        tally.report()
    }

    func testBenchmarkAndGradientsCommandLines() throws {
        var f = Fuzzer("bench-and-gradients")
        let tally = FuzzTally("bench-and-gradients", budget: 40)
        // A checkpoint and an input for llama-gradients.
        let run = dir.appendingPathComponent("run")
        let made = try runTool("llama-pretrain", ["--config", tiny, "--steps", "1", "--batch", "2", "--seq", "8", "--threads", "1",
                                                  "--eval-every", "0", "--out", run.path],
                               environment: ["SKETCHGRAD_CACHE": dir.appendingPathComponent("cache").path])
        XCTAssertEqual(made.status, 0, made.stderr)
        var ids = SafetensorsWriter()
        ids.add("input_ids", int32: [1, 2, 3, 4, 5, 299], shape: [2, 3])
        let input = dir.appendingPathComponent("ids.safetensors")
        try ids.write(to: input)
        var badIDs = SafetensorsWriter()
        badIDs.add("input_ids", int64: [1, 2, 300, -1], shape: [1, 4])
        let bad = dir.appendingPathComponent("bad-ids.safetensors")
        try badIDs.write(to: bad)
        let checkpoint = run.appendingPathComponent("checkpoint").path
        for _ in 0..<(8 * Fuzzer.scale) where !tally.outOfTime {
            switch f.int(0...2) {
            case 0:
                var args = ["train", "--config", f.pick([tiny, tiny, "llama-20m", "nope"]), "--steps", "1", "--warmup", "0",
                            "--batch", f.chance(0.7) ? "1" : f.sizeText(), "--seq", f.chance(0.7) ? "8" : f.sizeText(), "--threads", "1"]
                for _ in 0..<f.int(0...2) {
                    let flag = f.pick(["--lr", "--loss-chunk", "--estimators", "--optimizer", "--moe", "--steps", "--warmup", "--bogus"])
                    let v = flag == "--lr" ? f.numberText() : flag == "--estimators" ? f.pick(["default=haar(rank:4)", "x"])
                        : flag == "--optimizer" ? f.pick(["lomo", "galore(rank:2)", "y"]) : flag == "--moe" ? f.pick(["experts:2", "experts:x"]) : f.sizeText()
                    args += flag == "--bogus" ? [flag] : [flag, v]
                }
                if args.contains("llama-20m") { args += ["--seq", "4", "--batch", "1"] }
                try check("sketchgrad-bench", args, tally: tally)
            case 1:
                let args = f.chance(0.5)
                    ? ["estimators", "--rows", f.chance(0.6) ? f.pick(["1", "3", "17"]) : f.sizeText(), "--iterations", f.chance(0.8) ? "1" : f.sizeText(),
                       "--refresh", f.chance(0.8) ? "1" : f.sizeText()]
                    : ["kernels", "--reps", f.pick(["0", "4", "-1", "x", "100001", ""])]
                try check("sketchgrad-bench", args, tally: tally)
            default:
                var args = ["--model", f.pick([checkpoint, checkpoint, checkpoint + "/model.safetensors", "/nonexistent", dir.path]),
                            "--input", f.pick([input.path, input.path, bad.path, checkpoint + "/config.json", "/nonexistent"]),
                            "--output", dir.appendingPathComponent("grads.safetensors").path]
                if f.chance(0.4) { args += ["--config", f.pick([checkpoint + "/config.json", tiny, text, "/nonexistent"])] }
                if f.chance(0.2) { args.removeSubrange(0..<2) }
                try check("llama-gradients", args, tally: tally)
            }
        }
        tally.report()
    }
}
