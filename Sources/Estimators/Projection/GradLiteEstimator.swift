import Tensor

/// GradLite (ALGORITHMS.md §4): adaptive core basis + random exploration + optional error feedback.
///
/// This is the project's reading of "Backward-Friendly Optimization" (GradLite), whose text gives
/// little beyond the abstract; ALGORITHMS.md §4 fixes the design implemented here. The basis
/// `V = [V_c, S]` (n, k) lives in a `GradLiteSketch`, shared by the layers that read one input
/// (§11); the forward saves `z = x V` (N, k instead of N, n). Backward, with `P = δᵀ z = G V` (m, k):
/// - error feedback off: `Ĝ = P_c V_cᵀ + ((n − k + p)/p) · P_s Sᵀ`, unbiased because
///   `E[S Sᵀ] = p/(n − k + p) · (I − V_c V_cᵀ)`; MSE `((n − k)/p)·‖G (I − V_c V_cᵀ)‖²`.
///   With p = 0 there is no exploration and this is the biased `G V_c V_cᵀ`.
/// - error feedback on (EF21-style memory `H`, m×n, zero at start, one per layer):
///   `H ← H + (P − H V) Vᵀ = H (I − V Vᵀ) + G V Vᵀ`, output `Ĝ = H` itself (shared storage).
///   H replaces the layer's gradient buffer: it is counted under `.gradient`, and
///   `Parameter.accumulateGrad` adopts it without a copy. If the caller still holds last
///   step's gradient when the next backward updates H, copy-on-write keeps the two apart.
///   Global-norm clipping (`scaleGradients`) scales that one buffer in place, so with clipping
///   H keeps the clipped value (no second m×n buffer is ever made).
///   With a fixed G the squared error outside `V_c` shrinks by `1 − p/(n − k + p)` per step
///   in expectation. With gradient accumulation over micro-batches each backward returns the
///   whole memory, so accumulated gradients would sum memories: use error feedback with one
///   backward per optimizer step.
/// With `k = n` (any p) `V` is square orthogonal and the gradient is exact.
public final class GradLiteEstimator: SketchingEstimator {
    public let sketch: GradLiteSketch
    public let outFeatures: Int
    public let errorFeedback: Bool
    /// H, (m, n); nil until the first backward with error feedback.
    public private(set) var memory: Tensor?

    /// A layer with its own sketch.
    /// - Parameters:
    ///   - n: input features; m: output features.
    ///   - rank: k, `1 ≤ k ≤ n`.
    ///   - explore: p, `0 ≤ p ≤ k`; default k/4.
    ///   - refresh: T ≥ 1.
    ///   - errorFeedback: default off (ALGORITHMS.md §4: neutral to slightly harmful under minibatch noise).
    ///   - adaptive: default on.
    public convenience init(inFeatures n: Int, outFeatures m: Int, rank: Int, explore: Int? = nil, refresh: Int = 20,
                            errorFeedback: Bool = false, adaptive: Bool = true, seed: UInt64, stream: UInt64) {
        let sketch = GradLiteSketch(inFeatures: n, rank: rank, explore: explore ?? rank / 4, refresh: refresh,
                                    adaptive: adaptive, seed: seed, stream: stream)
        self.init(outFeatures: m, errorFeedback: errorFeedback, sharing: sketch)
    }

    /// A layer with `m` outputs in the group of `sketch`.
    public init(outFeatures m: Int, errorFeedback: Bool, sharing sketch: GradLiteSketch) {
        self.sketch = sketch
        outFeatures = m
        self.errorFeedback = errorFeedback
        sketch.register(self)
    }

    public var description: String {
        let s = sketch
        return "gradlite(rank:\(s.rank),explore:\(s.exploration),refresh:\(s.refreshInterval),feedback:\(errorFeedback ? "on" : "off"),adaptive:\(s.adaptive ? "on" : "off"))"
    }
    public var clock: EstimatorClock { sketch.clock }
    /// V_c, (n, k − p).
    public var core: Tensor { sketch.core }

    /// Without error feedback: `Ĝ = [P_c, c·P_s] · Vᵀ` as its factors ((m, k), (n, k)).
    public func factoredWeightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> (left: Tensor, right: Tensor)? {
        guard !errorFeedback else { return nil }
        var p = SketchExchange.globalProjectedGradient(delta, saved.activations[0])   // P (m, k), over every rank's batch
        if sketch.exploration > 0 {
            ProjectionMath.scaleColumns(&p, (sketch.rank - sketch.exploration)..<sketch.rank, by: sketch.explorationScale)
        }
        return (p, sketch.basis(for: saved))
    }

    /// - Parameter delta: (N, m). - Returns: Ĝ (m, n); with error feedback, the memory H itself.
    public func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
        if let f = factoredWeightGradient(outputGradient: delta, saved: saved, weightShape: weightShape) {
            return ProjectionMath.lift(f.left, f.right)
        }
        let v = sketch.basis(for: saved)
        var p = SketchExchange.globalProjectedGradient(delta, saved.activations[0])
        if memory == nil { memory = Memory.withCategory(.gradient) { Tensor.zeros(weightShape) } }
        p.addMatmul(memory!, v, alpha: -1, beta: 1)                              // P − H V
        memory!.addMatmul(p, v, transposeB: true)                                // H += (P − H V) Vᵀ
        return memory!
    }

    public var memberState: [String: Tensor] { memory.map { ["memory": $0] } ?? [:] }
    public var memberStateKeys: Set<String> { ["memory"] }

    public func loadMemberState(_ tensors: [String: Tensor]) throws {
        let owner = description
        let h = try tensors["memory"].map { _ in try requireState(tensors, "memory", shape: [outFeatures, sketch.inFeatures], owner: owner) }
        if h != nil && !errorFeedback {
            throw EstimatorStateError(message: "\(owner): state has 'memory' but error feedback is off")
        }
        memory = h.map { persistentCopy($0, .gradient) }
    }
}
