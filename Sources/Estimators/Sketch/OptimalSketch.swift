import Tensor

/// The variance-optimal sampling distribution of eigendirections (ALGORITHMS.md §3, "optimal").
///
/// State: `Σ = EMA(Ĝᵀ Ĝ)` (n, n, decay `decay`), fed by every member's backward (in a group, the
/// members' `ĜᵀĜ` are summed into one Σ, the decay applied once per step); every
/// `refreshInterval` steps the forward eigendecomposes it, `Σ = Q diag(σ) Qᵀ`, and sets the
/// inclusion probabilities by water-filling, floored: `π' = (1 − ε)·π + ε·k/n` (ε = 0.1, still
/// Σ π' = k and π' ≤ 1), so no direction whose σ rounds to 0 drops out for good. Each step draws
/// k indices J with marginals π' by systematic sampling (one uniform from `(seed, stream, step)`)
/// and uses `V = Q_J diag(1/√π'_J)`, so `E[V Vᵀ] = I` and `E[Ĝ] = G`; MSE `Σᵢ (1/π'ᵢ − 1) ‖G qᵢ‖²`.
/// Until the first eigendecomposition it falls back to Haar–Stiefel.
///
/// Project's reading, as ALGORITHMS.md fixes it: the EMA of `ĜᵀĜ` is of the *estimate*, so π
/// settles near `σ^{1/3}` instead of `σ^{1/2}`; a reweighted accumulator would be unbiased but
/// collapses, so it is deliberately not used. If an eigendecomposition fails (`refreshFailures`
/// counts it), the previous distribution is kept: still unbiased, just not re-tuned.
/// Memory: Σ and Q are n×n each, counted under `.optimizer`.
public final class OptimalSketch: Sketch {
    /// ε of the probability floor.
    public static let probabilityFloor: Float = 0.1

    public let refreshInterval: Int
    public let decay: Float
    /// `EMA(Ĝᵀ Ĝ)`, (n, n); nil until the first backward.
    public private(set) var covariance: Tensor?
    /// Q, (n, n), eigenvectors of Σ by descending eigenvalue; nil until the first refresh.
    public private(set) var eigenbasis: Tensor?
    /// π' (floored), (n), summing to k; nil until the first refresh.
    public private(set) var probabilities: Tensor?
    /// Refreshes skipped because the eigendecomposition failed or Σ was not finite.
    public private(set) var refreshFailures = 0
    /// The step whose contributions Σ holds last (the decay is applied at the first of a new step).
    private var covarianceStep = UInt64.max

    public init(inFeatures n: Int, rank: Int, refresh: Int, decay: Float, seed: UInt64, stream: UInt64) {
        precondition(refresh >= 1, "OptimalSketch: refresh \(refresh) must be ≥ 1")
        precondition(decay >= 0 && decay < 1, "OptimalSketch: decay \(decay) not in [0, 1)")
        refreshInterval = refresh
        self.decay = decay
        super.init(inFeatures: n, rank: rank, seed: seed, stream: stream)
    }

    /// Whether the forward at `step` would eigendecompose Σ.
    public override func refreshes(atStep step: UInt64) -> Bool { step % UInt64(refreshInterval) == 0 && covariance != nil }

    /// `(1 − ε)·π + ε·k/n`: water-filling probabilities of the eigenvalues, floored.
    public static func flooredProbabilities(eigenvalues: [Float], k: Int) -> [Float] {
        let n = eigenvalues.count, eps = probabilityFloor
        let uniform = Float(k) / Float(n)
        return waterFillingProbabilities(eigenvalues, k: k).map { Swift.min(1, (1 - eps) * $0 + eps * uniform) }
    }

    private func refresh() {
        guard let sigma = covariance, sigma.isAllFinite, let (values, vectors) = try? sigma.symmetricEigen() else {
            refreshFailures += 1
            return
        }
        eigenbasis = keep(vectors, as: .optimizer)
        probabilities = keep(Tensor(Self.flooredProbabilities(eigenvalues: values.scalars, k: rank)), as: .optimizer)
    }

