/// Hyper-parameters of a pretraining run (the CLI flags of `llama-pretrain`).
public struct TrainingOptions: Codable, Equatable, Sendable {
    public var steps = 200
    public var batch = 8
    public var seq = 256
    public var learningRate: Float = 1e-3
    public var warmup = 20
    public var minLearningRateRatio: Float = 0.1
    public var weightDecay: Float = 0
    /// Global-norm clipping threshold; 0 disables clipping.
    public var clip: Float = 1
    public var gradAccum = 1
    public var seed: UInt64 = 0
    public var evalEvery = 50
    public var evalBatches = 4

    public init() {}

    /// Tokens consumed by one optimizer step.
    public var tokensPerStep: Int { batch * seq * gradAccum }
}
