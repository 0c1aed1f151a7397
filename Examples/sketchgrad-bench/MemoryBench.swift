import ArgumentParser
import Foundation
import NN

/// `sketchgrad-bench memory`: peak memory and speed of one model and batch under the memory-saving
/// configurations, each run by `train` in a fresh process (so every peak starts clean).
///
/// Configurations: exact; exact + checkpointing; estimators only; lean activations (estimators +
/// saved-tensor codecs); lean (those plus layer-wise 8-bit GaLore, no clipping); lean +
/// checkpointing; with `--pytorch PYTHON`, PyTorch eager and PyTorch with gradient checkpointing on
/// the same model and batch. Prints one JSON object (per run: allocator peak by
/// category, the composition at the total's peak, peak RSS, tokens/s, saved activation bytes, and
/// ratios to exact) and writes an SVG bar chart (`--chart PATH`) stacking the composition at the peak.
///
/// With `--rounds N` the whole sequence runs N times, one configuration after the other, so a
/// shared machine's drift reaches every configuration alike: tokens/s is then the median over the
/// rounds (each round's figure in `tokens_per_s_rounds`) and its ratio to exact the median of the
/// rounds' paired ratios. Memory figures are the first round's (the allocator's peaks repeat
/// exactly; `peak_rss_bytes_rounds` lists every round's RSS).
struct MemoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Peak memory by category, RSS and tokens/s of exact, checkpointing, estimators and the lean configuration, each in a fresh process, optionally beside PyTorch (JSON plus an SVG chart).",
        discussion: """
        Examples:
          sketchgrad-bench memory --config llama-20m --batch 8 --seq 256 --pytorch .venv/bin/python
          sketchgrad-bench memory --config llama-130m --batch 4 --seq 1024 --steps 2 --warmup 1 --chart memory-130m.svg
          sketchgrad-bench memory --rounds 3   (speed ratios as medians over 3 alternating rounds)
        """)

    @OptionGroup var shape: ModelBatchOptions

    @Option(help: "Timed steps per configuration. Example: --steps 3")
    var steps = 3

    @Option(help: "Untimed warm-up steps per configuration. Example: --warmup 1")
    var warmup = 1

    @Option(help: "Run every configuration this many times, alternating, and report median tokens/s and the median of the rounds' ratios to exact, 1...50. Example: --rounds 3")
    var rounds = 1

    @Option(help: "Rank of the estimators (default: hidden size / 4). Example: --rank 64")
    var rank: Int?

    @Option(help: "Also run PyTorch eager and PyTorch with gradient checkpointing (scripts/pytorch_baseline.py) with this Python. Example: --pytorch .venv/bin/python")
    var pytorch: String?

    @Option(help: "Where to write the SVG chart (default memory-CONFIG-BATCHxSEQ.svg). Example: --chart docs/memory-20m.svg")
    var chart: String?

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be positive, got \(steps)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative, got \(warmup)") }
        guard (1...50).contains(rounds) else { throw ValidationError("--rounds must be in 1...50, got \(rounds)") }
        if let rank, rank < 1 { throw ValidationError("--rank must be positive, got \(rank)") }
    }

    func run() throws {
        try benchmark("memory") {
            let json = try JSONSerialization.data(withJSONObject: try measure(), options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: json, as: UTF8.self))
        }
    }

    func measure() throws -> [String: Any] {
        let (configName, batch, seq, threads) = (shape.config, shape.batch, shape.seq, shape.threads)
        let model = try shape.modelConfig()
        let rank = self.rank ?? model.hiddenSize / 4
        let estimators = "default=exact; layers.*=gradlite(rank:\(rank))"
        let codecs = "default=int8; layers.*.attention=bf16"
        let optimizer = "galore(rank:\(rank),layerwise:on,states:int8)"
        let leanActivations = ["--estimators", estimators, "--activations", codecs]
        let lean = leanActivations + ["--optimizer", optimizer, "--clip", "0"]

        let runs: [(name: String, flags: [String])] = [
            ("exact", []),
            ("exact + checkpointing", ["--checkpoint-blocks"]),
            ("estimators", ["--estimators", estimators]),
            ("lean activations", leanActivations),
            ("lean", lean),
            ("lean + checkpointing", lean + ["--checkpoint-blocks"]),
        ]
        let common = ["--config", configName, "--batch", "\(batch)", "--seq", "\(seq)", "--steps", "\(steps)",
                      "--warmup", "\(warmup)", "--threads", "\(threads)"]
        var everyRound: [[[String: Any]]] = []
        for round in 1...rounds {
            let label = rounds > 1 ? "memory: round \(round)/\(rounds): " : "memory: "
            var results: [[String: Any]] = []
            for run in runs {
                FileHandle.standardError.write(Data("\(label)\(run.name)\n".utf8))
                var r = try runSelf(["train"] + common + run.flags)
                r["name"] = run.name
                r["flags"] = run.flags
                results.append(r)
            }
            if let python = pytorch {
                for (name, checkpointing) in [("pytorch eager", false), ("pytorch + checkpointing", true)] {
                    FileHandle.standardError.write(Data("\(label)\(name)\n".utf8))
                    var r = try runPyTorchBaseline(python: python, batch: batch, seq: seq, steps: steps, warmup: warmup,
                                                   threads: threads, config: model, checkpointing: checkpointing)
                    r["name"] = name
                    results.append(r)
                }
            }
            everyRound.append(results)
        }
        let results = combineRounds(everyRound)

        let chartPath = chart ?? "memory-\(shape.configLabel)-\(batch)x\(seq).svg"
        var plot = MemoryChart(title: "\(configName), batch \(batch) × seq \(seq): memory at the allocator's peak by category; peak RSS dashed")
        for r in results {
            let peaks = r["bytes_at_peak"] as? [String: Int] ?? [:]
            let segments = ["parameter", "gradient", "optimizer", "activation", "workspace"].compactMap { c in
                peaks[c].map { (category: c, bytes: Double($0)) }
            }
            plot.bars.append(.init(name: r["name"] as! String, segments: segments,
                                    peakRSS: (r["peak_rss_bytes"] as? Int).map(Double.init), tokensPerSecond: r["tokens_per_s"] as? Double))
        }
        do { try Data(plot.svg().utf8).write(to: URL(fileURLWithPath: chartPath), options: .atomic) } catch {
            throw RunError("--chart: cannot write \(chartPath): \(error.localizedDescription)")
        }
        return ["config": configName, "batch": batch, "seq": seq, "threads": threads, "timed_steps": steps, "rounds": rounds,
                "estimators": estimators, "activations": codecs, "optimizer": optimizer, "runs": results, "chart": chartPath]
            .merging(openBLASKernel()) { a, _ in a }
    }
}

