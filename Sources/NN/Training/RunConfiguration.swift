import Foundation

/// Everything that defines a pretraining run; saved as `run.json` in the output directory so a
/// resumed run rebuilds exactly the same model, data and optimizer.
public struct RunConfiguration: Codable, Equatable, Sendable {
    /// A preset name (`llama-20m`, ...) or the path of a Hugging Face `config.json`.
    public var model = "llama-20m"
    /// Training text; nil trains on the built-in synthetic corpus.
    public var dataFile: String?
    /// Validation text; nil holds out the last 5% of the training tokens.
    public var validationFile: String?
    /// Vocabulary of the model and the tokenizer's target; nil uses the model configuration's.
    /// A small corpus may give the tokenizer fewer tokens; the model keeps the requested size.
    public var vocabSize: Int?
    public var training = TrainingOptions()
    /// Per-layer estimator assignment text (see `EstimatorAssignment`).
    public var estimators = "default=exact"
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
}
