/// Hyper-parameters of a pretraining run (the CLI flags of `llama-pretrain`).
public struct TrainingOptions: Codable, Equatable, Sendable {
    /// Optimizer steps to reach; a resume may change it (the new total).
    public var steps = 200
    public var batch = 8
    public var seq = 256
    public var learningRate: Float = 1e-3
    public var warmup = 20
    public var minLearningRateRatio: Float = 0.1
    /// The step at which the cosine schedule reaches `minLearningRateRatio`; nil means `steps`.
    /// A run fixes it when it is created, so extending the run with a larger `steps` keeps the
    /// schedule (later steps run at the final learning rate) and resuming never changes it.
    public var scheduleSteps: Int?
    public var weightDecay: Float = 0
    /// Global-norm clipping threshold; 0 disables clipping.
    public var clip: Float = 1
    public var gradAccum = 1
    public var seed: UInt64 = 0
    public var evalEvery = 50
    public var evalBatches = 4
    /// Save a checkpoint every N steps (and always at the end); 0 saves at the end only.
    public var saveEvery = 100

    public init() {}

    /// Tokens consumed by one optimizer step.
    public var tokensPerStep: Int { batch * seq * gradAccum }

    /// The horizon of the learning-rate schedule.
    public var scheduleHorizon: Int { scheduleSteps ?? steps }
}
