import ArgumentParser
import Estimators
import Foundation
import NN

/// The flags shared by `train` and `compare`: model, data and optimisation hyper-parameters.
///
/// Every flag is optional here, so a resume can tell the flags the user gave (which must match the
/// run, except `--steps` and `--threads`) from defaults; `configuration()` fills in the defaults.
struct RunFlags: ParsableArguments {
    @Option(help: "Model: a preset (llama-20m, llama-60m, llama-100m, llama-130m) or a Hugging Face config.json path (default: llama-20m). Example: --config llama-60m")
    var config: String?

    @Option(name: .customLong("init"), help: "Fine-tune a Hugging Face LLaMA folder: config.json, model.safetensors (or a sharded model.safetensors.index.json; F32/F16/BF16) and tokenizer.json. Without a byte-level tokenizer.json (GPT-2/Qwen/LLaMA-3 style), train on token files. Example: --init models/my-llama3 --data dolly.jsonl")
    var initFrom: String?

    @Option(help: "Training data: UTF-8 text; JSONL (.jsonl) of {\"text\": ...} documents or {\"instruction\", \"context\", \"response\"} records (loss on responses only); or token ids (.bin uint16, .u32.bin uint32, little-endian, as nanoGPT/llm.c). Without it, the built-in synthetic corpus is used. Example: --data ../shared/data/shakespeare-train.txt")
    var data: String?

    @Option(help: "Validation data of the same kind as --data; without it the last 5% of the training tokens (or records) are held out. Example: --valid-data ../shared/data/shakespeare-valid.txt")
    var validData: String?

    @Option(help: "Optimizer steps (default 100; with --resume, the new total: the schedule stays the one fixed when the run was created). Example: --steps 200")
    var steps: Int?

    @Option(help: "Sequences per micro-batch (default 8). Example: --batch 8")
    var batch: Int?

    @Option(help: "Tokens per sequence (default 256). Example: --seq 256")
    var seq: Int?

    @Option(help: "Peak learning rate (default 1e-3). Example: --lr 1e-3")
    var lr: Float?

    @Option(help: "Linear warmup steps (default 20). Example: --warmup 20")
    var warmup: Int?

    @Option(help: "Final learning rate as a fraction of the peak, reached at the last step by a cosine (default 0.1). Example: --min-lr-ratio 0.1")
    var minLrRatio: Float?

    @Option(help: "Decoupled weight decay (default 0). Example: --weight-decay 0.01")
    var weightDecay: Float?

    @Option(help: "Global gradient-norm clipping threshold, 0 to disable (default 1). Example: --clip 1.0")
    var clip: Float?

    @Option(help: "Micro-batches accumulated per optimizer step (default 1). Example: --grad-accum 4")
    var gradAccum: Int?

    @Option(help: "Seed of initialisation, data order and random projections (default 0). Example: --seed 1")
    var seed: UInt64?

    @Option(help: "Estimator per layer: 'pattern=spec' rules separated by ';' with a default (default: default=exact). Specs: exact, recompute, lowrank(rank:K), gaussian(rank:K), haar(rank:K), optimal(rank:K), gradlite(rank:K,explore:P,refresh:T,feedback:on|off,adaptive:on|off). Example: --estimators 'default=exact; layers.*.mlp.*=gradlite(rank:64)'")
    var estimators: String?

    @Option(help: "Codec of the tensors each module saves for the backward (default: default=fp32): 'pattern=codec' rules separated by ';' with a default; codecs fp32 (exact), bf16 (half the bytes), int8 (per-row scale, stochastic rounding; a quarter). A pattern covers the modules inside the one it names. Example: --activations 'default=int8; layers.*.attention=bf16'")
    var activations: String?

    @Option(help: "Optimizer (default adamw): adamw, sgd(momentum:0.9), galore(rank:128,gap:200,scale:0.25), grasswalk(rank:128,gap:200,scale:0.25,step:0.5), grassjump(rank:128,gap:200,scale:0.25), lomo, adalomo. adamw, sgd, galore and grass* take layerwise:on (update inside the backward, no full set of gradients; not with --grad-accum > 1); adamw, galore and grass* take states:int8 (8-bit moments). Example: --optimizer 'galore(rank:64,layerwise:on,states:int8)'")
    var optimizer: String?

    @Option(help: "Swap every MLP for a mixture of experts. Example: --moe experts:8,topk:2,shared:1")
    var moe: String?

    @Flag(help: "Recompute each transformer block in the backward instead of keeping its activations.")
    var checkpointBlocks = false

