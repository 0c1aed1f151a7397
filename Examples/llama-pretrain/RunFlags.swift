import ArgumentParser
import Foundation
import NN

/// The flags shared by `train` and `compare`: model, data and optimisation hyper-parameters.
struct RunFlags: ParsableArguments {
    @Option(help: "Model: a preset (llama-20m, llama-60m, llama-100m, llama-130m) or a Hugging Face config.json path (default llama-20m). Example: --config llama-60m")
    var config: String?

    @Option(name: .customLong("init"), help: "Fine-tune a Hugging Face LLaMA folder: config.json, model.safetensors (or a sharded model.safetensors.index.json; F32/F16/BF16) and tokenizer.json. Without a byte-level tokenizer.json (GPT-2/Qwen/LLaMA-3 style), train on token files. Example: --init models/my-llama3 --data dolly.jsonl")
    var initFrom: String?

    @Option(help: "Training data: UTF-8 text; JSONL (.jsonl) of {\"text\": ...} documents or {\"instruction\", \"context\", \"response\"} records (loss on responses only); or token ids (.bin uint16, .u32.bin uint32, little-endian, as nanoGPT/llm.c). Without it, the built-in synthetic corpus is used. Example: --data ../shared/data/shakespeare-train.txt")
    var data: String?

    @Option(help: "Validation data of the same kind as --data; without it the last 5% of the training tokens (or records) are held out. Example: --valid-data ../shared/data/shakespeare-valid.txt")
    var validData: String?

    @Option(help: "Optimizer steps (default 100; with --resume, the new total). Example: --steps 200")
    var steps: Int?

    @Option(help: "Sequences per micro-batch. Example: --batch 8")
    var batch = 8

    @Option(help: "Tokens per sequence. Example: --seq 256")
    var seq = 256

    @Option(help: "Peak learning rate. Example: --lr 1e-3")
    var lr: Float = 1e-3

    @Option(help: "Linear warmup steps. Example: --warmup 20")
    var warmup = 20

    @Option(help: "Final learning rate as a fraction of the peak (cosine decay). Example: --min-lr-ratio 0.1")
    var minLrRatio: Float = 0.1

    @Option(help: "Decoupled weight decay. Example: --weight-decay 0.01")
    var weightDecay: Float = 0

    @Option(help: "Global gradient-norm clipping threshold, 0 to disable. Example: --clip 1.0")
    var clip: Float = 1

    @Option(help: "Micro-batches accumulated per optimizer step. Example: --grad-accum 4")
    var gradAccum = 1

    @Option(help: "Seed of initialisation, data order and random projections. Example: --seed 1")
    var seed: UInt64 = 0

    @Option(help: "Estimator per layer: 'pattern=spec' rules separated by ';' with a default. Specs: exact, lowrank(rank:K), gaussian(rank:K), haar(rank:K), optimal(rank:K), gradlite(rank:K,explore:P,refresh:T,feedback:on|off,adaptive:on|off). Example: --estimators 'default=exact; layers.*.mlp.*=gradlite(rank:64)'")
    var estimators = "default=exact"

    @Option(help: "Codec of the tensors each module saves for the backward: 'pattern=codec' rules separated by ';' with a default; codecs fp32 (exact), bf16 (half the bytes), int8 (per-row scale, stochastic rounding; a quarter). A pattern covers the modules inside the one it names. Example: --activations 'default=int8; layers.*.attention=bf16'")
    var activations = "default=fp32"

    @Option(help: "Optimizer: adamw, sgd(momentum:0.9), galore(rank:128,gap:200,scale:0.25), grasswalk(rank:128,gap:200,scale:0.25,step:0.5), grassjump(rank:128,gap:200,scale:0.25), lomo, adalomo. Example: --optimizer 'galore(rank:64)'")
    var optimizer = "adamw"

    @Option(help: "Swap every MLP for a mixture of experts. Example: --moe experts:8,topk:2,shared:1")
    var moe: String?

    @Flag(help: "Recompute each transformer block in the backward instead of keeping its activations.")
    var checkpointBlocks = false

    @Option(help: "Evaluate on validation data every N steps and at the end (0: never). Example: --eval-every 50")
    var evalEvery = 25

    @Option(help: "Validation batches per evaluation. Example: --eval-batches 4")
    var evalBatches = 4

    @Option(help: "Kernel and BLAS threads. Example: --threads 2")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    /// The run these flags describe, with `estimators` and `optimizer` overridable (compare mode).
    func validate() throws {
        if config != nil && initFrom != nil {
            throw ValidationError("--config and --init both set the model (--init reads config.json from its folder)")
        }
    }

    func configuration(_ shared: SharedFlags, estimators: String? = nil, optimizer: String? = nil) -> RunConfiguration {
        var c = RunConfiguration()
        c.model = config ?? initFrom.map { URL(fileURLWithPath: $0).appendingPathComponent("config.json").path } ?? c.model
        c.initFrom = initFrom
        c.tokenizerFile = shared.tokenizer
        c.dataFile = data
        c.validationFile = validData
        c.vocabSize = shared.vocabSize
        c.training.steps = steps ?? 100
        c.training.batch = batch
        c.training.seq = seq
        c.training.learningRate = lr
        c.training.warmup = warmup
        c.training.minLearningRateRatio = minLrRatio
        c.training.weightDecay = weightDecay
        c.training.clip = clip
        c.training.gradAccum = gradAccum
        c.training.seed = seed
        c.training.evalEvery = evalEvery
        c.training.evalBatches = evalBatches
        c.estimators = estimators ?? self.estimators
        c.activations = activations
        c.optimizer = optimizer ?? self.optimizer
        c.moe = moe
        c.checkpointBlocks = checkpointBlocks
        c.threads = threads
        return c
    }
}
