import Foundation

/// `summary.json`: what a run was and what it reached.
public struct RunSummary: Codable, Sendable {
    public var configuration: RunConfiguration
    public var modelConfig: LlamaConfig
    public var parameters: Int
    /// The estimator of every linear layer, by module path.
    public var estimatorAssignment: [String: String]
    public var optimizer: String
    public var steps: Int
    /// Mean training loss over the last 10 steps.
    public var finalTrainLoss: Float
    public var finalValidationLoss: Float?
    public var finalValidationPerplexity: Float?
    /// Median over the run's steps (the first step, which warms caches, excluded when possible).
    public var tokensPerSecondMedian: Double
    public var msPerStepMedian: Double
    /// Largest per-step peak of each memory category over the run, plus `total`.
    public var peakMemory: [String: Int]
    public var peakSavedActivationBytes: Int
    public var peakRSSBytes: Int
    public var interrupted: Bool
    /// The step at which the loss, gradient norm or validation loss stopped being finite; the
    /// other fields describe the steps before it.
    public var divergedAtStep: Int?
    /// (step, validation loss) pairs.
    public var validationCurve: [[Float]]
    /// Data parallel: the number of ranks and the mean bytes each rank sent per step by
    /// category (`exact`, `sketch`, `powersgd`, `norms`); nil in one process.
    public var worldSize: Int? = nil
    public var exchangeBytesPerStep: [String: Int]? = nil

    /// `summary.json` is snake_case throughout, nested configurations included.
    public static let keyStyle = JSONEncoder.KeyEncodingStrategy.convertToSnakeCase

    enum CodingKeys: String, CodingKey {
        case configuration = "config", modelConfig = "model_config", parameters, estimatorAssignment = "estimator_assignment"
        case optimizer, steps, finalTrainLoss = "final_train_loss", finalValidationLoss = "final_val_loss"
        case finalValidationPerplexity = "final_val_perplexity", tokensPerSecondMedian = "tokens_per_s_median"
        case msPerStepMedian = "ms_per_step_median", peakMemory = "peak_memory"
        case peakSavedActivationBytes = "peak_saved_activation_bytes", peakRSSBytes = "peak_rss_bytes"
        case interrupted, divergedAtStep = "diverged_at_step", validationCurve = "val_curve", worldSize = "world_size", exchangeBytesPerStep = "exchange_bytes_per_step"
    }
}

/// Median of a non-empty array (0 for an empty one).
public func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
