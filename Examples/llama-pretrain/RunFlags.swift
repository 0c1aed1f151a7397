import ArgumentParser
import Foundation
import NN

/// The flags shared by `train` and `compare`: model, data and optimisation hyper-parameters.
struct RunFlags: ParsableArguments {
    @Option(help: "Model: a preset (llama-20m, llama-60m, llama-100m, llama-130m) or a Hugging Face config.json path. Example: --config llama-60m")
    var config = "llama-20m"

    @Option(help: "Training text file (UTF-8). Without it, the built-in synthetic corpus is used. Example: --data ../shared/data/shakespeare-train.txt")
    var data: String?

    @Option(help: "Validation text file; without it the last 5% of the training tokens are held out. Example: --valid-data ../shared/data/shakespeare-valid.txt")
    var validData: String?

    @Option(help: "Vocabulary of the model and target of the tokenizer (default: the model configuration's). Example: --vocab-size 8000")
    var vocabSize: Int?

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

    @Option(help: "Optimizer: adamw, sgd(momentum:0.9), galore(rank:128,gap:200,scale:0.25), grasswalk(rank:128,gap:200,scale:0.25,step:0.5), grassjump(rank:128,gap:200,scale:0.25), lomo, adalomo. adamw, sgd, galore and grass* take layerwise:on (update inside the backward, no full set of gradients; not with --grad-accum > 1); adamw, galore and grass* take states:int8 (8-bit moments). Example: --optimizer 'galore(rank:64,layerwise:on,states:int8)'")
    var optimizer = "adamw"

    @Option(help: "Swap every MLP for a mixture of experts. Example: --moe experts:8,topk:2,shared:1")
    var moe: String?

    @Flag(help: "Recompute each transformer block in the backward instead of keeping its activations.")
    var checkpointBlocks = false

    @Option(help: "Tokens per chunk of the fused output head + loss (its logits are the largest workspace); default: sized so workspace stays near 10% of the step's memory (128 for llama-20m at 8×256). Example: --loss-chunk 1024")
    var lossChunk: Int?

    @Option(help: "Evaluate on validation data every N steps and at the end (0: never). Example: --eval-every 50")
    var evalEvery = 25

    @Option(help: "Validation batches per evaluation. Example: --eval-batches 4")
    var evalBatches = 4

    @Option(help: "Kernel and BLAS threads. Example: --threads 2")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Output folder (default runs/default; compare: runs/compare with one subfolder per run; with --resume: the resumed folder). Example: --out runs/exact")
    var out: String?

    /// The run these flags describe, with `estimators` and `optimizer` overridable (compare mode).
    func configuration(estimators: String? = nil, optimizer: String? = nil) -> RunConfiguration {
        var c = RunConfiguration()
        c.model = config
        c.dataFile = data
        c.validationFile = validData
        c.vocabSize = vocabSize
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
        c.optimizer = optimizer ?? self.optimizer
        c.moe = moe
        c.checkpointBlocks = checkpointBlocks
        c.lossChunk = lossChunk
        c.threads = threads
        return c
    }
}
