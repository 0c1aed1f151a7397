import Tensor

/// A fresh random basis every step (ALGORITHMS.md §3), a pure function of `(seed, stream, step)`
/// (`Sketch` keeps the draw of the step in flight for the backward). `E[V Vᵀ] = I`:
/// - `.gaussian`: entries N(0, 1/k);
/// - `.haar`: `√(n/k) Q`, Q Haar on St(n, k).
public final class RandomSketch: Sketch {
    public enum Distribution: String, Sendable { case gaussian, haar }
    public let distribution: Distribution

    public init(inFeatures n: Int, rank: Int, distribution: Distribution, seed: UInt64, stream: UInt64) {
        self.distribution = distribution
        super.init(inFeatures: n, rank: rank, seed: seed, stream: stream)
    }

    /// The projection of `step`, (n, k); the same every time it is asked for.
    public func projection(step: UInt64) -> Tensor {
        var rng = clock.rng(step: step, .projection)
        let n = inFeatures, k = rank
        var v: Tensor
        switch distribution {
        case .gaussian:
            v = Tensor.randomNormal([n, k], std: 1 / Float(k).squareRoot(), rng: &rng)
        case .haar:
            v = Stiefel.haar(rows: n, cols: k, rng: &rng)
            v.scale(by: (Float(n) / Float(k)).squareRoot())
        }
        return v
    }

    override func basis(step: UInt64, context: [Tensor]) -> Tensor { projection(step: step) }
}
