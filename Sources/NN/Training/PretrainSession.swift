import Autograd
import Estimators
import Foundation
import Tensor

/// A pretraining run assembled from a `RunConfiguration`: tokenizer, data, model, estimators,
/// optimizer and trainer. Construction validates everything up front and throws `RunError` (or the
/// data/config/checkpoint error) with one line naming the problem.
public final class PretrainSession {
    public let configuration: RunConfiguration
    /// Nil when training on a token file without `--tokenizer`.
    public let tokenizer: BPETokenizer?
    public let dataset: TokenDataset
    public let modelConfig: LlamaConfig
    public let model: LlamaModel
    public let assignment: EstimatorAssignment
    public let activationCodecs: ActivationCodecAssignment
    public let optimizer: Optimizer
    public let trainer: Trainer

    /// What the run read, by content (written to `run.json` and every checkpoint).
    public let inputs: RunInputs
    /// The memory pre-flight's estimate for one training step (`MemoryEstimate.training`).
    public let memoryEstimate: MemoryEstimate
    /// The step of the checkpoint on disk (restored by `resume`, or written by this session).
    public internal(set) var checkpointStep: Int?
    /// What a resume wants the user to know (how an extended schedule continues, a thread change).
    public internal(set) var resumeNotes: [String] = []

    /// - Parameters:
    ///   - cacheDirectory: where the built-in corpus, tokenizers and token caches go when the
    ///     text's own folder is not writable.
    ///   - memoryLimit: what the memory pre-flight compares the estimate with (default: this
    ///     process's limit, `MemoryLimit.current()`).
    public init(_ config: RunConfiguration, cacheDirectory: URL = PretrainSession.defaultCacheDirectory,
                memoryLimit: MemoryLimit? = nil) throws {
        var config = config.resolvingPaths()
        // The schedule is fixed when the run is created (a resume passes it in run.json).
        if config.training.scheduleSteps == nil { config.training.scheduleSteps = config.training.steps }
        configuration = config
        let t = config.training
        try Self.check(t)
        guard (1...Self.maxThreads).contains(config.threads) else {
            throw RunError("--threads must be in 1...\(Self.maxThreads), got \(config.threads)")
        }
        if let rows = config.lossChunk, rows < 1 { throw RunError("--loss-chunk must be a positive number of rows, got \(rows)") }

        assignment = try EstimatorAssignment(parsing: config.estimators)
        activationCodecs = try ActivationCodecAssignment(parsing: config.activations)
        let optimizerSpec = try OptimizerSpec(parsing: config.optimizer)
        if optimizerSpec.updatesDuringBackward, t.gradAccum > 1 {
            let how = optimizerSpec.layerwise ? " (layerwise:on)" : ""
            throw RunError("--optimizer \(config.optimizer) updates inside the backward pass\(how), so it cannot accumulate gradients over --grad-accum \(t.gradAccum); use --grad-accum 1")
        }
        var mc = try Self.modelConfiguration(config.model)
        if let moe = config.moe {
            guard config.initFrom == nil else { throw RunError("--moe cannot change the architecture of an --init model") }
            mc.moe = try parseMoESpec(moe)
        }
        if config.initFrom != nil, let v = config.vocabSize, v != mc.vocabSize {
            throw RunError("--vocab-size \(v) differs from the --init model's vocab_size \(mc.vocabSize)")
        }
        // The model keeps the requested vocabulary even when a small corpus gives the tokenizer
        // fewer tokens (the extra rows stay unused), so a preset keeps its size and cost.
        let vocab = config.vocabSize ?? mc.vocabSize
        mc.vocabSize = vocab
        try mc.validate()
        guard t.seq <= mc.maxSequenceLength else {
            throw RunError("--seq \(t.seq) exceeds the model's maximum sequence length \(mc.maxSequenceLength)")
        }
        modelConfig = mc

        // Memory pre-flight, before anything large is read or allocated.
        // Text and its tokens: about twice the file (4-byte ids, ~4 bytes of text per token, plus the bytes).
        let dataBytes = [config.dataFile, config.validationFile].compactMap { $0 }.reduce(0) { total, path in
            let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int ?? 0
            return total + Swift.min(size, Int.max / 4) * 2
        }
        do {
            memoryEstimate = try MemoryEstimate.training(
                model: mc, batch: t.batch, seq: t.seq, estimators: assignment, codecs: activationCodecs,
                optimizer: optimizerSpec, checkpointBlocks: config.checkpointBlocks, lossChunk: config.lossChunk,
                dataBytes: dataBytes)
        } catch let error as SizeOverflowError {
            throw RunError("\(error): the run is too large for this machine")
        }
        try memoryEstimate.check(against: memoryLimit ?? MemoryLimit.current(),
                                 advice: "try a smaller --batch, --seq or model, --checkpoint-blocks, or estimators that save less (--estimators)")
        Parallel.setThreads(config.threads)

        // Tokenizer and data, and their fingerprints (a resume checks them).
        try? FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        (tokenizer, dataset) = try Self.loadData(config, vocabSize: vocab, cacheDirectory: cacheDirectory)
        try dataset.validate(seq: t.seq)
        let trainURL = try config.dataFile.map { URL(fileURLWithPath: $0) }
            ?? Self.builtinCorpus(sentences: config.corpusSentences, in: cacheDirectory)
        inputs = RunInputs(data: try FileFingerprint(of: trainURL),
                           validation: try config.validationFile.map { try FileFingerprint(of: URL(fileURLWithPath: $0)) },
                           tokenizer: tokenizer.map { FNV1a.hex($0.fingerprint) } ?? "none (token ids)")

        var rng = RNG(seed: t.seed, stream: 0x30DE1)
        model = LlamaModel(config: mc, rng: &rng)
        if let initFrom = config.initFrom {
            try loadWeights(into: model, from: URL(fileURLWithPath: initFrom), nameMap: .huggingFace(mc))
        }
        // The output head is fused with the loss and always exact.
        model.assignEstimators(assignment, seed: t.seed, skip: { $0 == "head" })
        try model.assignActivationCodecs(activationCodecs)
        let estimators = model.namedLinears.map(\.1.estimator)
        // `recompute` is the checkpointing baseline: it only saves memory when blocks are recomputed.
        model.checkpointBlocks = config.checkpointBlocks || estimators.contains { $0.requestsCheckpointing }
        model.lossChunkSize = config.lossChunk
        if t.gradAccum > 1, estimators.contains(where: { ($0 as? GradLiteEstimator)?.errorFeedback == true }) {
            throw RunError("gradlite with feedback:on returns its whole error-feedback memory each backward, so it cannot accumulate gradients; use --grad-accum 1")
        }
        optimizer = optimizerSpec.make(parameters: model.namedParameters().filter { $0.1.requiresGrad },
                                       learningRate: t.learningRate, weightDecay: t.weightDecay, seed: t.seed)
        trainer = Trainer(model: model, optimizer: optimizer, data: dataset, options: t)
    }

