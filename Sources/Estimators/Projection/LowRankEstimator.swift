import Autograd
import Tensor

/// Deterministic low-rank backward with an adaptive basis (ALGORITHMS.md §2; biased).
///
/// State: `V ∈ St(n, k)`, Haar-random at start, refreshed every `refreshInterval` steps in the
/// forward by one warm-started subspace-iteration step on the current input, `V ← qr(xᵀ (x V))`.
/// The forward saves `z = x V` (N, k); the backward forms `Ĝ = (δᵀ z) Vᵀ = G V Vᵀ`, dropping
/// `G (I − V Vᵀ)`. With `k = n`, `V Vᵀ = I` and the gradient is exact.
///
/// The design (an input-side basis tracked by warm-started subspace iteration) is the project's,
/// fixed in ALGORITHMS.md §2, not a paper's. The refresh runs at steps 0, T, 2T, … so the Haar
/// start is adapted to the data on the first call.
/// The basis is counted under `.optimizer` (persistent training state that is not a gradient).
public final class LowRankEstimator: LinearEstimator, RecomputeStateful {
    public let inFeatures: Int
    public let rank: Int
    public let refreshInterval: Int
    public private(set) var clock: EstimatorClock
    /// V, (n, k) with orthonormal columns.
    public private(set) var basis: Tensor

    /// - Parameters:
    ///   - n: input features (the weight's second dimension).
    ///   - rank: k, `1 ≤ k ≤ n`.
    ///   - refresh: T ≥ 1, steps between subspace-iteration refreshes.
    public init(inFeatures n: Int, rank: Int, refresh: Int = 20, seed: UInt64, stream: UInt64) {
        precondition(rank >= 1 && rank <= n, "LowRankEstimator: rank \(rank) out of 1...\(n)")
        precondition(refresh >= 1, "LowRankEstimator: refresh \(refresh) must be ≥ 1")
        inFeatures = n; self.rank = rank; refreshInterval = refresh
        clock = EstimatorClock(seed: seed, stream: stream)
        var rng = clock.rng(step: 0, .initialBasis)
        basis = keep(Stiefel.haar(rows: n, cols: rank, rng: &rng), as: .optimizer)
    }

    public var description: String { "lowrank(rank:\(rank),refresh:\(refreshInterval))" }

    /// Whether the forward at `step` refreshes the basis.
    public func refreshes(atStep step: UInt64) -> Bool { step % UInt64(refreshInterval) == 0 }

    /// - Parameter x: (N, n). Saves z (N, k); the basis goes in `context` (resident, not counted).
    public func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved {
        precondition(x.shape[1] == inFeatures, "LowRankEstimator: input \(x.shape) for n = \(inFeatures)")
        Checkpointing.willMutate(self)
        let step = clock.step
        if refreshes(atStep: step) { basis = keep(subspaceIteration(input: x, basis: basis), as: .optimizer) }
        clock.step += 1
        return EstimatorSaved(activations: [ProjectionMath.project(x, basis)], context: [basis], step: step)
    }

    /// - Parameter delta: (N, m). - Returns: `(δᵀ z) Vᵀ`, (m, n).
    public func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
        ProjectionMath.lift(ProjectionMath.projectedGradient(delta, saved.activations[0]), saved.context[0])
    }

    public func savedBytes(rows: Int, weightShape: [Int]) -> Int { rows * rank * 4 }

    public func stateBytes(weightShape: [Int]) -> Int { inFeatures * rank * 4 }

    public func stateTensors() -> [String: Tensor] { ["clock": clock.encoded, "basis": basis] }

    public func loadState(_ tensors: [String: Tensor]) throws {
        try rejectUnknownState(tensors, known: ["clock", "basis"], owner: description)
        let c = try EstimatorClock(decoding: requireState(tensors, "clock", shape: [12], owner: description), owner: description)
        let b = try requireState(tensors, "basis", shape: [inFeatures, rank], owner: description)
        clock = c
        basis = persistentCopy(b, .optimizer)
    }

    public func captureRecomputeState() -> Any { (clock, basis) }
    public func restoreRecomputeState(_ state: Any) { (clock, basis) = state as! (EstimatorClock, Tensor) }
}
