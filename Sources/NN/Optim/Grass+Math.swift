import Tensor

/// The two pieces of Grass that go beyond GaLore's update (ALGORITHMS.md §7), as pure functions.
extension Grass {
    /// Carries Adam moments from an old basis into a new one.
    ///
    /// Left case (`M`, `V` are (r, n)), with `C = Q_newᵀ Q_old` (r, r):
    /// `M̂ = M/(1−β1ᵗ)`, `V̂ = V/(1−β2ᵗ)`; `M' = (C M̂)(1−β1ᵗ)`;
    /// `V' = [(C∘C)·max(V̂ − M̂∘M̂, 0) + (C M̂)∘(C M̂)]·(1−β2ᵗ)`.
    /// Right case (`M`, `V` are (m, r)): the same with `M̂ Cᵀ` and `max(…)·(C∘C)ᵀ`.
    /// `V̂ − M̂²` is the (bias-corrected) variance, which rotates with `C∘C` (coordinates treated as
    /// independent); the mean's square is rotated exactly. With `C = I` this is the identity
    /// wherever `V̂ ≥ M̂²` (elsewhere the clamp raises `V` to `M̂²`, which an Adam state can reach
    /// only transiently).
    /// - Parameters:
    ///   - m: (r, n) left / (m, r) right.
    ///   - v: same shape as `m`.
    ///   - change: C (r, r).
    ///   - step: t, the updates the moments have absorbed; t = 0 returns them unchanged (they are zero).
    /// - Returns: the moments in the new basis (workspace tensors).
    public static func transferMoments(m: Tensor, v: Tensor, change c: Tensor, side: ProjectionSide,
                                       beta1: Float, beta2: Float, step t: Int) -> (m: Tensor, v: Tensor) {
        let r = c.shape[0]
        precondition(c.shape == [r, r] && m.shape == v.shape && m.rank == 2 && m.shape[side == .left ? 0 : 1] == r,
                     "Grass.transferMoments: change \(c.shape) does not fit moments \(m.shape) (\(side))")
        guard t > 0 else { return (m, v) }
        let co = AdamCoefficients(beta1: beta1, beta2: beta2, eps: 0, step: t)
        let mHat = m / co.correction1, vHat = v / co.correction2
        let variance = (vHat - mHat.square()).relu()
        let c2 = c.square()
        let cm: Tensor, spread: Tensor
        if side == .left {
            cm = Tensor.matmul(c, mHat)
            spread = Tensor.matmul(c2, variance)
        } else {
            cm = Tensor.matmul(mHat, c, transposeB: true)
            spread = Tensor.matmul(variance, c2, transposeB: true)
        }
        return (cm * co.correction1, (spread + cm.square()) * co.correction2)
    }

    /// Recovery scaling of the gradient the subspace discards (Fira-style).
    ///
    /// `G_lost = G − lift(R)` (`Q R` left, `R Qᵀ` right); `φⱼ = ‖Nⱼ‖ / (‖Rⱼ‖ + 1e-8)` per column j
    /// (left) or per row (right) of the (r, n) / (m, r) matrices `N` and `R`; `U = G_lost ∘ φ`.
    /// Norm growth is limited to `gamma` per step: if `‖U‖ > gamma · previousNorm` then
    /// `U ← U · gamma · previousNorm / ‖U‖` (no limit while `previousNorm` is 0, i.e. at the first step).
    /// - Parameters:
    ///   - gradient: G (m, n).
    ///   - basis: Q (m, r) left / (n, r) right.
    ///   - projected: R; `direction`: N; both (r, n) left / (m, r) right.
    /// - Returns: U (m, n) and its norm after limiting (the next call's `previousNorm`).
    public static func recoveryScaling(gradient g: Tensor, basis q: Tensor, projected r: Tensor, direction n: Tensor,
                                       side: ProjectionSide, previousNorm: Float, gamma: Float) -> (term: Tensor, norm: Float) {
        precondition(g.rank == 2 && r.shape == n.shape, "Grass.recoveryScaling: gradient \(g.shape), R \(r.shape), N \(n.shape)")
        let rows = g.shape[0], cols = g.shape[1]
        var lost = g.copy()
        if side == .left { lost.addMatmul(q, r, alpha: -1, beta: 1) } else { lost.addMatmul(r, q, transposeB: true, alpha: -1, beta: 1) }
        let phi = side == .left ? columnNormRatios(n, r) : rowNormRatios(n, r)
        lost.withUnsafeMutableBufferPointer { u in
            for i in 0..<rows {
                for j in 0..<cols { u[i * cols + j] *= side == .left ? phi[j] : phi[i] }
            }
        }
        var norm = lost.norm()
        if previousNorm > 0, norm > gamma * previousNorm {
            lost.scale(by: gamma * previousNorm / norm)
            norm = gamma * previousNorm
        }
        return (lost, norm)
    }

    /// `‖aⱼ‖ / (‖bⱼ‖ + 1e-8)` for each column j of two (k, c) matrices.
    static func columnNormRatios(_ a: Tensor, _ b: Tensor) -> [Float] {
        let k = a.shape[0], c = a.shape[1]
        var na = [Double](repeating: 0, count: c), nb = [Double](repeating: 0, count: c)
        for i in 0..<k {
            for j in 0..<c {
                let x = Double(a.pointer[i * c + j]), y = Double(b.pointer[i * c + j])
                na[j] += x * x; nb[j] += y * y
            }
        }
        return (0..<c).map { Float(na[$0].squareRoot() / (nb[$0].squareRoot() + 1e-8)) }
    }

    /// `‖aᵢ‖ / (‖bᵢ‖ + 1e-8)` for each row i of two (k, c) matrices.
    static func rowNormRatios(_ a: Tensor, _ b: Tensor) -> [Float] {
        let k = a.shape[0], c = a.shape[1]
        return (0..<k).map { i in
            let na = rowDot(a.pointer + i * c, a.pointer + i * c, c), nb = rowDot(b.pointer + i * c, b.pointer + i * c, c)
            return na.squareRoot() / (nb.squareRoot() + 1e-8)
        }
    }
}