    /// Upper bound of tokens per optimizer step (2³²); a larger product is a typo that would run
    /// for days, not a batch.
    public static let maxTokensPerStep = 1 << 32

    /// Upper bound of `--threads` (OpenBLAS pools are far smaller).
    public static let maxThreads = 1024

    /// The record `run.json` and every checkpoint keep.
    public var record: RunRecord { RunRecord(configuration: configuration, inputs: inputs) }

    /// `$SKETCHGRAD_CACHE`, else `~/.cache/sketchgrad`.
    public static var defaultCacheDirectory: URL {
        if let env = ProcessInfo.processInfo.environment["SKETCHGRAD_CACHE"], !env.isEmpty { return URL(fileURLWithPath: env) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/sketchgrad")
    }

    /// The estimator of every linear layer by path (the head is always exact).
    public var estimatorReport: [String: String] {
        Dictionary(uniqueKeysWithValues: model.namedLinears.map { ($0.0, "\($0.1.estimator)") })
    }

    /// Rejects sizes that are not positive or overflow, and hyper-parameters that are not finite
    /// or out of range, naming the flag.
    static func check(_ t: TrainingOptions) throws {
        func positive(_ v: Int, _ flag: String) throws { guard v > 0 else { throw RunError("\(flag) must be positive, got \(v)") } }
        try positive(t.steps, "--steps"); try positive(t.batch, "--batch"); try positive(t.seq, "--seq")
        try positive(t.gradAccum, "--grad-accum"); try positive(t.evalBatches, "--eval-batches")
        if let s = t.scheduleSteps { try positive(s, "the schedule's length (scheduleSteps in run.json)") }
        guard t.evalEvery >= 0 else { throw RunError("--eval-every must be 0 (off) or positive, got \(t.evalEvery)") }
        guard t.saveEvery >= 0 else { throw RunError("--save-every must be 0 (at the end only) or positive, got \(t.saveEvery)") }
        guard t.warmup >= 0 else { throw RunError("--warmup must not be negative, got \(t.warmup)") }
        let tokens: Int
        do { tokens = try Size.product(t.batch, t.seq, t.gradAccum, what: "tokens per step (--batch × --seq × --grad-accum)") } catch {
            throw RunError("\(error)")
        }
        guard tokens <= Self.maxTokensPerStep else {
            throw RunError("--batch × --seq × --grad-accum = \(tokens) tokens per step exceeds \(Self.maxTokensPerStep) (about a thousand times the largest published batches)")
        }
        guard t.learningRate > 0, t.learningRate.isFinite else { throw RunError("--lr must be a positive finite number, got \(t.learningRate)") }
        guard (0...1).contains(t.minLearningRateRatio) else { throw RunError("--min-lr-ratio must be in [0, 1], got \(t.minLearningRateRatio)") }
        guard t.weightDecay >= 0, t.weightDecay.isFinite else { throw RunError("--weight-decay must be a finite number ≥ 0, got \(t.weightDecay)") }
        guard t.clip >= 0, t.clip.isFinite else { throw RunError("--clip must be 0 (off) or a positive finite number, got \(t.clip)") }
    }

    /// Whether `--config` names a file (a path or a `.json` name) rather than a preset.
    static func isModelFile(_ name: String) -> Bool { name.hasSuffix(".json") || name.contains("/") }

    static func modelConfiguration(_ name: String) throws -> LlamaConfig {
        if isModelFile(name) {
            let url = URL(fileURLWithPath: name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw RunError("--config: cannot read \(url.path)")
            }
            do { return try LlamaConfig(huggingFaceJSON: data) } catch { throw RunError("--config \(url.path): \(error)") }
        }
        return try LlamaConfig.preset(name)
    }

    /// Writes the built-in corpus once into `directory` and returns its path.
    static func builtinCorpus(sentences: Int, in directory: URL) throws -> URL {
        let url = directory.appendingPathComponent("builtin-corpus-\(SyntheticCorpus.version)-\(sentences).txt")
        if FileManager.default.fileExists(atPath: url.path) { return url }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(SyntheticCorpus.generate(sentences: sentences, seed: 0x5EED).utf8).write(to: url, options: .atomic)
        } catch {
            throw RunError("cannot write the built-in corpus to \(url.path): \(error.localizedDescription)")
        }
        return url
    }
}

extension PretrainSession {
    /// Parses an estimator assignment, an activation codec assignment and an optimizer spec,
    /// throwing their one-line errors.
    public static func validateSpecs(estimators: String, activations: String = "default=fp32",
                                     optimizer: String) throws -> (EstimatorAssignment, ActivationCodecAssignment, OptimizerSpec) {
        (try EstimatorAssignment(parsing: estimators), try ActivationCodecAssignment(parsing: activations),
         try OptimizerSpec(parsing: optimizer))
    }
}
