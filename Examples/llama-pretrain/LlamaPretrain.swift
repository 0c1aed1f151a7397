import ArgumentParser
import Foundation
import NN
import Tensor

struct LlamaPretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llama-pretrain",
        abstract: "Pretrain a toy LLaMA on the CPU with a gradient estimator per layer.",
        discussion: """
        With no flags it trains LLaMA-20M for 100 steps on the built-in corpus and writes metrics.jsonl, loss.svg, summary.json, run.json and checkpoint/ (Hugging Face names) into --out.

        Examples:
          llama-pretrain --data ../shared/data/shakespeare-train.txt --steps 200
          llama-pretrain --estimators 'default=exact; layers.*.mlp.*=gradlite(rank:64)'
          llama-pretrain --resume runs/default --steps 400
          llama-pretrain compare --runs exact 'haar(rank:64)' --steps 100
        """,
        subcommands: [Compare.self])

    @OptionGroup var flags: RunFlags

    @Option(help: "Continue the run saved in this --out folder; reproduces the uninterrupted run exactly (same thread count). Other model/data flags are taken from the saved run. Example: --resume runs/exact --steps 400")
    var resume: String?

    @Option(help: "Generate N tokens from --prompt at the end. Example: --sample 100")
    var sample = 0

    @Option(help: "Prompt for --sample. Example: --prompt 'ROMEO:'")
    var prompt = "The"

    @Option(help: "Sampling temperature for --sample (0: greedy). Example: --temperature 0.8")
    var temperature: Float = 0.8

    func run() throws {
        do {
            Interrupt.install()
            let session: PretrainSession
            let outURL: URL
            if let resume {
                let dir = URL(fileURLWithPath: resume)
                session = try PretrainSession.resume(from: dir, steps: flags.steps)
                outURL = flags.out.map { URL(fileURLWithPath: $0) } ?? dir
                print("resuming \(dir.path) at step \(session.trainer.step) of \(session.configuration.training.steps)")
            } else {
                session = try PretrainSession(flags.configuration())
                outURL = URL(fileURLWithPath: flags.out ?? "runs/default")
            }
            printHeader(session)
            let summary = try session.run(outDirectory: outURL, reporter: ProgressReporter(),
                                          shouldStop: { Interrupt.isRequested })
            printFooter(summary, out: outURL)
            if sample > 0 {
                var rng = RNG(seed: session.configuration.training.seed, stream: 0x5A3D1E)
                let ids = session.model.generate(prompt: session.tokenizer.encode(prompt), count: sample,
                                                 maxContext: session.configuration.training.seq,
                                                 temperature: temperature,
                                                 vocabularyLimit: session.tokenizer.vocabSize, rng: &rng)
                print("sample: \(prompt)\(session.tokenizer.decode(ids))")
            }
        } catch {
            fail(error)
        }
    }

    func printHeader(_ s: PretrainSession) {
        let c = s.configuration, t = c.training
        let m = s.modelConfig
        print("model \(c.model): \(s.model.parameterCount) parameters (hidden \(m.hiddenSize), \(m.numLayers) layers, \(m.numHeads) heads, vocab \(m.vocabSize)\(m.moe.map { ", MoE \($0.experts) experts top-\($0.topK)\($0.sharedExpert ? " + shared" : "")" } ?? ""))")
        print("data: \(s.dataset.source) — \(s.dataset.trainTokens.count) train / \(s.dataset.validationTokens.count) validation tokens, tokenizer vocabulary \(s.tokenizer.vocabSize)")
        print("estimators: \(s.assignment.description)  (the output head is fused with the loss and always exact)")
        print("optimizer: \(s.optimizer.description); lr \(t.learningRate), warmup \(t.warmup), cosine to \(t.minLearningRateRatio)×, clip \(t.clip), batch \(t.batch)×\(t.seq)×\(t.gradAccum), threads \(c.threads)\(c.checkpointBlocks ? ", checkpointed blocks" : ""), loss chunk \(s.model.lossChunkSize ?? s.modelConfig.defaultLossChunkSize(tokens: t.batch * t.seq)) tokens")
    }

    func printFooter(_ s: RunSummary, out: URL) {
        var line = String(format: "done: %d steps, train loss %.4f", s.steps, s.finalTrainLoss)
        if let v = s.finalValidationLoss { line += String(format: ", validation loss %.4f (perplexity %.2f)", v, s.finalValidationPerplexity ?? .nan) }
        line += String(format: ", %.0f tokens/s median", s.tokensPerSecondMedian)
        print(line)
        let mem = ["parameter", "gradient", "optimizer", "activation", "workspace", "total"]
            .map { "\($0) \(formatBytes(s.peakMemory[$0] ?? 0))" }.joined(separator: ", ")
        print("peak memory: \(mem); saved activations \(formatBytes(s.peakSavedActivationBytes)); process RSS \(formatBytes(s.peakRSSBytes))")
        print("outputs: \(out.path)/{metrics.jsonl,loss.svg,summary.json,checkpoint/}")
    }
}

/// Prints one line naming the problem and exits non-zero.
func fail(_ error: Error) -> Never {
    FileHandle.standardError.write(Data("llama-pretrain: error: \(error)\n".utf8))
    exit(1)
}
