import ArgumentParser
import Autograd
import Estimators
import Foundation
import NN
import Tensor

/// `sketchgrad-bench gradient-error`: how far each saved-tensor codec, op by op, and the lean
/// configuration move one batch's gradients from exact.
///
/// For one batch of random tokens on a freshly initialised model, the exact gradients are the
/// reference; every other configuration runs the same batch from the same weights and reports,
/// per parameter group, the relative L2 error `‖G − G_exact‖ / ‖G_exact‖` over the group's
/// concatenated gradients. Configurations: each op that saves compressible tensors (the linear
/// layers' inputs, RMSNorm, SwiGLU, attention) alone in bf16 and in int8; all of them in the lean
/// codecs; the estimators alone; and the lean configuration (estimators + codecs).
struct GradientErrorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradient-error",
        abstract: "Relative L2 error of each parameter group's gradient against exact, per op and codec and for the lean configuration, on one batch (one JSON object).",
        discussion: "Example: sketchgrad-bench gradient-error --config llama-20m --batch 8 --seq 256")

    @OptionGroup var shape: ModelBatchOptions

    @Option(help: "Rank of the estimators (default: hidden size / 4). Example: --rank 64")
    var rank: Int?

    @Option(help: "Seed of the weights, tokens, rounding noise and projections. Example: --seed 1")
    var seed: UInt64 = 0

    func validate() throws {
        if let rank, rank < 1 { throw ValidationError("--rank must be positive, got \(rank)") }
    }

    func run() throws {
        try benchmark("gradient-error") {
            let json = try JSONSerialization.data(withJSONObject: try measure(), options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: json, as: UTF8.self))
        }
    }

    func measure() throws -> [String: Any] {
        try gradientErrors(config: shape.modelConfig(), name: shape.config, batch: shape.batch, seq: shape.seq, threads: shape.threads, rank: rank, seed: seed)
    }
}

private func gradientErrors(config: LlamaConfig, name configName: String, batch: Int, seq: Int, threads: Int, rank: Int?,
                            seed: UInt64) throws -> [String: Any] {
    do {
        try MemoryEstimate.gradients(model: config, batch: batch, seq: seq)
            .check(against: MemoryLimit.current(), advice: "try a smaller --batch, --seq or --config")
    } catch let error as SizeOverflowError {
        throw RunError("\(error): the run is too large for this machine")
    }
    let rank = rank ?? config.hiddenSize / 4
    Parallel.setThreads(threads)
    var rng = RNG(seed: seed, stream: 0x70C5)
    let tokens = (0..<(batch * seq + 1)).map { _ in Int32(rng.nextInt(below: config.vocabSize)) }
    let inputs = Array(tokens.dropLast()), targets = Array(tokens.dropFirst())
    let estimators = "default=exact; layers.*=gradlite(rank:\(rank))"
    let lean = "default=int8; layers.*.attention=bf16"

    // Rules that give one op kind a codec and leave everything else fp32 (a rule covers the
    // modules inside the one it names, so later rules put the inner projections back).
    let ops: [(name: String, rules: (TensorCodec) -> String)] = [
        ("linear inputs", { "layers.*.attention.*=\($0); layers.*.mlp.*=\($0)" }),
        ("rms-norm", { "layers.*.attentionNorm=\($0); layers.*.mlpNorm=\($0); norm=\($0)" }),
        ("swiglu", { "layers.*.mlp=\($0); layers.*.mlp.*=fp32" }),
        ("attention", { "layers.*.attention=\($0); layers.*.attention.*=fp32" }),
    ]
    var configurations: [(name: String, estimators: String, codecs: String)] = []
    for (op, rules) in ops {
        for codec in [TensorCodec.bf16, .int8] { configurations.append(("\(op) \(codec)", "default=exact", "default=fp32; " + rules(codec))) }
    }
    configurations += [("lean codecs", "default=exact", lean), ("estimators", estimators, "default=fp32"), ("lean", estimators, lean)]

    let reference = try gradients(config: config, estimators: "default=exact", codecs: "default=fp32", seed: seed,
                                  inputs: inputs, targets: targets, batch: batch, seq: seq)
    var rows: [[String: Any]] = []
    for c in configurations {
        let g = try gradients(config: config, estimators: c.estimators, codecs: c.codecs, seed: seed,
                              inputs: inputs, targets: targets, batch: batch, seq: seq)
        var errors: [String: Double] = [:]
        for (group, paths) in parameterGroups(Array(reference.keys)) {
            errors[group] = relativeL2(paths.map { g[$0]! }, paths.map { reference[$0]! })
        }
        rows.append(["configuration": c.name, "estimators": c.estimators, "activations": c.codecs, "relative_l2": errors])
    }
    return ["config": configName, "batch": batch, "seq": seq, "rank": rank, "seed": seed,
            "groups": parameterGroups(Array(reference.keys)).map(\.0), "rows": rows]
}

/// The gradients of one forward + backward, by parameter path.
private func gradients(config: LlamaConfig, estimators: String, codecs: String, seed: UInt64,
                       inputs: [Int32], targets: [Int32], batch: Int, seq: Int) throws -> [String: Tensor] {
    var rng = RNG(seed: seed)
    let model = LlamaModel(config: config, rng: &rng)
    model.assignEstimators(try EstimatorAssignment(parsing: estimators), seed: seed, skip: { $0 == "head" })
    try model.assignActivationCodecs(ActivationCodecAssignment(parsing: codecs))
    Tape.codecNoise = CodecNoiseKey(seed: seed)
    model.loss(tokens: inputs, targets: targets, batch: batch, seq: seq).backward()
    return Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.0, $0.1.grad ?? Tensor.zeros($0.1.shape)) })
}

/// Parameter paths by group: embedding, q/k/v/o, norms, gate/up/down, head (in that order).
private func parameterGroups(_ paths: [String]) -> [(String, [String])] {
    let groups: [(String, (String) -> Bool)] = [
        ("embed", { $0.hasPrefix("embed.") }),
        ("wq", { $0.hasSuffix("attention.wq.weight") }), ("wk", { $0.hasSuffix("attention.wk.weight") }),
        ("wv", { $0.hasSuffix("attention.wv.weight") }), ("wo", { $0.hasSuffix("attention.wo.weight") }),
        ("norms", { $0.hasSuffix("Norm.weight") || $0 == "norm.weight" }),
        ("gate", { $0.hasSuffix("mlp.gate.weight") }), ("up", { $0.hasSuffix("mlp.up.weight") }),
        ("down", { $0.hasSuffix("mlp.down.weight") }),
        ("head", { $0 == "head.weight" }),
    ]
    return groups.map { name, member in (name, paths.filter(member).sorted()) }.filter { !$0.1.isEmpty }
}

private func relativeL2(_ a: [Tensor], _ b: [Tensor]) -> Double {
    var d = 0.0, n = 0.0
    for (x, y) in zip(a, b) {
        for i in 0..<x.count {
            let u = Double(x.pointer[i]), v = Double(y.pointer[i])
            d += (u - v) * (u - v)
            n += v * v
        }
    }
    return (d / Swift.max(n, 1e-300)).squareRoot()
}
