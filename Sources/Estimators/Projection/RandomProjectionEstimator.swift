import Tensor

/// Unbiased random-projection backward (ALGORITHMS.md §3) with a fresh `V` every step.
///
/// `V` (n, k) comes from a `RandomSketch` keyed by `(seed, stream, step)` (shared by the layers
/// that read one input); the forward saves `z = x V` and the backward forms `Ĝ = (δᵀ z) Vᵀ`.
/// Both distributions have `E[V Vᵀ] = I`, so `E[Ĝ] = G`:
/// - `.gaussian`: entries N(0, 1/k); MSE `((n + 1)/k) ‖G‖²`.
/// - `.haar`: `√(n/k) Q`, Q Haar on St(n, k); MSE `(n/k − 1) ‖G‖²` (always below Gaussian's,
///   and exact at k = n).
public final class RandomProjectionEstimator: SketchingEstimator {
    public typealias Distribution = RandomSketch.Distribution
    public let sketch: RandomSketch

    /// A layer with its own sketch. - Parameters: n: input features; rank: k, `1 ≤ k ≤ n`.
    public convenience init(inFeatures n: Int, rank: Int, distribution: Distribution, seed: UInt64, stream: UInt64) {
        self.init(sharing: RandomSketch(inFeatures: n, rank: rank, distribution: distribution, seed: seed, stream: stream))
    }

    /// A layer in the group of `sketch`.
    public init(sharing sketch: RandomSketch) {
        self.sketch = sketch
        sketch.register(self)
    }

    public var description: String { "\(sketch.distribution.rawValue)(rank:\(sketch.rank))" }
    public var clock: EstimatorClock { sketch.clock }

    /// The projection of `step`, (n, k).
    public func projection(step: UInt64) -> Tensor { sketch.projection(step: step) }

    /// `Ĝ = (δᵀ z) Vᵀ` as its factors ((m, k), (n, k)). - Parameter delta: (N, m).
    public func factoredWeightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> (left: Tensor, right: Tensor)? {
        (SketchExchange.globalProjectedGradient(delta, saved.activations[0]), sketch.basis(for: saved))
    }
}
