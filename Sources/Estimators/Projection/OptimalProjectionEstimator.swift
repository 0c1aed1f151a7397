import Autograd
import Tensor

/// Random projection with variance-optimal sampling of eigendirections (ALGORITHMS.md §3, "optimal").
///
/// State: `Σ = EMA(Ĝᵀ Ĝ)` (n, n, decay `decay`), updated in the backward; every
/// `refreshInterval` steps the forward eigendecomposes it, `Σ = Q diag(σ) Qᵀ`, and sets the
/// inclusion probabilities π by water-filling (`waterFillingProbabilities`, Σ πᵢ = k), floored (below).
/// Each step draws k indices J with marginals π by systematic sampling (one uniform from
/// `(seed, stream, step)`, regenerated in the backward) and uses `V = Q_J diag(1/√π_J)`, so
/// `E[V Vᵀ] = Q Qᵀ = I` and `E[Ĝ] = G`; MSE `Σᵢ (1/πᵢ − 1) ‖G qᵢ‖²`.
/// Until the first eigendecomposition (steps before the first refresh with statistics) it falls
/// back to Haar–Stiefel.
///
/// Project's reading, as ALGORITHMS.md fixes it: the EMA of `ĜᵀĜ` is of the *estimate*, so it is
/// biased towards rarely sampled directions and π settles near `σ^{1/3}` instead of `σ^{1/2}`; a
/// reweighted accumulator would be unbiased but collapses, so it is deliberately not used.
/// The water-filling probabilities are floored, `π' = (1 − ε)·π + ε·k/n` with ε =
/// `probabilityFloor` (0.1): still `Σ π' = k` and `π' ≤ 1`, and every direction keeps
/// `π' ≥ ε·k/n`, so a direction whose σ is 0 after a refresh is still drawn, Σ keeps seeing it, and
/// `1/√π'` stays bounded (without the floor such a direction would drop out for good).
/// If an eigendecomposition fails (`refreshFailures` counts it), the previous distribution is
/// kept: still unbiased, just not re-tuned.
///
/// Memory: Σ and Q are n×n each, counted under `.optimizer`.
public final class OptimalProjectionEstimator: LinearEstimator, RecomputeStateful {
    public let inFeatures: Int
    public let rank: Int
    public let refreshInterval: Int
    public let decay: Float
    public private(set) var clock: EstimatorClock
    /// `EMA(Ĝᵀ Ĝ)`, (n, n); nil until the first backward.
    public private(set) var covariance: Tensor?
    /// Q, (n, n), eigenvectors of Σ by descending eigenvalue; nil until the first refresh.
    public private(set) var eigenbasis: Tensor?
    /// π, (n), summing to k; nil until the first refresh.
    public private(set) var probabilities: Tensor?
    /// Refreshes skipped because the eigendecomposition failed or Σ was not finite.
    public private(set) var refreshFailures = 0
    /// ε of the probability floor (ALGORITHMS.md §3).
    public static let probabilityFloor: Float = 0.1

    /// - Parameters:
    ///   - n: input features.
    ///   - rank: k, `1 ≤ k ≤ n`.
    ///   - refresh: T ≥ 1, steps between eigendecompositions.
    ///   - decay: EMA decay in [0, 1).
    public init(inFeatures n: Int, rank: Int, refresh: Int = 20, decay: Float = 0.99, seed: UInt64, stream: UInt64) {
        precondition(rank >= 1 && rank <= n, "OptimalProjectionEstimator: rank \(rank) out of 1...\(n)")
        precondition(refresh >= 1, "OptimalProjectionEstimator: refresh \(refresh) must be ≥ 1")
        precondition(decay >= 0 && decay < 1, "OptimalProjectionEstimator: decay \(decay) not in [0, 1)")
        inFeatures = n; self.rank = rank; refreshInterval = refresh; self.decay = decay
        clock = EstimatorClock(seed: seed, stream: stream)
    }

    public var description: String { "optimal(rank:\(rank),refresh:\(refreshInterval),decay:\(decay))" }

    /// Whether the forward at `step` would eigendecompose Σ.
    public func refreshes(atStep step: UInt64) -> Bool { step % UInt64(refreshInterval) == 0 && covariance != nil }

    /// Eigendecomposes Σ and sets π (ALGORITHMS.md §3: eigenvalues clamped at 0 inside the water-filling).
    private func refresh() {
        guard let sigma = covariance, sigma.isAllFinite, let (values, vectors) = try? sigma.symmetricEigen() else {
            refreshFailures += 1
            return
        }
        eigenbasis = keep(vectors, as: .optimizer)
        let epsilon = Self.probabilityFloor, uniform = Float(rank) / Float(inFeatures)
        let floored = waterFillingProbabilities(values.scalars, k: rank).map { Swift.min(1, (1 - epsilon) * $0 + epsilon * uniform) }
        probabilities = keep(Tensor(floored), as: .optimizer)
    }

