import Autograd
import Foundation
import Tensor

/// Unbiased random-projection backward (ALGORITHMS.md §3) with a fresh `V` every step.
///
/// `V` (n, k) is drawn from `(seed, stream, step)` in the forward to form `z = x V`, dropped, and
/// drawn again in the backward from the step recorded in `EstimatorSaved.step`; it is never
/// stored. `Ĝ = (δᵀ z) Vᵀ`. Both distributions have `E[V Vᵀ] = I`, so `E[Ĝ] = G`:
/// - `.gaussian`: entries N(0, 1/k); MSE `((n + 1)/k) ‖G‖²`.
/// - `.haar`: `√(n/k) Q`, Q Haar on St(n, k); MSE `(n/k − 1) ‖G‖²` (always below Gaussian's,
///   and exact at k = n).
public final class RandomProjectionEstimator: LinearEstimator, RecomputeStateful {
    public enum Distribution: String, Sendable { case gaussian, haar }

    public let inFeatures: Int
    public let rank: Int
    public let distribution: Distribution
    public private(set) var clock: EstimatorClock

    /// - Parameters:
    ///   - n: input features.
    ///   - rank: k, `1 ≤ k ≤ n`.
    public init(inFeatures n: Int, rank: Int, distribution: Distribution, seed: UInt64, stream: UInt64) {
        precondition(rank >= 1 && rank <= n, "RandomProjectionEstimator: rank \(rank) out of 1...\(n)")
        inFeatures = n; self.rank = rank; self.distribution = distribution
        clock = EstimatorClock(seed: seed, stream: stream)
    }

    public var description: String { "\(distribution.rawValue)(rank:\(rank))" }

    /// The projection of `step`, (n, k); the same every time it is asked for.
    public func projection(step: UInt64) -> Tensor {
        var rng = clock.rng(step: step, .projection)
        let n = inFeatures, k = rank
        switch distribution {
        case .gaussian:
            return Tensor.randomNormal([n, k], std: 1 / Float(k).squareRoot(), rng: &rng)
        case .haar:
            var q = Stiefel.haar(rows: n, cols: k, rng: &rng)
            q.scale(by: (Float(n) / Float(k)).squareRoot())
            return q
        }
    }

    /// - Parameter x: (N, n). Saves z (N, k) and the step.
    public func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved {
        precondition(x.shape[1] == inFeatures, "RandomProjectionEstimator: input \(x.shape) for n = \(inFeatures)")
        Checkpointing.willMutate(self)
        let step = clock.step
        clock.step += 1
        return EstimatorSaved(activations: [ProjectionMath.project(x, projection(step: step))], step: step)
    }

    /// - Parameter delta: (N, m). - Returns: (m, n).
    public func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
        ProjectionMath.lift(ProjectionMath.projectedGradient(delta, saved.activations[0]), projection(step: saved.step))
    }

    public func savedBytes(rows: Int, weightShape: [Int]) -> Int { rows * rank * 4 }

    public func stateTensors() -> [String: Tensor] { ["clock": clock.encoded] }

    public func loadState(_ tensors: [String: Tensor]) throws {
        try rejectUnknownState(tensors, known: ["clock"], owner: description)
        clock = try EstimatorClock(decoding: requireState(tensors, "clock", shape: [12], owner: description), owner: description)
    }

    public func captureRecomputeState() -> Any { clock }
    public func restoreRecomputeState(_ state: Any) { clock = state as! EstimatorClock }
}
