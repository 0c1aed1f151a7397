import ArgumentParser
import Foundation
import NN

/// The model, batch and threads every training benchmark (`train`, `memory`, `gradient-error`) takes.
struct ModelBatchOptions: ParsableArguments {
    @Option(help: "Model preset (llama-20m, llama-60m, llama-100m, llama-130m) or a Hugging Face config.json path. Example: --config llama-60m")
    var config = "llama-20m"

    @Option(help: "Sequences per step. Example: --batch 8")
    var batch = 8

    @Option(help: "Tokens per sequence (at most the model's maximum). Example: --seq 256")
    var seq = 256

    @Option(help: "Kernel and BLAS threads. Example: --threads 2")
    var threads = 2

    func validate() throws {
        for (v, flag) in [(batch, "--batch"), (seq, "--seq")] where v < 1 { throw ValidationError("\(flag) must be positive, got \(v)") }
        guard (1...PretrainSession.maxThreads).contains(threads) else {
            throw ValidationError("--threads must be in 1...\(PretrainSession.maxThreads), got \(threads)")
        }
    }

    /// The preset or the config.json `--config` names, checked against `--seq`.
    func modelConfig() throws -> LlamaConfig {
        let c = try config.hasSuffix(".json") || config.contains("/")
            ? readLlamaConfig(from: URL(fileURLWithPath: config)) : LlamaConfig.preset(config)
        guard seq <= c.maxSequenceLength else {
            throw RunError("--seq \(seq) exceeds the model's maximum sequence length \(c.maxSequenceLength)")
        }
        return c
    }

    /// `config` as a file-name part (a config.json path by its folder's name).
    var configLabel: String {
        config.hasSuffix(".json") || config.contains("/")
            ? URL(fileURLWithPath: config).deletingLastPathComponent().lastPathComponent : config
    }
}
