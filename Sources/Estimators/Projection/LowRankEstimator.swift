import Tensor

/// Deterministic low-rank backward with an adaptive basis (ALGORITHMS.md §2; biased).
///
/// The basis `V ∈ St(n, k)` lives in a `LowRankSketch` (shared by the layers that read one
/// input): Haar at start, refreshed every `refresh` steps by one warm-started subspace-iteration
/// step on the current input. The forward saves `z = x V` (N, k); the backward forms
/// `Ĝ = (δᵀ z) Vᵀ = G V Vᵀ`, dropping `G (I − V Vᵀ)`. With `k = n`, `V Vᵀ = I` and the gradient is exact.
///
/// The design (an input-side basis tracked by warm-started subspace iteration) is the project's,
/// fixed in ALGORITHMS.md §2, not a paper's.
public final class LowRankEstimator: SketchingEstimator {
    public let sketch: LowRankSketch

    /// A layer with its own sketch.
    /// - Parameters:
    ///   - n: input features (the weight's second dimension).
    ///   - rank: k, `1 ≤ k ≤ n`.
    ///   - refresh: T ≥ 1, steps between subspace-iteration refreshes.
    public convenience init(inFeatures n: Int, rank: Int, refresh: Int = 20, seed: UInt64, stream: UInt64) {
        self.init(sharing: LowRankSketch(inFeatures: n, rank: rank, refresh: refresh, seed: seed, stream: stream))
    }

    /// A layer in the group of `sketch`.
    public init(sharing sketch: LowRankSketch) {
        self.sketch = sketch
        sketch.register(self)
    }

    public var description: String { "lowrank(rank:\(sketch.rank),refresh:\(sketch.refreshInterval))" }
    public var clock: EstimatorClock { sketch.clock }
    /// V, (n, k).
    public var basis: Tensor { sketch.basis }

    /// `Ĝ = (δᵀ z) Vᵀ` as its factors ((m, k), (n, k)). - Parameter delta: (N, m).
    public func factoredWeightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> (left: Tensor, right: Tensor)? {
        (SketchExchange.globalProjectedGradient(delta, saved.activations[0]), sketch.basis(for: saved))
    }
}
