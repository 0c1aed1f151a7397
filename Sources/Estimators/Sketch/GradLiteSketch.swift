import Tensor

/// The basis of GradLite (ALGORITHMS.md §4): `V = [V_c, S]`, (n, k).
///
/// `V_c ∈ St(n, k − p)` is the adaptive core basis: Haar at start; if `adaptive`, refreshed every
/// `refreshInterval` steps (0, T, 2T, …) in the forward by `V_c ← qr(xᵀ (x V_c))`; with
/// `adaptive` off it stays the Haar draw (the paper's "static random projection" ablation).
/// `S ∈ St(n, p)` is fresh each step from `(seed, stream, step)`, Haar in the orthogonal
/// complement of `V_c`: project a Gaussian Ω out of span(V_c), QR, project, QR (twice, so
/// rounding cannot leak S back into span(V_c)). The QRs are CholeskyQR
/// (`Stiefel.orthonormalizeWellConditioned`: the same Q as the sign-fixed QR, cheaper for these
/// thin, well-conditioned draws). `V_c` is counted under `.optimizer`.
public final class GradLiteSketch: Sketch {
    public let exploration: Int
    public let refreshInterval: Int
    public let adaptive: Bool
    /// V_c, (n, k − p) with orthonormal columns.
    public private(set) var core: Tensor

    public init(inFeatures n: Int, rank: Int, explore p: Int, refresh: Int, adaptive: Bool, seed: UInt64, stream: UInt64) {
        precondition(p >= 0 && p <= rank, "GradLiteSketch: explore \(p) out of 0...\(rank)")
        precondition(refresh >= 1, "GradLiteSketch: refresh \(refresh) must be ≥ 1")
        exploration = p
        refreshInterval = refresh
        self.adaptive = adaptive
        var rng = EstimatorClock(seed: seed, stream: stream).rng(step: 0, .initialBasis)
        core = keep(Stiefel.haar(rows: n, cols: rank - p, rng: &rng), as: .optimizer)
        super.init(inFeatures: n, rank: rank, seed: seed, stream: stream)
    }

    /// `(n − k + p)/p`: the inverse of the probability that S covers a given complement direction.
    public var explorationScale: Float { Float(inFeatures - rank + exploration) / Float(exploration) }

    /// Whether the forward at `step` refreshes the core basis.
    public override func refreshes(atStep step: UInt64) -> Bool {
        adaptive && core.shape[1] > 0 && step % UInt64(refreshInterval) == 0
    }

    /// S for `step`: Haar on St(n, p) inside the complement of `vc`, (n, p).
    public func explorationBasis(step: UInt64, core vc: Tensor) -> Tensor {
        var rng = clock.rng(step: step, .exploration)
        let omega = Tensor.randomNormal([inFeatures, exploration], rng: &rng)
        // The projected Gaussian is well conditioned (κ ≈ (√d + √p)/(√d − √p), d = n − k + p), so
        // CholeskyQR is used; it falls back to Householder when p is close to d.
        let once = Stiefel.orthonormalizeWellConditioned(ProjectionMath.projectOut(omega, vc))
        return Stiefel.orthonormalizeWellConditioned(ProjectionMath.projectOut(once, vc))
    }

    override func prepare(input x: Tensor, step: UInt64) -> [Tensor] {
        if refreshes(atStep: step) { core = keep(SketchExchange.subspaceIteration(input: x, basis: core), as: .optimizer) }
        return [core]
    }

    /// Only S is kept for the step in flight: V = [V_c, S] is rebuilt from the resident V_c, so
    /// V_c is not held twice (n·(k − p) floats per sketch: 30 MB at LLaMA-130M, rank 192).
    override func stepState(step: UInt64, context: [Tensor]) -> Tensor {
        exploration == 0 ? Tensor.zeros([inFeatures, 0]) : explorationBasis(step: step, core: context[0])
    }

    override func basis(stepState s: Tensor, context: [Tensor]) -> Tensor { ProjectionMath.columns(context[0], s) }

    /// V_c and the step's S.
    override var stateBytes: Int { inFeatures * rank * 4 }

    override var stateKeys: Set<String> { ["clock", "basis"] }
    override func stateTensors() -> [String: Tensor] { ["clock": clock.encoded, "basis": core] }
    override func loadState(_ tensors: [String: Tensor], owner: String) throws {
        let b = try requireState(tensors, "basis", shape: [inFeatures, rank - exploration], owner: owner)
        try super.loadState(tensors, owner: owner)
        core = persistentCopy(b, .optimizer)
    }

    override func captureBasis() -> Any { core }
    override func restoreBasis(_ state: Any) { core = state as! Tensor }
}
