import Autograd
import Estimators
import Foundation
import Tensor

/// A pretraining run assembled from a `RunConfiguration`: tokenizer, data, model, estimators,
/// optimizer and trainer. Construction validates everything up front and throws `RunError` (or the
/// data/config/checkpoint error) with one line naming the problem.
public final class PretrainSession {
    public let configuration: RunConfiguration
    public let tokenizer: BPETokenizer
    public let dataset: TokenDataset
    public let modelConfig: LlamaConfig
    public let model: LlamaModel
    public let assignment: EstimatorAssignment
    public let optimizer: Optimizer
    public let trainer: Trainer

    /// - Parameter cacheDirectory: where the built-in corpus, tokenizers and token caches go when
    ///   the text's own folder is not writable.
    public init(_ config: RunConfiguration, cacheDirectory: URL = PretrainSession.defaultCacheDirectory) throws {
        configuration = config
        let t = config.training
        try Self.check(t)
        guard config.threads >= 1 else { throw RunError("--threads must be at least 1, got \(config.threads)") }
        if let rows = config.lossChunk, rows < 1 { throw RunError("--loss-chunk must be a positive number of rows, got \(rows)") }
        Parallel.setThreads(config.threads)

        assignment = try EstimatorAssignment(parsing: config.estimators)
        let optimizerSpec = try OptimizerSpec(parsing: config.optimizer)
        if optimizerSpec.updatesDuringBackward, t.gradAccum > 1 {
            let how = optimizerSpec.layerwise ? " (layerwise:on)" : ""
            throw RunError("--optimizer \(config.optimizer) updates inside the backward pass\(how), so it cannot accumulate gradients over --grad-accum \(t.gradAccum); use --grad-accum 1")
        }
        var mc = try Self.modelConfiguration(config.model)
        if let moe = config.moe { mc.moe = try parseMoESpec(moe) }

        // Data and tokenizer.
        let trainURL: URL
        if let path = config.dataFile {
            trainURL = URL(fileURLWithPath: path)
        } else {
            trainURL = try Self.builtinCorpus(sentences: config.corpusSentences, in: cacheDirectory)
        }
        let cache = { (url: URL) -> URL? in
            FileManager.default.isWritableFile(atPath: url.deletingLastPathComponent().path) ? nil : cacheDirectory
        }
        let vocab = config.vocabSize ?? mc.vocabSize
        guard vocab >= BPETokenizer.byteTokenCount else {
            throw RunError("--vocab-size must be at least \(BPETokenizer.byteTokenCount) (the byte tokens), got \(vocab)")
        }
        try? FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        tokenizer = try BPETokenizer.loadOrTrain(textFile: trainURL, vocabSize: vocab, cacheDirectory: cache(trainURL))
        if let valid = config.validationFile {
            let validURL = URL(fileURLWithPath: valid)
            dataset = try TokenDataset.load(trainFile: trainURL, validationFile: validURL, tokenizer: tokenizer,
                                            cacheDirectory: cache(trainURL) ?? cache(validURL))
        } else {
            dataset = try TokenDataset.load(textFile: trainURL, tokenizer: tokenizer, cacheDirectory: cache(trainURL))
        }
        try dataset.validate(seq: t.seq)

        // The model keeps the requested vocabulary even when a small corpus gives the tokenizer
        // fewer tokens (the extra rows stay unused), so a preset keeps its size and cost.
        mc.vocabSize = vocab
        guard t.seq <= mc.maxSequenceLength else {
            throw RunError("--seq \(t.seq) exceeds the model's maximum sequence length \(mc.maxSequenceLength)")
        }
        modelConfig = mc
        var rng = RNG(seed: t.seed, stream: 0x30DE1)
        model = LlamaModel(config: mc, rng: &rng)
        let assignment = self.assignment
        // The output head is fused with the loss and always exact.
        model.assignEstimators { path, layer in
            path == "head" ? nil : assignment.estimator(forPath: path, weightShape: layer.weight.shape, seed: t.seed)
        }
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

    /// `$SKETCHGRAD_CACHE`, else `~/.cache/sketchgrad`.
    public static var defaultCacheDirectory: URL {
        if let env = ProcessInfo.processInfo.environment["SKETCHGRAD_CACHE"], !env.isEmpty { return URL(fileURLWithPath: env) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/sketchgrad")
    }

    /// The estimator of every linear layer by path (the head is always exact).
    public var estimatorReport: [String: String] {
        Dictionary(uniqueKeysWithValues: model.namedLinears.map { ($0.0, "\($0.1.estimator)") })
    }

    static func check(_ t: TrainingOptions) throws {
        func positive(_ v: Int, _ flag: String) throws { guard v > 0 else { throw RunError("\(flag) must be positive, got \(v)") } }
        try positive(t.steps, "--steps"); try positive(t.batch, "--batch"); try positive(t.seq, "--seq")
        try positive(t.gradAccum, "--grad-accum"); try positive(t.evalBatches, "--eval-batches")
        guard t.evalEvery >= 0 else { throw RunError("--eval-every must be 0 (off) or positive, got \(t.evalEvery)") }
        guard t.warmup >= 0 else { throw RunError("--warmup must not be negative, got \(t.warmup)") }
        guard t.learningRate > 0, t.learningRate.isFinite else { throw RunError("--lr must be a positive number, got \(t.learningRate)") }
        guard (0...1).contains(t.minLearningRateRatio) else { throw RunError("--min-lr-ratio must be in [0, 1], got \(t.minLearningRateRatio)") }
        guard t.weightDecay >= 0 else { throw RunError("--weight-decay must not be negative, got \(t.weightDecay)") }
        guard t.clip >= 0 else { throw RunError("--clip must be 0 (off) or positive, got \(t.clip)") }
    }

    static func modelConfiguration(_ name: String) throws -> LlamaConfig {
        if name.hasSuffix(".json") || name.contains("/") {
            let url = URL(fileURLWithPath: name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw RunError("--config: cannot read \(url.path)")
            }
            return try LlamaConfig(huggingFaceJSON: data)
        }
        return try LlamaConfig.preset(name)
    }

    /// Writes the built-in corpus once into `directory` and returns its path.
    static func builtinCorpus(sentences: Int, in directory: URL) throws -> URL {
        let url = directory.appendingPathComponent("builtin-corpus-\(sentences).txt")
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
    /// Parses an estimator assignment and an optimizer spec, throwing their one-line errors.
    public static func validateSpecs(estimators: String, optimizer: String) throws -> (EstimatorAssignment, OptimizerSpec) {
        (try EstimatorAssignment(parsing: estimators), try OptimizerSpec(parsing: optimizer))
    }
}
