import ArgumentParser
import Autograd
import Estimators
import Foundation
import NN
import Tensor

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training throughput and memory of a LLaMA on random tokens (one JSON object).",
        discussion: """
        Times --steps optimizer steps after --warmup untimed ones and reports tokens/s, the forward / backward / optimizer split and the allocator's peak bytes by category. The run is refused up front when its memory estimate does not fit (SKETCHGRAD_MEMORY_LIMIT overrides the machine's limit).

        Examples:
          sketchgrad-bench train --steps 10 --warmup 2
          sketchgrad-bench train --estimators 'default=exact;layers.*=gradlite(rank:64)' --optimizer 'galore(rank:64)'
          sketchgrad-bench train --estimators 'default=exact;layers.*=gradlite(rank:64)' --activations 'default=int8;layers.*.attention=bf16'
          sketchgrad-bench train --moe experts:4,topk:2 --checkpoint-blocks
          sketchgrad-bench train --pytorch .venv/bin/python
        """)

    @OptionGroup var shape: ModelBatchOptions

    @Option(help: "Timed steps. Example: --steps 10")
    var steps = 10

    @Option(help: "Untimed warm-up steps before them. Example: --warmup 2")
    var warmup = 2

    @Option(help: "Estimator assignment (as llama-pretrain --estimators). Example: --estimators 'default=exact;layers.*=haar(rank:64)'")
    var estimators = "default=exact"

    @Option(help: "Saved-tensor codecs (as llama-pretrain --activations). Example: --activations 'default=int8; layers.*.attention=bf16'")
    var activations = "default=fp32"

    @Option(help: "Optimizer (as llama-pretrain --optimizer). Example: --optimizer lomo")
    var optimizer = "adamw"

    @Option(help: "Swap every MLP for a mixture of experts. Example: --moe experts:4,topk:2")
    var moe: String?

    @Flag(help: "Recompute each transformer block in the backward.")
    var checkpointBlocks = false

    @Option(help: "Learning rate (constant). Example: --lr 1e-3")
    var lr: Float = 1e-3

    @Option(help: "Tokens per chunk of the fused head + loss (default: sized so workspace stays near 10% of the step's memory, LlamaConfig.defaultLossChunkSize). Example: --loss-chunk 512")
    var lossChunk: Int?

    @Option(help: "Global gradient-norm clipping threshold; 0 turns it off, so a layer-wise optimizer runs one pass. Example: --clip 0")
    var clip: Float = 1

    @Option(help: "Also run scripts/pytorch_baseline.py with this Python on the same model and batch (needs torch and transformers). Example: --pytorch .venv/bin/python")
    var pytorch: String?

    func validate() throws {
        func positive(_ v: Int, _ flag: String) throws { guard v >= 1 else { throw ValidationError("\(flag) must be positive, got \(v)") } }
        try positive(steps, "--steps")
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative, got \(warmup)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive finite number, got \(lr)") }
        if let lossChunk { try positive(lossChunk, "--loss-chunk") }
        for (flag, text) in [("--estimators", estimators), ("--activations", activations)] where holdsNoPathRule(text) {
            throw ValidationError("\(flag) is empty: give rules such as 'default=...; pattern=...' or leave the flag out")
        }
        guard clip >= 0, clip.isFinite else { throw ValidationError("--clip must be 0 (off) or a positive finite number, got \(clip)") }
    }

    func run() throws {
        try benchmark("train") {
            let result = try runTrainBench()
            let json = try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: json, as: UTF8.self))
        }
    }

    /// The measurements as a JSON object.
    func runTrainBench() throws -> [String: Any] {
        let (config, batch, seq, threads) = (shape.config, shape.batch, shape.seq, shape.threads)
        var modelConfig = try shape.modelConfig()
        if let moe { modelConfig.moe = try parseMoESpec(moe) }
        let assignment = try EstimatorAssignment(parsing: estimators)
        let codecs = try ActivationCodecAssignment(parsing: activations)
        let optimizerSpec = try OptimizerSpec(parsing: optimizer)
        do {
            try MemoryEstimate.training(model: modelConfig, batch: batch, seq: seq, estimators: assignment, codecs: codecs, optimizer: optimizerSpec,
                                        checkpointBlocks: checkpointBlocks, lossChunk: lossChunk)
                .check(against: MemoryLimit.current(), advice: "try a smaller --batch, --seq or --config")
        } catch let error as SizeOverflowError {
            throw RunError("\(error): the run is too large for this machine")
        }
        Parallel.setThreads(threads)

        var options = TrainingOptions()
        options.batch = batch; options.seq = seq; options.steps = warmup + steps
        options.learningRate = lr; options.warmup = 0; options.evalEvery = 0
        options.clip = clip
        var rng = RNG(seed: 1, stream: 7)
        let tokens = (0..<(batch * seq * 64)).map { _ in Int32(rng.nextInt(below: modelConfig.vocabSize)) }
        let data = TokenDataset(tokens: tokens)
        var modelRNG = RNG(seed: 0)
        let model = LlamaModel(config: modelConfig, rng: &modelRNG)
        model.checkpointBlocks = checkpointBlocks || assignment.requestsCheckpointing
        model.lossChunkSize = lossChunk
        model.assignEstimators(assignment, seed: 0, skip: { $0 == "head" })
        try model.assignActivationCodecs(codecs)
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
        let breakdown = savedBreakdown(model: model, optimizer: optimizer, data: data, options: options)
        var result: [String: Any] = [
            "config": config, "parameters": model.parameterCount,
            "batch": batch, "seq": seq, "threads": threads, "timed_steps": steps, "warmup_steps": warmup,
            "estimators": assignment.description, "activations": codecs.description, "optimizer": optimizer.description,
            "checkpoint_blocks": model.checkpointBlocks, "clip": Double(clip),
            "loss_chunk": lossChunk ?? modelConfig.defaultLossChunkSize(tokens: batch * seq),
            "tokens_per_s": median(timed.map(\.tokensPerSecond)),
            "ms_per_step": median(timed.map { $0.msForward + $0.msBackward + $0.msOptimizer }),
            "ms_forward": median(timed.map(\.msForward)),
            "ms_backward": median(timed.map(\.msBackward)),
            "ms_optimizer": median(timed.map(\.msOptimizer)),
            "peak_bytes": peaks,
            "bytes_at_peak": timed.max { ($0.peakMemory["total"] ?? 0) < ($1.peakMemory["total"] ?? 0) }?.memoryAtPeak ?? [:],
            "peak_saved_activation_bytes": timed.map(\.savedActivationBytes).max() ?? 0,
            "saved_bytes_by_op": breakdown.savedByOp,
            "activation_peak_forward": breakdown.forwardPeak, "activation_peak_backward": breakdown.backwardPeak,
            "allocator_cached_bytes": Memory.stats.cached,
            "peak_rss_bytes": processPeakRSS(),
            // JSON has no NaN: a diverged benchmark reports null.
            "final_loss": timed.last.flatMap { $0.loss.isFinite ? Double($0.loss) : nil } ?? NSNull(),
        ]
        result.merge(openBLASKernel()) { a, _ in a }
        if let python = pytorch {
            result["pytorch"] = try runPyTorchBaseline(python: python, batch: batch, seq: seq, steps: steps, warmup: warmup,
                                                       threads: threads, config: modelConfig, checkpointing: false)
            if let torch = result["pytorch"] as? [String: Any], let tps = torch["tokens_per_s"] as? Double, tps > 0 {
                result["speedup_vs_pytorch"] = (result["tokens_per_s"] as! Double) / tps
            }
        }
        return result
    }
}

