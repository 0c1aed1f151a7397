import Autograd
import Estimators
import Foundation
import NN
import Tensor

/// `sketchgrad-bench train`: training throughput and memory of a LLaMA on random tokens.
///
/// Flags: `--config llama-20m`, `--batch 8`, `--seq 256`, `--steps 10` (timed), `--warmup 2`,
/// `--threads 2`, `--estimators 'default=exact'`, `--optimizer adamw`, `--checkpoint-blocks`,
/// `--moe experts:4,topk:2`, `--loss-chunk ROWS` (tokens per chunk of the fused head + loss; default
/// `LlamaConfig.defaultLossChunkSize`),
/// `--clip 1` (global-norm clipping; 0 turns it off, so layer-wise optimizers run one pass),
/// `--pytorch PYTHON` (also runs scripts/pytorch_baseline.py with that
/// interpreter, one after the other in the same invocation, and reports both).
func runTrainBench(_ args: [String]) throws -> [String: Any] {
    let flags = try BenchFlags(args, known: ["config", "batch", "seq", "steps", "warmup", "threads", "estimators",
                                             "optimizer", "moe", "pytorch", "checkpoint-blocks", "lr", "loss-chunk", "clip"])
    let threads = try flags.int("threads", 2)
    let batch = try flags.int("batch", 8), seq = try flags.int("seq", 256)
    let steps = try flags.int("steps", 10), warmup = try flags.int("warmup", 2)
    Parallel.setThreads(threads)

    var config = try LlamaConfig.preset(flags.string("config", "llama-20m"))
    if let moe = flags.optional("moe") { config.moe = try parseMoESpec(moe) }
    let assignment = try EstimatorAssignment(parsing: flags.string("estimators", "default=exact"))
    let optimizerSpec = try OptimizerSpec(parsing: flags.string("optimizer", "adamw"))

    var options = TrainingOptions()
    options.batch = batch; options.seq = seq; options.steps = warmup + steps
    options.learningRate = try flags.float("lr", 1e-3); options.warmup = 0; options.evalEvery = 0
    options.clip = try flags.float("clip", 1)
    guard options.clip >= 0 else { throw BenchError("--clip must be 0 (off) or positive, got \(options.clip)") }
    var rng = RNG(seed: 1, stream: 7)
    let tokens = (0..<(batch * seq * 64)).map { _ in Int32(rng.nextInt(below: config.vocabSize)) }
    let data = TokenDataset(tokens: tokens)
    var modelRNG = RNG(seed: 0)
    let model = LlamaModel(config: config, rng: &modelRNG)
    model.checkpointBlocks = flags.has("checkpoint-blocks")
    if flags.has("loss-chunk") {
        let rows = try flags.int("loss-chunk", 0)
        guard rows > 0 else { throw BenchError("--loss-chunk must be a positive number of rows, got \(rows)") }
        model.lossChunkSize = rows
    }
    model.assignEstimators { path, layer in
        path == "head" ? nil : assignment.estimator(forPath: path, weightShape: layer.weight.shape, seed: 0)
    }
    let optimizer = optimizerSpec.make(parameters: model.namedParameters(), learningRate: options.learningRate,
                                       weightDecay: 0, seed: 0)
    let trainer = Trainer(model: model, optimizer: optimizer, data: data, options: options)

    var timed: [StepMetrics] = []
    for i in 0..<(warmup + steps) {
        let m = trainer.trainStep()
        if i >= warmup { timed.append(m) }
    }
    var peaks: [String: Int] = [:]
    for m in timed { peaks.merge(m.peakMemory, uniquingKeysWith: max) }
    var result: [String: Any] = [
        "config": flags.string("config", "llama-20m"), "parameters": model.parameterCount,
        "batch": batch, "seq": seq, "threads": threads, "timed_steps": steps, "warmup_steps": warmup,
        "estimators": assignment.description, "optimizer": optimizer.description,
        "checkpoint_blocks": model.checkpointBlocks, "clip": Double(options.clip),
        "loss_chunk": model.lossChunkSize ?? config.defaultLossChunkSize(tokens: batch * seq),
        "tokens_per_s": median(timed.map(\.tokensPerSecond)),
        "ms_per_step": median(timed.map { $0.msForward + $0.msBackward + $0.msOptimizer }),
        "ms_forward": median(timed.map(\.msForward)),
        "ms_backward": median(timed.map(\.msBackward)),
        "ms_optimizer": median(timed.map(\.msOptimizer)),
        "peak_bytes": peaks,
        "peak_saved_activation_bytes": timed.map(\.savedActivationBytes).max() ?? 0,
        "allocator_cached_bytes": Memory.stats.cached,
        "peak_rss_bytes": processPeakRSS(),
        "final_loss": Double(timed.last?.loss ?? .nan),
    ]
    if let python = flags.optional("pytorch") {
        result["pytorch"] = try runPyTorchBaseline(python: python, batch: batch, seq: seq, steps: steps, warmup: warmup,
                                                   threads: threads, config: config)
        if let torch = result["pytorch"] as? [String: Any], let tps = torch["tokens_per_s"] as? Double, tps > 0 {
            result["speedup_vs_pytorch"] = (result["tokens_per_s"] as! Double) / tps
        }
    }
    return result
}

/// Runs `scripts/pytorch_baseline.py` for the same model and batch; returns its JSON.
func runPyTorchBaseline(python: String, batch: Int, seq: Int, steps: Int, warmup: Int, threads: Int,
                        config: LlamaConfig) throws -> [String: Any] {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/pytorch_baseline.py").standardized.path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = [script, "--batch", "\(batch)", "--seq", "\(seq)", "--steps", "\(steps)", "--warmup", "\(warmup)",
                   "--threads", "\(threads)", "--hidden", "\(config.hiddenSize)", "--intermediate", "\(config.intermediateSize)",
                   "--heads", "\(config.numHeads)", "--layers", "\(config.numLayers)", "--vocab", "\(config.vocabSize)"]
    let pipe = Pipe()
    p.standardOutput = pipe
    do { try p.run() } catch { throw BenchError("--pytorch: cannot run \(python): \(error.localizedDescription)") }
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let line = String(decoding: out, as: UTF8.self).split(separator: "\n").last,
          let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        throw BenchError("--pytorch: the baseline script failed (exit \(p.terminationStatus)); is torch+transformers installed for \(python)?")
    }
    return json
}