    @Option(help: "Tokens per chunk of the fused output head + loss (its logits are the largest workspace); default: sized so workspace stays near 10% of the step's memory (128 for llama-20m at 8×256). Example: --loss-chunk 1024")
    var lossChunk: Int?

    @Option(help: "Evaluate on validation data every N steps and at the end, 0: never (default 25). Example: --eval-every 50")
    var evalEvery: Int?

    @Option(help: "Validation batches per evaluation (default 4). Example: --eval-batches 4")
    var evalBatches: Int?

    @Option(help: "Save a checkpoint every N steps and at the end, 0: at the end only (default 100). A diverged run keeps the last one. Example: --save-every 50")
    var saveEvery: Int?

    @Option(help: "Kernel and BLAS threads (default: the machine's cores). Results are bit-identical for the same thread count. Example: --threads 2")
    var threads: Int?

    func validate() throws {
        if config != nil && initFrom != nil {
            throw ValidationError("--config and --init both set the model (--init reads config.json from its folder)")
        }
        for (flag, text) in [("--estimators", estimators), ("--activations", activations)] where text.map(holdsNoPathRule) == true {
            throw ValidationError("\(flag) is empty: give rules such as 'default=...; pattern=...' or leave the flag out")
        }
    }

    /// The run these flags describe, with `estimators` and `optimizer` overridable (compare mode).
    func configuration(_ shared: SharedFlags, estimators: String? = nil, optimizer: String? = nil) -> RunConfiguration {
        var c = RunConfiguration()
        c.training.steps = 100
        c.training.evalEvery = 25
        c.threads = ProcessInfo.processInfo.activeProcessorCount
        applyGiven(shared, to: &c)
        if let estimators { c.estimators = estimators }
        if let optimizer { c.optimizer = optimizer }
        return c
    }

    /// Sets the fields of the flags that were given, leaving the others as they are.
    func applyGiven(_ shared: SharedFlags, to c: inout RunConfiguration) {
        if let config { c.model = config }
        if let initFrom {
            c.initFrom = initFrom
            c.model = URL(fileURLWithPath: initFrom).appendingPathComponent("config.json").path
        }
        if let tokenizer = shared.tokenizer { c.tokenizerFile = tokenizer }
        if let data { c.dataFile = data }
        if let validData { c.validationFile = validData }
        if let vocabSize = shared.vocabSize { c.vocabSize = vocabSize }
        if let steps { c.training.steps = steps }
        if let batch { c.training.batch = batch }
        if let seq { c.training.seq = seq }
        if let lr { c.training.learningRate = lr }
        if let warmup { c.training.warmup = warmup }
        if let minLrRatio { c.training.minLearningRateRatio = minLrRatio }
        if let weightDecay { c.training.weightDecay = weightDecay }
        if let clip { c.training.clip = clip }
        if let gradAccum { c.training.gradAccum = gradAccum }
        if let seed { c.training.seed = seed }
        if let evalEvery { c.training.evalEvery = evalEvery }
        if let evalBatches { c.training.evalBatches = evalBatches }
        if let saveEvery { c.training.saveEvery = saveEvery }
        if let estimators { c.estimators = estimators }
        if let activations { c.activations = activations }
        if let optimizer { c.optimizer = optimizer }
        if let moe { c.moe = moe }
        if checkpointBlocks { c.checkpointBlocks = true }
        if let lossChunk { c.lossChunk = lossChunk }
        if let threads { c.threads = threads }
        c = c.resolvingPaths()
    }

    /// The flag that sets a `RunConfiguration` key (a dotted path), for messages.
    static func flag(forKey key: String) -> String? {
        [
            "model": "--config", "initFrom": "--init", "tokenizerFile": "--tokenizer", "dataFile": "--data", "validationFile": "--valid-data", "vocabSize": "--vocab-size",
            "training.steps": "--steps", "training.batch": "--batch", "training.seq": "--seq",
            "training.learningRate": "--lr", "training.warmup": "--warmup", "training.minLearningRateRatio": "--min-lr-ratio",
            "training.weightDecay": "--weight-decay", "training.clip": "--clip", "training.gradAccum": "--grad-accum",
            "training.seed": "--seed", "training.evalEvery": "--eval-every", "training.evalBatches": "--eval-batches",
            "training.saveEvery": "--save-every", "estimators": "--estimators", "activations": "--activations", "optimizer": "--optimizer", "moe": "--moe",
            "checkpointBlocks": "--checkpoint-blocks", "lossChunk": "--loss-chunk", "threads": "--threads",
        ][key]
    }
}
