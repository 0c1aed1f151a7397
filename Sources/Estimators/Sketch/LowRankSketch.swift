import Tensor

/// The basis of the low-rank estimator (ALGORITHMS.md §2): `V ∈ St(n, k)`, Haar at start and
/// refreshed every `refreshInterval` steps (0, T, 2T, …) by one warm-started subspace-iteration
/// step on the current input, `V ← qr(xᵀ (x V))`. Counted under `.optimizer`.
public final class LowRankSketch: Sketch {
    public let refreshInterval: Int
    /// V, (n, k) with orthonormal columns.
    public private(set) var basis: Tensor

    public init(inFeatures n: Int, rank: Int, refresh: Int, seed: UInt64, stream: UInt64) {
        precondition(refresh >= 1, "LowRankSketch: refresh \(refresh) must be ≥ 1")
        refreshInterval = refresh
        var rng = EstimatorClock(seed: seed, stream: stream).rng(step: 0, .initialBasis)
        basis = keep(Stiefel.haar(rows: n, cols: rank, rng: &rng), as: .optimizer)
        super.init(inFeatures: n, rank: rank, seed: seed, stream: stream)
    }

    /// Whether the forward at `step` refreshes the basis.
    public override func refreshes(atStep step: UInt64) -> Bool { step % UInt64(refreshInterval) == 0 }

    override func prepare(input x: Tensor, step: UInt64) -> [Tensor] {
        if refreshes(atStep: step) { basis = keep(SketchExchange.subspaceIteration(input: x, basis: basis), as: .optimizer) }
        return [basis]
    }

    override func basis(step: UInt64, context: [Tensor]) -> Tensor { context[0] }

    /// V, which is also the step's basis.
    override var stateBytes: Int { inFeatures * rank * 4 }

    override var stateKeys: Set<String> { ["clock", "basis"] }
    override func stateTensors() -> [String: Tensor] { ["clock": clock.encoded, "basis": basis] }
    override func loadState(_ tensors: [String: Tensor], owner: String) throws {
        let b = try requireState(tensors, "basis", shape: [inFeatures, rank], owner: owner)
        try super.loadState(tensors, owner: owner)
        basis = persistentCopy(b, .optimizer)
    }

    override func captureBasis() -> Any { basis }
    override func restoreBasis(_ state: Any) { basis = state as! Tensor }
}
