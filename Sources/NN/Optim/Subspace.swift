import Autograd
import Tensor

/// Which side of a weight `W` (m, n) a projected optimizer's basis `Q` acts on.
///
/// The basis is stored as `Q` (d, r) with orthonormal columns in both cases:
/// - `.left`: `Q` (m, r), `R = Qᵀ G` (r, n), update direction `Q N`.
/// - `.right`: `Q` (n, r), `R = G Q` (m, r), update direction `N Qᵀ`.
/// (GaLore's right projection `P = V_r` (r, n) is `Qᵀ`.)
public enum ProjectionSide: String, Sendable {
    case left, right

    /// GaLore's rule: project on the smaller side, so the moments are (m, r) when m ≥ n
    /// (right) and (r, n) otherwise (left).
    public static func forShape(rows m: Int, cols n: Int) -> ProjectionSide { m >= n ? .right : .left }
}

/// Hyper-parameters shared by GaLore and Grass (ALGORITHMS.md §7).
public struct SubspaceOptions: Equatable, Sendable {
    /// r (clamped to min(m, n) per weight).
    public var rank: Int
    /// T: steps between basis refreshes.
    public var gap: Int
    /// α: multiplies the projected-back update.
    public var scale: Float
    public var beta1: Float
    public var beta2: Float
    /// ε in `N = M/(√V + ε)`; also the ε of the AdamW group.
    public var eps: Float
    /// How the projected moments (and the AdamW group's) are stored: `.int8` is "8-bit GaLore".
    public var states: StateEncoding

    public init(rank: Int = 128, gap: Int = 200, scale: Float = 0.25, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-6,
                states: StateEncoding = .fp32) {
        precondition(rank >= 1 && gap >= 1, "SubspaceOptions: rank \(rank) and gap \(gap) must be ≥ 1")
        self.rank = rank; self.gap = gap; self.scale = scale; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.states = states
    }

    var adamOptions: AdamW.Options { AdamW.Options(beta1: beta1, beta2: beta2, eps: eps, states: states) }
}

/// A weight's gradient as a projected update receives it: the (m, n) tensor, or a projection
/// estimator's low-rank estimate `left · rightᵀ` (left (m, k), right (n, k)) not formed yet.
enum WeightGradient {
    case dense(Tensor)
    case factored(left: Tensor, right: Tensor)

    /// The (m, n) gradient (formed here when factored).
    var dense: Tensor {
        switch self {
        case .dense(let g): return g
        case .factored(let l, let r): return Tensor.matmul(l, r, transposeB: true)
        }
    }
}

/// State of one projected weight: basis, moments of R, step count, and (Grass) the norm of the
/// previous recovery-scaling term.
final class SubspaceState {
    let slot: ParameterSlot
    let side: ProjectionSide
    let rank: Int
    /// Q (d, r), orthonormal columns; meaningless (zeros) for GaLore until its first SVD.
    var basis: Tensor
    /// Adam moments, shaped like R: (r, n) left, (m, r) right.
    let moments: AdamMoments
    var step = 0
    var recoveryNorm: Float = 0

    init(slot: ParameterSlot, requestedRank: Int, states: StateEncoding) {
        let shape = slot.parameter.shape
        precondition(shape.count == 2, "subspace optimizer: \(slot.path) has shape \(shape), not a matrix")
        let (rows, cols) = (shape[0], shape[1])
        self.slot = slot
        side = ProjectionSide.forShape(rows: rows, cols: cols)
        let r = Swift.min(requestedRank, rows, cols)
        rank = r
        let d = side == .left ? rows : cols
        let projected = side == .left ? [r, cols] : [rows, r]
        basis = Memory.withCategory(.optimizer) { Tensor.zeros([d, r]) }
        moments = AdamMoments(shape: projected, encoding: states)
    }

    var basisShape: [Int] { basis.shape }
    var projectedShape: [Int] { moments.shape }

    /// R: (r, n) = Qᵀ G on the left, (m, r) = G Q on the right; a factored G = L Fᵀ (L (m, k),
    /// F (n, k)) is projected without forming it: (Qᵀ L) Fᵀ or L (Fᵀ Q).
    func project(_ g: WeightGradient) -> Tensor {
        switch g {
        case .dense(let g):
            return side == .left ? Tensor.matmul(basis, g, transposeA: true) : Tensor.matmul(g, basis)
        case .factored(let l, let f):
            return side == .left ? Tensor.matmul(Tensor.matmul(basis, l, transposeA: true), f, transposeB: true)
                                 : Tensor.matmul(l, Tensor.matmul(f, basis, transposeA: true))
        }
    }

    /// `target += alpha · (Q N or N Qᵀ)` in place.
    func addLifted(_ n: Tensor, alpha: Float, to target: inout Tensor) {
        if side == .left { target.addMatmul(basis, n, alpha: alpha, beta: 1) }
        else { target.addMatmul(n, basis, transposeB: true, alpha: alpha, beta: 1) }
    }

    func entries(includeRecovery: Bool) -> [StateEntry] {
        let p = slot.path
        var out: [StateEntry] = moments.entries(prefix: p) + [
            .tensor("\(p).projection", { self.basis }, { self.basis = $0 }, shape: basisShape),
            .count("\(p).step", { self.step }, { self.step = $0 }),
        ]
        if includeRecovery { out.append(.scalar("\(p).recovery_norm", { self.recoveryNorm }, { self.recoveryNorm = $0 })) }
        return out
    }
}

/// Makes `t` optimizer state: recounts its storage under `.optimizer` when nothing else shares
/// it, copies it otherwise (recounting a shared storage would move someone else's bytes).
func adoptAsState(_ t: inout Tensor) {
    if t.isUniquelyReferenced() { t.storage.recategorize(.optimizer) } else { t = t.copy(category: .optimizer) }
}
