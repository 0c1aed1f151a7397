import Tensor

/// Random projection with variance-optimal sampling of eigendirections (ALGORITHMS.md §3,
/// "optimal"): `V = Q_J diag(1/√π_J)` from an `OptimalSketch` (shared by the layers that read one
/// input), `Ĝ = (δᵀ z) Vᵀ`, unbiased; each backward also folds `ĜᵀĜ` into the sketch's Σ.
public final class OptimalProjectionEstimator: SketchingEstimator {
    public let sketch: OptimalSketch

    /// A layer with its own sketch.
    /// - Parameters:
    ///   - n: input features.
    ///   - rank: k, `1 ≤ k ≤ n`.
    ///   - refresh: T ≥ 1, steps between eigendecompositions.
    ///   - decay: EMA decay in [0, 1).
    public convenience init(inFeatures n: Int, rank: Int, refresh: Int = 20, decay: Float = 0.99, seed: UInt64, stream: UInt64) {
        self.init(sharing: OptimalSketch(inFeatures: n, rank: rank, refresh: refresh, decay: decay, seed: seed, stream: stream))
    }

    /// A layer in the group of `sketch`.
    public init(sharing sketch: OptimalSketch) {
        self.sketch = sketch
        sketch.register(self)
    }

    public var description: String {
        "optimal(rank:\(sketch.rank),refresh:\(sketch.refreshInterval),decay:\(sketch.decay))"
    }
    public var clock: EstimatorClock { sketch.clock }

    /// `Ĝ = P Vᵀ` as its factors ((m, k), (n, k)). - Parameter delta: (N, m).
    public func factoredWeightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> (left: Tensor, right: Tensor)? {
        let v = sketch.basis(for: saved)
        let p = SketchExchange.globalProjectedGradient(delta, saved.activations[0])   // P (m, k), over every rank's batch
        sketch.accumulate(projected: p, basis: v, step: saved.step)
        return (p, v)
    }
}
