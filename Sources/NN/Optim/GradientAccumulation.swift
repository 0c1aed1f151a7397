/// Bookkeeping for gradient accumulation over `microBatches` backward passes per optimizer step.
///
/// Gradients add up in `Parameter.grad` until `zeroGrad()`, so accumulation needs no buffers of
/// its own: scale each micro-batch's loss by `lossScale` (the mean over the micro-batches), run
/// its backward, and step when `advance()` says so.
/// ```swift
/// var accumulation = GradientAccumulation(microBatches: 4)
/// for batch in batches {
///     (loss(batch) * accumulation.lossScale).backward()
///     if accumulation.advance() { clipGradientNorm(ps, maxNorm: 1); optimizer.step(); optimizer.zeroGrad() }
/// }
/// ```
/// Not possible with LOMO/AdaLomo, which consume each gradient inside its backward.
public struct GradientAccumulation: Equatable, Sendable {
    public let microBatches: Int
    /// Micro-batches done since the last step.
    public private(set) var done = 0

    public init(microBatches: Int) {
        precondition(microBatches >= 1, "GradientAccumulation: microBatches \(microBatches) must be ≥ 1")
        self.microBatches = microBatches
    }

    /// Factor for each micro-batch loss: `1 / microBatches`.
    public var lossScale: Float { 1 / Float(microBatches) }

    /// Counts one finished micro-batch; true when the optimizer should step now (and restarts the count).
    public mutating func advance() -> Bool {
        done += 1
        if done == microBatches { done = 0; return true }
        return false
    }
}
