import Autograd
import Estimators
import Tensor

/// How the ranks of a data-parallel run combine their work (ALGORITHMS.md §14). The `Trainer`
/// calls it at fixed points of every step; `SingleProcessExchange` makes each call the identity,
/// so the trainer stays the same for one process and for R.
///
/// Contract: every rank draws the global batch, trains on `share(of:)` of it (its loss the mean
/// over its part), then calls `exchangeGradients` after the backward and before the norm and the
/// optimizer step, so every rank steps with the same mean gradient.
public protocol GradientExchange: AnyObject {
    var rank: Int { get }
    var worldSize: Int { get }
    /// Called at the start of a step (resets the step's byte counts).
    func beginStep()
    /// Called before each backward of the step; `isLast` for the one that completes the
    /// gradients (an exchange may start sending them from the gradient-complete hooks).
    func willRunBackward(isLast: Bool)
    /// Replaces every gradient the estimators have not already exchanged by its mean over ranks
    /// (finishing what the hooks started).
    func exchangeGradients(_ parameters: [Parameter])
    /// The mean of `value` over ranks (the step's loss, for the metrics).
    func meanOverRanks(_ value: Float) -> Float
    /// Bytes sent this step by category (`ExchangeCategory` names); nil in one process.
    var bytesThisStep: [String: Int]? { get }
}

extension GradientExchange {
    /// This rank's rows of a global batch of `batch` rows: contiguous, in rank order.
    /// - Precondition: `batch` is divisible by `worldSize`.
    public func share(of batch: Int) -> Range<Int> {
        precondition(batch % worldSize == 0, "GradientExchange: batch \(batch) is not divisible by \(worldSize) ranks")
        let part = batch / worldSize
        return (rank * part)..<((rank + 1) * part)
    }
}

/// One process: nothing to exchange.
public final class SingleProcessExchange: GradientExchange {
    public init() {}
    public var rank: Int { 0 }
    public var worldSize: Int { 1 }
    public func beginStep() {}
    public func willRunBackward(isLast: Bool) {}
    public func exchangeGradients(_ parameters: [Parameter]) {}
    public func meanOverRanks(_ value: Float) -> Float { value }
    public var bytesThisStep: [String: Int]? { nil }
}