    /// The projection of `step` under the distribution `(q, pi)` (Haar–Stiefel when nil), (n, k).
    func projection(step: UInt64, eigenbasis q: Tensor?, probabilities pi: Tensor?) -> Tensor {
        let n = inFeatures, k = rank
        guard let q, let pi else {
            var rng = clock.rng(step: step, .projection)
            var v = Stiefel.haar(rows: n, cols: k, rng: &rng)
            v.scale(by: (Float(n) / Float(k)).squareRoot())
            return v
        }
        var rng = clock.rng(step: step, .sampling)
        let p = pi.scalars
        let picked = systematicSample(p, u: rng.nextUniform())
        return ProjectionMath.selectColumns(q, picked, scales: picked.map { 1 / p[$0].squareRoot() })
    }

    /// - Parameter x: (N, n). Saves z (N, k); Q and π go in `context` (resident, not counted).
    public func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved {
        precondition(x.shape[1] == inFeatures, "OptimalProjectionEstimator: input \(x.shape) for n = \(inFeatures)")
        Checkpointing.willMutate(self)
        let step = clock.step
        if refreshes(atStep: step) { refresh() }
        clock.step += 1
        let v = projection(step: step, eigenbasis: eigenbasis, probabilities: probabilities)
        let context = eigenbasis.flatMap { q in probabilities.map { [q, $0] } } ?? []
        return EstimatorSaved(activations: [ProjectionMath.project(x, v)], context: context, step: step)
    }

    /// - Parameter delta: (N, m). - Returns: (m, n). Also folds `ĜᵀĜ = V (PᵀP) Vᵀ` into Σ.
    public func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
        let v = saved.context.count == 2
            ? projection(step: saved.step, eigenbasis: saved.context[0], probabilities: saved.context[1])
            : projection(step: saved.step, eigenbasis: nil, probabilities: nil)
        let p = ProjectionMath.projectedGradient(delta, saved.activations[0])      // (m, k)
        let vpp = Tensor.matmul(v, Tensor.matmul(p, p, transposeA: true))          // V (PᵀP), (n, k)
        if covariance == nil { covariance = keep(Tensor.zeros([inFeatures, inFeatures]), as: .optimizer) }
        covariance!.addMatmul(vpp, v, transposeB: true, alpha: 1 - decay, beta: decay)
        return ProjectionMath.lift(p, v)
    }

    public func savedBytes(rows: Int, weightShape: [Int]) -> Int { rows * rank * 4 }

    /// Σ and Q (n, n) and π (n).
    public func stateBytes(weightShape: [Int]) -> Int { (2 * inFeatures * inFeatures + inFeatures) * 4 }

    public func stateTensors() -> [String: Tensor] {
        var s = ["clock": clock.encoded]
        s["covariance"] = covariance
        s["eigenbasis"] = eigenbasis
        s["probabilities"] = probabilities
        return s
    }

    public func loadState(_ tensors: [String: Tensor]) throws {
        let owner = description, n = inFeatures
        try rejectUnknownState(tensors, known: ["clock", "covariance", "eigenbasis", "probabilities"], owner: owner)
        let c = try EstimatorClock(decoding: requireState(tensors, "clock", shape: [12], owner: owner), owner: owner)
        let sigma = try tensors["covariance"].map { _ in try requireState(tensors, "covariance", shape: [n, n], owner: owner) }
        let q = try tensors["eigenbasis"].map { _ in try requireState(tensors, "eigenbasis", shape: [n, n], owner: owner) }
        let pi = try tensors["probabilities"].map { _ in try requireState(tensors, "probabilities", shape: [n], owner: owner) }
        guard (q == nil) == (pi == nil) else {
            throw EstimatorStateError(message: "\(owner): state needs both 'eigenbasis' and 'probabilities' or neither")
        }
        clock = c
        covariance = sigma.map { persistentCopy($0, .optimizer) }
        eigenbasis = q.map { persistentCopy($0, .optimizer) }
        probabilities = pi.map { persistentCopy($0, .optimizer) }
    }

    public func captureRecomputeState() -> Any { (clock, eigenbasis, probabilities) }
    public func restoreRecomputeState(_ state: Any) {
        (clock, eigenbasis, probabilities) = state as! (EstimatorClock, Tensor?, Tensor?)
    }
}
