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

        The checkpoint folder also holds tokenizer.json and tokenizer_config.json, so transformers' AutoModelForCausalLM and AutoTokenizer load it as it is (MoE models as Mixtral, or Qwen2-MoE with a shared expert).

        Data (--data, --valid-data): a UTF-8 text file; a .jsonl file of {"text": ...} documents (each followed by the end-of-sequence token) or of {"instruction", "context", "response"} records (databricks-dolly-15k), one example per row, loss on the response and its end-of-sequence token only, with the prompt

          ### Instruction:
          {instruction}

          ### Input:
          {context}

          ### Response:

        (the Input block only when the context is not empty); or token ids, .bin (uint16) or .u32.bin (uint32) little-endian as nanoGPT and llm.c write them, used without a tokenizer.

        Examples:
          llama-pretrain --data ../shared/data/shakespeare-train.txt --steps 200
          llama-pretrain --estimators 'default=exact; layers.*.mlp.*=gradlite(rank:64)'
          llama-pretrain --resume runs/default --steps 400
          llama-pretrain --init models/my-llama3 --data databricks-dolly-15k.jsonl --lr 2e-5 --seq 512
          llama-pretrain --config llama-60m --data fineweb.u32.bin --vocab-size 50304
          llama-pretrain --tokenizer models/Qwen2.5-0.5B --vocab-size 151936 --data notes.txt
          llama-pretrain compare --runs exact 'haar(rank:64)' --steps 100
          llama-pretrain tokenize --tokenizer runs/default/checkpoint --text notes.txt --out ids.safetensors
          llama-pretrain train-tokenizer --text corpus.txt --vocab-size 8000 --out tokenizers/corpus

        Before allocating anything it estimates the run's memory (parameters, gradients, optimizer state, activations) and refuses a run that does not fit in physical memory (or in SKETCHGRAD_MEMORY_LIMIT, e.g. 8G). A run whose loss, gradient norm or validation loss stops being finite stops with "training diverged at step N" and keeps its last good checkpoint.
        """,
        subcommands: [Compare.self, Tokenize.self, TrainTokenizer.self])

    @OptionGroup var flags: RunFlags
    @OptionGroup var shared: SharedFlags

    @Option(help: "Continue the run saved in this --out folder from its newest complete checkpoint; an interrupted run resumed with the same --steps and thread count is bit-identical to the uninterrupted one. The run's configuration, data and tokenizer are checked: only --steps (the new total) and --threads may change; other flags must match the run or be left out. Example: --resume runs/exact --steps 400")
    var resume: String?

    @Option(help: "Data parallel (mpirun with the MPI build): compress the exact gradient matrices with PowerSGD (error feedback, warm start, plain all-reduce for the first 10 steps), or none (default). Example: --dp-compress 'powersgd(rank:4)'")
    var dpCompress = "none"

    @Option(help: "Generate N tokens from --prompt at the end. Example: --sample 100")
    var sample = 0

    @Option(help: "Prompt for --sample. Example: --prompt 'ROMEO:'")
    var prompt = "The"

    @Option(help: "Sampling temperature for --sample (0: greedy). Example: --temperature 0.8")
    var temperature: Float = 0.8

    func validate() throws {
        guard (0...100_000).contains(sample) else { throw ValidationError("--sample must be in 0...100000, got \(sample)") }
        do { _ = try PretrainSession.parseCompression(dpCompress) } catch { throw ValidationError("\(error)") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be a finite number ≥ 0, got \(temperature)") }
    }

    func run() throws {
        Ranks.start()
        do {
            if Ranks.collective == nil, try PretrainSession.parseCompression(dpCompress) != nil {
                throw RunError("--dp-compress \(dpCompress) compresses the gradient exchange of a data-parallel run, and this is one process (start it with mpirun -n N from the MPI build, or leave the flag out)")
            }
            // A data-parallel run has no clean stop yet: Ctrl-C (mpirun forwards it) ends every rank.
            if Ranks.worldSize == 1 { Interrupt.install() }
            installOutOfMemoryExit(tool: "llama-pretrain")
            let session: PretrainSession
            let outURL: URL
            if let resume {
                let dir = URL(fileURLWithPath: resume)
                do {
                    session = try Ranks.build {
                        try PretrainSession.resume(from: dir, steps: flags.steps) { flags.applyGiven(shared, to: &$0) }
                    }
                } catch var error as ResumeChangeError {
                    error.flag = RunFlags.flag(forKey: error.difference.key)
                    throw error
                }
                outURL = shared.out.map { URL(fileURLWithPath: $0) } ?? dir
                if Ranks.isLeader {
                    print("resuming \(dir.path) at step \(session.trainer.step) of \(session.configuration.training.steps)")
                }
            } else {
                let configuration = flags.configuration(shared)
                session = try Ranks.build { try PretrainSession(configuration) }
                outURL = URL(fileURLWithPath: shared.out ?? "runs/default")
            }
            if let world = Ranks.collective { try session.enableDataParallel(world, bucketBytes: Ranks.bucketBytes, compression: dpCompress) }
            if Ranks.isLeader { for note in session.resumeNotes { print("note: \(note)") } }
            guard Ranks.isLeader else {
                // Other ranks train in step with rank 0 and write nothing.
                _ = try session.run(outDirectory: nil, reporter: nil, shouldStop: { false })
                try Ranks.checkIdenticalWeights(session)
                Ranks.finish()
                return
            }
            printHeader(session)
            let summary = try session.run(outDirectory: outURL, reporter: ProgressReporter(),
                                          shouldStop: { Ranks.worldSize == 1 && Interrupt.isRequested })
            printFooter(summary, out: outURL)
            try Ranks.checkIdenticalWeights(session)
            defer { Ranks.finish() }
            if sample > 0, let tokenizer = session.tokenizer {
                var rng = RNG(seed: session.configuration.training.seed, stream: 0x5A3D1E)
                let ids = session.model.generate(prompt: tokenizer.encode(prompt), count: sample,
                                                 maxContext: session.configuration.training.seq,
                                                 temperature: temperature,
                                                 vocabularyLimit: tokenizer.vocabSize, rng: &rng)
                print("sample: \(prompt)\(tokenizer.decode(ids))")
            } else if sample > 0 {
                print("sample: skipped (token-file data without --tokenizer has no text)")
            }
        } catch {
            fail(error)
        }
    }

    func printHeader(_ s: PretrainSession) {
        let c = s.configuration, t = c.training
        let m = s.modelConfig
        print("model \(c.model): \(s.model.parameterCount) parameters (hidden \(m.hiddenSize), \(m.numLayers) layers, \(m.numHeads) heads, vocab \(m.vocabSize)\(m.moe.map { ", MoE \($0.experts) experts top-\($0.topK)\($0.sharedExpert ? " + shared" : "")" } ?? ""))")
        print("data: \(s.dataset.source) — \(s.dataset.trainTokens.count) train / \(s.dataset.validationTokens.count) validation tokens, \(s.tokenizer.map { "tokenizer vocabulary \($0.vocabSize)" } ?? "token ids, no tokenizer")\(s.dataset.trainExamples.map { ", \($0.count) instruction examples (loss on responses)" } ?? "")")
        print("memory estimate: \(s.memoryEstimate)")
        print("estimators: \(s.assignment.description)  (the output head is fused with the loss and always exact)")
        print("saved activations: \(s.activationCodecs.description)")
        if Ranks.worldSize > 1 {
            print("data parallel: \(Ranks.worldSize) ranks, \(c.training.batch / Ranks.worldSize) sequences each per micro-batch; \((s.trainer.exchange as? DataParallelExchange)?.sketchedWeightCount ?? 0) weights exchange sketches, the rest exact gradients")
        }
        print("optimizer: \(s.optimizer.description); lr \(t.learningRate), warmup \(t.warmup), cosine to \(t.minLearningRateRatio)× at step \(t.scheduleHorizon), clip \(t.clip), batch \(t.batch)×\(t.seq)×\(t.gradAccum), threads \(c.threads)\(c.checkpointBlocks ? ", checkpointed blocks" : ""), loss chunk \(s.model.lossChunkSize ?? s.modelConfig.defaultLossChunkSize(tokens: t.batch * t.seq)) tokens")
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
    Ranks.fail("llama-pretrain: error: \("\(error)".oneLine)")
}

/// An allocation the memory pre-flight did not foresee ends the program with one line, not a trap.
func installOutOfMemoryExit(tool: String) {
    Memory.allocationFailureHandler = { failure in
        FileHandle.standardError.write(Data("\(tool): error: \(failure); try a smaller --batch, --seq or model\n".utf8))
        exit(1)
    }
}
