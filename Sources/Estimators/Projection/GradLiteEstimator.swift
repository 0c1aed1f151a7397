import Autograd
import Tensor

/// GradLite (ALGORITHMS.md §4): adaptive core basis + random exploration + optional error feedback.
///
/// This is the project's reading of "Backward-Friendly Optimization" (GradLite), whose text gives
/// little beyond the abstract; ALGORITHMS.md §4 fixes the design implemented here:
/// 1. Core basis `V_c ∈ St(n, k − p)`: Haar at start; if `adaptive`, refreshed every
///    `refreshInterval` steps in the forward by `V_c ← qr(xᵀ (x V_c))` (steps 0, T, 2T, …). With
///    `adaptive` off it stays the Haar draw (the paper's "static random projection" ablation).
/// 2. Exploration `S ∈ St(n, p)`, fresh each step from `(seed, stream, step)`, Haar in the
///    orthogonal complement of `V_c`: project a Gaussian Ω out of span(V_c), QR, project, QR
///    (twice, so rounding cannot leak S back into span(V_c)). The QRs are CholeskyQR
///    (`Stiefel.orthonormalizeWellConditioned`: the same Q as the sign-fixed QR, cheaper for
///    these thin, well-conditioned draws). `V = [V_c, S]`. S is regenerated in
///    the backward from the step, never stored.
/// 3. The forward saves `z = x V` (N, k instead of N, n).
/// 4. Backward, with `P = δᵀ z = G V` (m, k):
///    - error feedback off: `Ĝ = P_c V_cᵀ + ((n − k + p)/p) · P_s Sᵀ`, unbiased because
///      `E[S Sᵀ] = p/(n − k + p) · (I − V_c V_cᵀ)`; MSE `((n − k)/p)·‖G (I − V_c V_cᵀ)‖²`.
///      With p = 0 there is no exploration and this is the biased `G V_c V_cᵀ`.
///    - error feedback on (EF21-style memory `H`, m×n, zero at start):
///      `H ← H + (P − H V) Vᵀ = H (I − V Vᵀ) + G V Vᵀ`, output `Ĝ = H` itself (shared storage).
///      H replaces the layer's gradient buffer: it is counted under `.gradient`, and
///      `Parameter.accumulateGrad` adopts it without a copy. If the caller still holds last
///      step's gradient when the next backward updates H, copy-on-write keeps the two apart.
///      Global-norm clipping (`scaleGradients`) scales that one buffer in place, so with clipping
///      H keeps the clipped value (no second m×n buffer is ever made).
///      With a fixed G the squared error outside `V_c` shrinks by `1 − p/(n − k + p)` per step
///      in expectation. With gradient accumulation over micro-batches each backward returns the
///      whole memory, so accumulated gradients would sum memories: use error feedback with one
///      backward per optimizer step.
/// With `k = n` (any p) `V` is square orthogonal and the gradient is exact.
/// Layers sharing an input (q/k/v, gate/up) could share V and z; this implementation keeps one
/// estimator per layer (simpler, costs one extra projection per shared input).
///
/// Memory: `V_c` counted under `.optimizer`; H under `.gradient`.
public final class GradLiteEstimator: LinearEstimator, RecomputeStateful {
    public let inFeatures: Int
    public let outFeatures: Int
    public let rank: Int
    public let exploration: Int
    public let refreshInterval: Int
    public let errorFeedback: Bool
    public let adaptive: Bool
    public private(set) var clock: EstimatorClock
    /// V_c, (n, k − p) with orthonormal columns.
    public private(set) var core: Tensor
    /// H, (m, n); nil until the first backward with error feedback.
    public private(set) var memory: Tensor?

    /// - Parameters:
    ///   - n: input features; m: output features.
    ///   - rank: k, `1 ≤ k ≤ n`.
    ///   - explore: p, `0 ≤ p ≤ k`; default k/4.
    ///   - refresh: T ≥ 1.
    ///   - errorFeedback: default off (ALGORITHMS.md §4: neutral to slightly harmful under minibatch noise).
    ///   - adaptive: default on.
    public init(inFeatures n: Int, outFeatures m: Int, rank: Int, explore: Int? = nil, refresh: Int = 20,
                errorFeedback: Bool = false, adaptive: Bool = true, seed: UInt64, stream: UInt64) {
        let p = explore ?? rank / 4
        precondition(rank >= 1 && rank <= n, "GradLiteEstimator: rank \(rank) out of 1...\(n)")
        precondition(p >= 0 && p <= rank, "GradLiteEstimator: explore \(p) out of 0...\(rank)")
        precondition(refresh >= 1, "GradLiteEstimator: refresh \(refresh) must be ≥ 1")
        inFeatures = n; outFeatures = m; self.rank = rank; exploration = p; refreshInterval = refresh
        self.errorFeedback = errorFeedback; self.adaptive = adaptive
        clock = EstimatorClock(seed: seed, stream: stream)
        var rng = clock.rng(step: 0, .initialBasis)
        core = keep(Stiefel.haar(rows: n, cols: rank - p, rng: &rng), as: .optimizer)
    }

