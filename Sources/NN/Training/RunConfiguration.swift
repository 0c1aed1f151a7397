import Foundation

/// Everything that defines a pretraining run; saved as `run.json` in the output directory so a
/// resumed run rebuilds exactly the same model, data and optimizer.
public struct RunConfiguration: Codable, Equatable, Sendable {
    /// A preset name (`llama-20m`, ...) or the path of a Hugging Face `config.json`.
    public var model = "llama-20m"
    /// Training data: text, JSONL (`.jsonl`) or a token file (`.bin`, `.u32.bin`); nil trains on
    /// the built-in synthetic corpus.
    public var dataFile: String?
    /// Validation data of the same kind; nil holds out the last 5% of the training tokens (of the
    /// records, for instruction JSONL).
    public var validationFile: String?
    /// A Hugging Face LLaMA folder to fine-tune (`--init`): `model` is then its config.json, its
    /// weights initialise the model and its tokenizer.json is the tokenizer.
    public var initFrom: String?
    /// A tokenizer.json, or a folder holding one, used instead of training a tokenizer.
    public var tokenizerFile: String?
    /// Vocabulary of the model and the tokenizer's target; nil uses the model configuration's.
    /// A small corpus may give the tokenizer fewer tokens; the model keeps the requested size.
    public var vocabSize: Int?
    public var training = TrainingOptions()
    /// Per-layer estimator assignment text (see `EstimatorAssignment`).
    public var estimators = "default=exact"
    /// Saved-tensor codec assignment text (see `ActivationCodecAssignment`).
    public var activations = "default=fp32"
    /// Optimizer spec text (see `OptimizerSpec`).
    public var optimizer = "adamw"
    /// `experts:8,topk:2,shared:1` swaps every MLP for a mixture of experts.
    public var moe: String?
    /// Recompute every transformer block in the backward instead of saving its activations.
    public var checkpointBlocks = false
    /// Rows per chunk of the fused head + loss; nil sizes it from the workspace budget
    /// (`LlamaConfig.defaultLossChunkSize(tokens:)`).
    public var lossChunk: Int?
    /// Sentences of the built-in corpus.
    public var corpusSentences = SyntheticCorpus.defaultSentences
    /// Kernel and BLAS threads.
    public var threads = ProcessInfo.processInfo.activeProcessorCount

    public init() {}

    /// The same run with every file path absolute (resolved against the current directory), so
    /// `run.json` means the same files from anywhere.
    public func resolvingPaths() -> RunConfiguration {
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        var c = self
        c.dataFile = dataFile.map(absolute)
        c.validationFile = validationFile.map(absolute)
        c.initFrom = initFrom.map(absolute)
        c.tokenizerFile = tokenizerFile.map(absolute)
        if PretrainSession.isModelFile(model) { c.model = absolute(model) }
        return c
    }
}