/// The first round's results, with tokens/s replaced by the median over rounds, each round's
/// tokens/s and RSS listed, and `vs_exact`: each run's peaks and RSS over the exact run's (the
/// first) and the median over rounds of its tokens/s over that round's exact run.
private func combineRounds(_ rounds: [[[String: Any]]]) -> [[String: Any]] {
    var results = rounds[0]
    guard let exact = results.first else { return results }
    let exactPeaks = exact["peak_bytes"] as? [String: Int] ?? [:]
    let exactSpeeds = rounds.compactMap { $0[0]["tokens_per_s"] as? Double }
    for i in results.indices {
        var ratios: [String: Double] = [:]
        let speeds = rounds.compactMap { $0[i]["tokens_per_s"] as? Double }
        if speeds.count == rounds.count {
            results[i]["tokens_per_s"] = median(speeds)
            results[i]["tokens_per_s_rounds"] = speeds
            if exactSpeeds.count == rounds.count, exactSpeeds.allSatisfy({ $0 > 0 }) {
                ratios["tokens_per_s"] = median(zip(speeds, exactSpeeds).map { $0 / $1 })
            }
        }
        results[i]["peak_rss_bytes_rounds"] = rounds.compactMap { $0[i]["peak_rss_bytes"] as? Int }
        let peaks = results[i]["peak_bytes"] as? [String: Int] ?? [:]
        for key in ["activation", "total"] {
            if let a = peaks[key], let b = exactPeaks[key], b > 0 { ratios[key] = Double(a) / Double(b) }
        }
        if let a = results[i]["peak_rss_bytes"] as? Int, let b = exact["peak_rss_bytes"] as? Int, b > 0 { ratios["rss"] = Double(a) / Double(b) }
        results[i]["vs_exact"] = ratios
    }
    return results
}

/// Runs this executable with `arguments` in a fresh process and returns the JSON it prints.
private func runSelf(_ arguments: [String]) throws -> [String: Any] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    do { try p.run() } catch { throw RunError("memory: cannot start \(p.executableURL!.path): \(error.localizedDescription)") }
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0,
          let json = try? JSONSerialization.jsonObject(with: out) as? [String: Any] else {
        throw RunError("memory: 'sketchgrad-bench \(arguments.joined(separator: " "))' failed (exit \(p.terminationStatus))")
    }
    return json
}