    override func prepare(input x: Tensor, step: UInt64) -> [Tensor] {
        if refreshes(atStep: step) { refresh() }
        guard let q = eigenbasis, let pi = probabilities else { return [] }
        return [q, pi]
    }

    override func basis(step: UInt64, context: [Tensor]) -> Tensor {
        let n = inFeatures, k = rank
        guard context.count == 2 else {
            var rng = clock.rng(step: step, .projection)
            var v = Stiefel.haar(rows: n, cols: k, rng: &rng)
            v.scale(by: (Float(n) / Float(k)).squareRoot())
            return v
        }
        var rng = clock.rng(step: step, .sampling)
        let p = context[1].scalars
        let picked = systematicSample(p, u: rng.nextUniform())
        return ProjectionMath.selectColumns(context[0], picked, scales: picked.map { 1 / p[$0].squareRoot() })
    }

    /// Folds one member's `ĜᵀĜ = V (PᵀP) Vᵀ` of `step` into Σ.
    /// - Parameters: p: (m, k) the member's `δᵀ z`; v: (n, k) the step's basis.
    func accumulate(projected p: Tensor, basis v: Tensor, step: UInt64) {
        let vpp = Tensor.matmul(v, Tensor.matmul(p, p, transposeA: true))          // V (PᵀP), (n, k)
        if covariance == nil { covariance = keep(Tensor.zeros([inFeatures, inFeatures]), as: .optimizer) }
        let fresh = step != covarianceStep
        covarianceStep = step
        covariance!.addMatmul(vpp, v, transposeB: true, alpha: 1 - decay, beta: fresh ? decay : 1)
    }

    /// Σ and Q (n, n), π (n) and the step's basis (n, k).
    override var stateBytes: Int { (2 * inFeatures * inFeatures + inFeatures + inFeatures * rank) * 4 }

    override var stateKeys: Set<String> { ["clock", "covariance", "covariance_step", "eigenbasis", "probabilities"] }

    override func stateTensors() -> [String: Tensor] {
        var s = ["clock": clock.encoded, "covariance_step": StateCoding.encode([covarianceStep])]
        s["covariance"] = covariance
        s["eigenbasis"] = eigenbasis
        s["probabilities"] = probabilities
        return s
    }

    override func loadState(_ tensors: [String: Tensor], owner: String) throws {
        let n = inFeatures
        func optional(_ key: String, _ shape: [Int]) throws -> Tensor? {
            try tensors[key].map { _ in try requireState(tensors, key, shape: shape, owner: owner) }
        }
        let sigma = try optional("covariance", [n, n]), q = try optional("eigenbasis", [n, n]), pi = try optional("probabilities", [n])
        guard (q == nil) == (pi == nil) else {
            throw EstimatorStateError(message: "\(owner): state needs both 'eigenbasis' and 'probabilities' or neither")
        }
        // Which step Σ last took contributions from (the decay is applied once per step); without
        // it the next contribution starts a new step.
        var sigmaStep = UInt64.max
        if tensors["covariance_step"] != nil {
            sigmaStep = try StateCoding.decode(requireState(tensors, "covariance_step", shape: [4], owner: owner),
                                               count: 1, name: "\(owner).covariance_step")[0]
        }
        try super.loadState(tensors, owner: owner)
        covariance = sigma.map { persistentCopy($0, .optimizer) }
        eigenbasis = q.map { persistentCopy($0, .optimizer) }
        probabilities = pi.map { persistentCopy($0, .optimizer) }
        covarianceStep = sigmaStep
    }

    override func captureBasis() -> Any { (eigenbasis, probabilities) }
    override func restoreBasis(_ state: Any) { (eigenbasis, probabilities) = state as! (Tensor?, Tensor?) }
}