/// One more (untimed) step of a batch, taken apart: the tape's saved bytes after the forward by op and
/// layer-independent path (`layers.*.mlp`), and the activation category's peak in the forward and
/// in the backward, so the report says where activation memory goes.
func savedBreakdown(model: LlamaModel, optimizer: any Optimizer, data: TokenDataset, options: TrainingOptions)
    -> (savedByOp: [String: Int], forwardPeak: Int, backwardPeak: Int) {
    var rng = RNG(seed: 99)
    let batch = data.batch(size: options.batch, seq: options.seq, split: .train, rng: &rng)
    let (loss, forward) = Memory.measure { model.loss(tokens: batch.inputs, targets: batch.targets, batch: options.batch, seq: options.seq) }
    var byOp: [String: Int] = [:]
    for e in Tape.current.savedEntries {
        let path = e.label.split(separator: ".").map { $0.allSatisfy(\.isNumber) ? "*" : String($0) }.joined(separator: ".")
        byOp["\(path) \(e.op)", default: 0] += e.bytes
    }
    let (_, backward) = Memory.measure { loss.backward() }
    optimizer.zeroGrad()
    return (byOp, forward.peak(.activation), backward.peak(.activation))
}

/// Runs `scripts/pytorch_baseline.py` for the same model and batch (with `checkpointing`, under
/// transformers' gradient checkpointing); returns its JSON.
func runPyTorchBaseline(python: String, batch: Int, seq: Int, steps: Int, warmup: Int, threads: Int,
                        config: LlamaConfig, checkpointing: Bool) throws -> [String: Any] {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/pytorch_baseline.py").standardized.path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = [script, "--batch", "\(batch)", "--seq", "\(seq)", "--steps", "\(steps)", "--warmup", "\(warmup)",
                   "--threads", "\(threads)", "--hidden", "\(config.hiddenSize)", "--intermediate", "\(config.intermediateSize)",
                   "--heads", "\(config.numHeads)", "--layers", "\(config.numLayers)", "--vocab", "\(config.vocabSize)"]
        + (checkpointing ? ["--checkpointing"] : [])
    let pipe = Pipe()
    p.standardOutput = pipe
    do { try p.run() } catch { throw RunError("--pytorch: cannot run \(python): \(error.localizedDescription)") }
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let line = String(decoding: out, as: UTF8.self).split(separator: "\n").last,
          let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        throw RunError("--pytorch: the baseline script failed (exit \(p.terminationStatus)); is torch+transformers installed for \(python)?")
    }
    return json
}
