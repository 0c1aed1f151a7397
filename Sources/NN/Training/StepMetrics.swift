import Tensor

/// What one optimizer step measured; one line of `metrics.jsonl`.
public struct StepMetrics: Codable, Sendable {
    public var step: Int
    public var loss: Float
    public var learningRate: Float
    public var tokensPerSecond: Double
    /// Global gradient norm before clipping (nil when the optimizer frees gradients during the backward).
    public var gradNorm: Float?
    public var msForward: Double
    public var msBackward: Double
    public var msOptimizer: Double
    /// Peak bytes per memory category during this step, plus `total`.
    public var peakMemory: [String: Int]
    /// Bytes per category live when the step's total peaked (summing to its `total`); nil in
    /// metrics written before this field existed.
    public var memoryAtPeak: [String: Int]?
    /// Peak bytes the tape held as saved activations during this step.
    public var savedActivationBytes: Int
    public var validationLoss: Float?
    /// True when the update was skipped because the gradient norm was not finite (nil otherwise).
    public var skipped: Bool?
    /// Data parallel: bytes this rank sent in the step's all-reduces by category (`exact`,
    /// `sketch`, `powersgd`, `norms`); nil in one process.
    public var exchangeBytes: [String: Int]?

    enum CodingKeys: String, CodingKey {
        case step, loss, learningRate = "lr", tokensPerSecond = "tokens_per_s", gradNorm = "grad_norm"
        case msForward = "ms_forward", msBackward = "ms_backward", msOptimizer = "ms_optimizer"
        case peakMemory = "peak_memory", memoryAtPeak = "memory_at_peak", savedActivationBytes = "saved_activation_bytes", validationLoss = "val_loss"
        case skipped, exchangeBytes = "exchange_bytes"
    }
}
