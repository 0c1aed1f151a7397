import Foundation
import NN

/// `sketchgrad-bench memory`: peak memory and speed of one model and batch under the memory-saving
/// configurations, each run by `train` in a fresh process (so every peak starts clean).
///
/// Configurations: exact; exact + checkpointing; estimators only; lean (estimators + saved-tensor
/// codecs); lean + checkpointing; with `--pytorch PYTHON`, PyTorch eager and PyTorch with gradient
/// checkpointing on the same model and batch. Prints one JSON object (per run: allocator peak by
/// category, the composition at the total's peak, peak RSS, tokens/s, saved activation bytes, and
/// ratios to exact) and writes an SVG bar chart (`--chart PATH`) stacking the composition at the peak.
///
/// Flags: `--config llama-20m`, `--batch 8`, `--seq 256`, `--steps 3` (timed), `--warmup 1`,
/// `--threads 2`, `--rank K` (the estimators' rank, default hidden/4), `--pytorch PYTHON`,
/// `--chart PATH` (default `memory-<config>-<batch>x<seq>.svg`).
func runMemoryBench(_ args: [String]) throws -> [String: Any] {
    let flags = try BenchFlags(args, known: ["config", "batch", "seq", "steps", "warmup", "threads", "rank", "pytorch", "chart"])
    let configName = flags.string("config", "llama-20m")
    let config = try LlamaConfig.preset(configName)
    let batch = try flags.int("batch", 8), seq = try flags.int("seq", 256)
    let steps = try flags.int("steps", 3), warmup = try flags.int("warmup", 1), threads = try flags.int("threads", 2)
    let rank = try flags.int("rank", config.hiddenSize / 4)
    let estimators = "default=exact; layers.*=gradlite(rank:\(rank))"
    let codecs = "default=int8; layers.*.attention=bf16"

    let runs: [(name: String, flags: [String])] = [
        ("exact", []),
        ("exact + checkpointing", ["--checkpoint-blocks"]),
        ("estimators", ["--estimators", estimators]),
        ("lean", ["--estimators", estimators, "--activations", codecs]),
        ("lean + checkpointing", ["--estimators", estimators, "--activations", codecs, "--checkpoint-blocks"]),
    ]
    let common = ["--config", configName, "--batch", "\(batch)", "--seq", "\(seq)", "--steps", "\(steps)",
                  "--warmup", "\(warmup)", "--threads", "\(threads)"]
    var results: [[String: Any]] = []
    for run in runs {
        FileHandle.standardError.write(Data("memory: \(run.name)\n".utf8))
        var r = try runSelf(["train"] + common + run.flags)
        r["name"] = run.name
        r["flags"] = run.flags
        results.append(r)
    }
    if let python = flags.optional("pytorch") {
        for (name, checkpointing) in [("pytorch eager", false), ("pytorch + checkpointing", true)] {
            FileHandle.standardError.write(Data("memory: \(name)\n".utf8))
            var r = try runPyTorchBaseline(python: python, batch: batch, seq: seq, steps: steps, warmup: warmup,
                                           threads: threads, config: config, checkpointing: checkpointing)
            r["name"] = name
            results.append(r)
        }
    }
    addRatios(&results)

    let chartPath = flags.string("chart", "memory-\(configName)-\(batch)x\(seq).svg")
    var chart = MemoryChart(title: "\(configName), batch \(batch) × seq \(seq): memory at the allocator's peak by category; peak RSS dashed")
    for r in results {
        let peaks = r["bytes_at_peak"] as? [String: Int] ?? [:]
        let segments = ["parameter", "gradient", "optimizer", "activation", "workspace"].compactMap { c in
            peaks[c].map { (category: c, bytes: Double($0)) }
        }
        chart.bars.append(.init(name: r["name"] as! String, segments: segments,
                                peakRSS: (r["peak_rss_bytes"] as? Int).map(Double.init), tokensPerSecond: r["tokens_per_s"] as? Double))
    }
    do { try Data(chart.svg().utf8).write(to: URL(fileURLWithPath: chartPath), options: .atomic) } catch {
        throw BenchError("--chart: cannot write \(chartPath): \(error.localizedDescription)")
    }
    return ["config": configName, "batch": batch, "seq": seq, "threads": threads, "timed_steps": steps,
            "estimators": estimators, "activations": codecs, "runs": results, "chart": chartPath]
}

/// Ratios of each run's peaks and speed to the exact run's (the first), for reading the table.
private func addRatios(_ results: inout [[String: Any]]) {
    guard let exact = results.first else { return }
    let exactPeaks = exact["peak_bytes"] as? [String: Int] ?? [:]
    for i in results.indices {
        var ratios: [String: Double] = [:]
        let peaks = results[i]["peak_bytes"] as? [String: Int] ?? [:]
        for key in ["activation", "total"] {
            if let a = peaks[key], let b = exactPeaks[key], b > 0 { ratios[key] = Double(a) / Double(b) }
        }
        if let a = results[i]["peak_rss_bytes"] as? Int, let b = exact["peak_rss_bytes"] as? Int, b > 0 { ratios["rss"] = Double(a) / Double(b) }
        if let a = results[i]["tokens_per_s"] as? Double, let b = exact["tokens_per_s"] as? Double, b > 0 { ratios["tokens_per_s"] = a / b }
        results[i]["vs_exact"] = ratios
    }
}

/// Runs this executable with `arguments` in a fresh process and returns the JSON it prints.
private func runSelf(_ arguments: [String]) throws -> [String: Any] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    do { try p.run() } catch { throw BenchError("memory: cannot start \(p.executableURL!.path): \(error.localizedDescription)") }
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0,
          let json = try? JSONSerialization.jsonObject(with: out) as? [String: Any] else {
        throw BenchError("memory: 'sketchgrad-bench \(arguments.joined(separator: " "))' failed (exit \(p.terminationStatus))")
    }
    return json
}
