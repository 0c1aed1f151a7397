import Tensor

/// The exact backward (ALGORITHMS.md §1): saves `x`, `Ĝ = δᵀ x`. The reference for every other estimator.
public final class ExactEstimator: LinearEstimator {
    public init() {}
    public var description: String { "exact" }
    /// - Parameter x: (N, n); kept as is.
    public func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved { EstimatorSaved(activations: [x]) }
    /// - Parameter delta: (N, m). - Returns: (m, n).
    public func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
        Tensor.matmul(delta, saved.activations[0], transposeA: true)
    }
}

/// The activation-recompute baseline (ALGORITHMS.md §5) as an estimator slot.
///
/// Recompute cannot be done inside one linear op: what the op would recompute is its input `x`,
/// which comes from the rest of the block. So this estimator computes the exact gradient and saves
/// `x` exactly like `ExactEstimator` (its `savedBytes` says so: it claims no saving by itself),
/// and sets `requestsCheckpointing`, asking the model to run the enclosing block through
/// `checkpoint(_:_:)` (the `--checkpoint-blocks` behaviour). Inside a checkpointed segment the
/// first forward runs without recording, so nothing is saved then; `x` is saved only transiently
/// during the segment's recomputation in the backward. The memory saving therefore exists only
/// when the model honours `requestsCheckpointing`.
public final class RecomputeEstimator: LinearEstimator {
    public init() {}
    public var description: String { "recompute" }
    public var requestsCheckpointing: Bool { true }
    public func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved { EstimatorSaved(activations: [x]) }
    public func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
        Tensor.matmul(delta, saved.activations[0], transposeA: true)
    }
}
