import Autograd
import Estimators
import Foundation
import Tensor

/// GrassJump and GrassWalk (Rajabi et al. 2025): GaLore's projected Adam with a random basis
/// instead of the SVD one, moment transfer when the basis moves, and recovery scaling of the
/// discarded gradient (ALGORITHMS.md §7).
///
/// The basis `Q` (d, r) sits on the side GaLore's rule picks (`ProjectionSide.forShape`). It
/// starts Haar-random and moves every `gap` steps, before the update of steps 1+T, 1+2T, …:
/// - `.jump`: a fresh Haar draw.
/// - `.walk(step: η)`: a Grassmann geodesic step from `Q` along the tangent `(I − Q Qᵀ) Z`,
///   `Z` with N(0, 1/d) entries. This scaling (the project's reading; the paper does not fix it)
///   makes the tangent's singular values ≈ 1 for d ≫ r, so each principal angle moves by about η.
/// On a move the moments are carried over (`transferMoments`). The random draws are keyed by
/// (seed, parameter path, move index), so they need no saved RNG state and a resumed run draws
/// the same bases.
///
/// State per projected weight (`.optimizer`): `exp_avg`, `exp_avg_sq`, `projection`, `step`,
/// `recovery_norm`; other parameters use AdamW with the same β1, β2, ε.
///
/// `options.subspace.states = .int8` keeps the moments in 8 bits (a move decodes, carries and
/// re-encodes them); `layerwise: true` updates inside the backward, as `AdamW`'s option does.
public final class Grass: SubspaceAdamOptimizer {
    public enum Move: Equatable, Sendable {
        case jump
        case walk(step: Float)
    }

    public struct Options: Equatable, Sendable {
        public var subspace: SubspaceOptions
        public var move: Move
        /// γ: the largest growth of the recovery term's norm per step.
        public var gamma: Float
        /// Adds the scaled discarded gradient to the update (off: GaLore's update in a random basis).
        public var recoveryScaling: Bool

        public init(subspace: SubspaceOptions = SubspaceOptions(), move: Move = .walk(step: 0.5),
                    gamma: Float = 1.01, recoveryScaling: Bool = true) {
            self.subspace = subspace; self.move = move; self.gamma = gamma; self.recoveryScaling = recoveryScaling
        }
    }

    public let options: Options
    public let seed: UInt64
    /// Geodesic steps that failed (non-converging SVD); the basis then stays where it was.
    public private(set) var moveFailures = 0

    public init(parameters: [(String, Parameter)], learningRate: Float, weightDecay: Float = 0,
                options: Options = Options(), seed: UInt64 = 0, groups: ParameterGroups = ParameterGroups(),
                layerwise: Bool = false) {
        self.options = options
        self.seed = seed
        let core = SubspaceAdamCore(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay,
                                    options: options.subspace, groups: groups)
        for s in core.states {
            var rng = Grass.rng(seed: seed, path: s.slot.path, move: 0)
            var q = Stiefel.haar(rows: s.basisShape[0], cols: s.rank, rng: &rng)
            adoptAsState(&q)
            s.basis = q
        }
        super.init(core: core, includesRecovery: true, layerwise: layerwise)
    }

    /// Moves the basis of `s` when due, then its projected Adam update from `g` with recovery scaling.
    override func update(_ s: SubspaceState, _ g: WeightGradient) {
        if s.step > 0 && core.isRefreshDue(s) { move(s, index: s.step / options.subspace.gap) }
        let recovery: ((Tensor, Tensor, Tensor) -> Tensor)? = options.recoveryScaling ? { g, r, n in
            let (u, norm) = Grass.recoveryScaling(gradient: g, basis: s.basis, projected: r, direction: n, side: s.side,
                                                 previousNorm: s.recoveryNorm, gamma: self.options.gamma)
            s.recoveryNorm = norm
            return u
        } : nil
        core.update(s, gradient: g, learningRate: learningRate, recovery: recovery)
    }

    /// Moves the basis of `s` (move number `index` ≥ 1) and carries its moments into the new basis.
    private func move(_ s: SubspaceState, index: Int) {
        var rng = Grass.rng(seed: seed, path: s.slot.path, move: index)
        let d = s.basisShape[0]
        var q: Tensor
        switch options.move {
        case .jump:
            q = Stiefel.haar(rows: d, cols: s.rank, rng: &rng)
        case .walk(let eta):
            let z = Tensor.randomNormal([d, s.rank], std: 1 / Float(d).squareRoot(), rng: &rng)
            guard let walked = try? grassmannGeodesic(from: s.basis, tangent: z, step: eta) else {
                moveFailures += 1
                return
            }
            q = walked
        }
        let c = Tensor.matmul(q, s.basis, transposeA: true) // C = Q_newᵀ Q_old (r, r)
        let old = s.moments.values
        let (m, v) = Grass.transferMoments(m: old.m, v: old.v, change: c, side: s.side, beta1: options.subspace.beta1,
                                           beta2: options.subspace.beta2, step: s.step)
        adoptAsState(&q)
        s.basis = q
        s.moments.assign(m: m, v: v)
    }

    /// The generator of move `move` of the parameter at `path` (0: the initial basis).
    static func rng(seed: UInt64, path: String, move: Int) -> RNG {
        RNG(seed: seed, stream: FNV1a.hash(path) &+ UInt64(move) &* 0x9E37_79B9_7F4A_7C15)
    }

    public override var description: String {
        let o = options.subspace
        let name: String
        switch options.move {
        case .jump: name = "GrassJump("
        case .walk(let eta): name = "GrassWalk(step \(eta), "
        }
        return name + "rank \(o.rank), gap \(o.gap), scale \(o.scale), β1 \(o.beta1), β2 \(o.beta2), ε \(o.eps), "
            + "γ \(options.gamma)\(options.recoveryScaling ? "" : ", no recovery"), weight decay \(core.weightDecay)\(core.modes)) \(core.coverage)"
    }
}