    public var description: String {
        "gradlite(rank:\(rank),explore:\(exploration),refresh:\(refreshInterval),feedback:\(errorFeedback ? "on" : "off"),adaptive:\(adaptive ? "on" : "off"))"
    }

    /// `(n − k + p)/p`: the inverse of the probability that S covers a given complement direction.
    public var explorationScale: Float {
        Float(inFeatures - rank + exploration) / Float(exploration)
    }

    /// Whether the forward at `step` refreshes the core basis.
    public func refreshes(atStep step: UInt64) -> Bool {
        adaptive && core.shape[1] > 0 && step % UInt64(refreshInterval) == 0
    }

    /// S for `step`: Haar on St(n, p) inside the complement of `core`, (n, p).
    public func explorationBasis(step: UInt64, core vc: Tensor) -> Tensor {
        var rng = clock.rng(step: step, .exploration)
        let omega = Tensor.randomNormal([inFeatures, exploration], rng: &rng)
        // Project, QR, project, QR. The projected Gaussian is well conditioned (κ ≈ (√d + √p)/(√d − √p),
        // d = n − k + p), so CholeskyQR is used; it falls back to Householder when p is close to d.
        let once = Stiefel.orthonormalizeWellConditioned(ProjectionMath.projectOut(omega, vc))
        return Stiefel.orthonormalizeWellConditioned(ProjectionMath.projectOut(once, vc))
    }

    /// `V = [V_c, S]` for `step`, (n, k).
    func fullBasis(step: UInt64, core vc: Tensor) -> Tensor {
        exploration == 0 ? vc : ProjectionMath.columns(vc, explorationBasis(step: step, core: vc))
    }

    /// - Parameter x: (N, n). Saves z (N, k); V_c goes in `context` (resident, not counted).
    public func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved {
        precondition(x.shape[1] == inFeatures, "GradLiteEstimator: input \(x.shape) for n = \(inFeatures)")
        Checkpointing.willMutate(self)
        let step = clock.step
        if refreshes(atStep: step) { core = keep(subspaceIteration(input: x, basis: core), as: .optimizer) }
        clock.step += 1
        let z = ProjectionMath.project(x, fullBasis(step: step, core: core))
        return EstimatorSaved(activations: [z], context: [core], step: step)
    }

    /// - Parameter delta: (N, m). - Returns: Ĝ (m, n); with error feedback, the memory H itself.
    public func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
        let vc = saved.context[0]
        let v = fullBasis(step: saved.step, core: vc)
        var p = ProjectionMath.projectedGradient(delta, saved.activations[0])    // (m, k)
        guard errorFeedback else {
            if exploration > 0 { ProjectionMath.scaleColumns(&p, vc.shape[1]..<rank, by: explorationScale) }
            return ProjectionMath.lift(p, v)
        }
        if memory == nil { memory = Memory.withCategory(.gradient) { Tensor.zeros(weightShape) } }
        p.addMatmul(memory!, v, alpha: -1, beta: 1)                              // P − H V
        memory!.addMatmul(p, v, transposeB: true)                                // H += (P − H V) Vᵀ
        return memory!
    }

    public func savedBytes(rows: Int, weightShape: [Int]) -> Int { rows * rank * 4 }

    /// V_c; the error-feedback memory H is the layer's gradient buffer, counted with the gradients.
    public func stateBytes(weightShape: [Int]) -> Int { inFeatures * (rank - exploration) * 4 }

    public func stateTensors() -> [String: Tensor] {
        var s = ["clock": clock.encoded, "basis": core]
        s["memory"] = memory
        return s
    }

    public func loadState(_ tensors: [String: Tensor]) throws {
        let owner = description
        try rejectUnknownState(tensors, known: ["clock", "basis", "memory"], owner: owner)
        let c = try EstimatorClock(decoding: requireState(tensors, "clock", shape: [12], owner: owner), owner: owner)
        let b = try requireState(tensors, "basis", shape: [inFeatures, rank - exploration], owner: owner)
        let h = try tensors["memory"].map { _ in try requireState(tensors, "memory", shape: [outFeatures, inFeatures], owner: owner) }
        if h != nil && !errorFeedback {
            throw EstimatorStateError(message: "\(owner): state has 'memory' but error feedback is off")
        }
        clock = c
        core = persistentCopy(b, .optimizer)
        memory = h.map { persistentCopy($0, .gradient) }
    }

    public func captureRecomputeState() -> Any { (clock, core) }
    public func restoreRecomputeState(_ state: Any) { (clock, core) = state as! (EstimatorClock, Tensor) }
}
