import Foundation
import Tensor

// Fused update kernels over raw buffers: one pass, 16 lanes at a time, no temporaries. The last
// partial block goes through the same SIMD formula (padded with zeros), so every element of a
// tensor is computed the same way whatever its position.

/// Calls `body(i, n)` on blocks `[i, i + n)` of at most 16 elements, split over the cores for
/// large counts (these kernels do a square root and a division per element, enough to pay).
@inline(__always)
func forEachBlock(_ count: Int, minPerThread: Int = 1 << 17, _ body: (_ i: Int, _ n: Int) -> Void) {
    Parallel.forEachChunk(count, minPerThread: minPerThread) { r in
        var i = r.lowerBound
        while i < r.upperBound {
            let n = Swift.min(16, r.upperBound - i)
            body(i, n)
            i += n
        }
    }
}

/// Adam's exponential-average coefficients and bias corrections at step `t` (1-based).
struct AdamCoefficients {
    let beta1: Float, beta2: Float, eps: Float
    /// `1 − β1ᵗ`, `1 − β2ᵗ` (computed in Double: β2ᵗ is close to 1 for hundreds of steps).
    let correction1: Float, correction2: Float

    init(beta1: Float, beta2: Float, eps: Float, step t: Int) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        correction1 = Float(1 - Foundation.pow(Double(beta1), Double(t)))
        correction2 = Float(1 - Foundation.pow(Double(beta2), Double(t)))
    }
}

/// How a kernel's second-moment buffer holds Adam's v: v itself (fp32 states) or √v (8-bit
/// states encode √v). Either way the kernel computes the same fp32 values: the root form is
/// squared on load and the new v's root, which the update needs anyway, is what it stores.
enum SecondMomentForm {
    case value, root

    /// v from the stored form.
    @inline(__always) func value(_ stored: Vec) -> Vec { self == .root ? stored * stored : stored }
    /// The stored form of the new v, given v and √v.
    @inline(__always) func stored(_ v: Vec, root: Vec) -> Vec { self == .root ? root : v }
}

/// AdamW (Loshchilov & Hutter; PyTorch's formula) in one pass over `count` elements:
/// `w ← w(1 − lr·wd)`, `m ← β1 m + (1−β1) g`, `v ← β2 v + (1−β2) g²`,
/// `w ← w − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)`, with `g` multiplied by `gradScale` first.
func adamwKernel(weight w: UnsafeMutablePointer<Float>, grad g: UnsafePointer<Float>,
                 m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, form: SecondMomentForm = .value, count: Int,
                 learningRate lr: Float, weightDecay wd: Float, _ c: AdamCoefficients, gradScale: Float = 1) {
    let decay = 1 - lr * wd
    let stepSize = lr / c.correction1
    let invRootC2 = 1 / c.correction2.squareRoot()
    let (b1, b2, eps) = (c.beta1, c.beta2, c.eps)
    let (a1, a2) = (1 - b1, 1 - b2)
    let pw = UncheckedSendable(w), pg = UncheckedSendable(g), pm = UncheckedSendable(m), pv = UncheckedSendable(v)
    forEachBlock(count) { i, n in
        let gi = load(pg.value, i, count: n) * gradScale
        let mi = b1 * load(pm.value, i, count: n) + a1 * gi
        let vi = b2 * form.value(load(pv.value, i, count: n)) + a2 * (gi * gi)
        let root = vi.squareRoot()
        let wi = load(pw.value, i, count: n) * decay - stepSize * (mi / (root * invRootC2 + eps))
        store(mi, pm.value, i, count: n)
        store(form.stored(vi, root: root), pv.value, i, count: n)
        store(wi, pw.value, i, count: n)
    }
}

/// Adam's normalised direction without applying it (the projected optimizers apply it through
/// their basis): `m ← β1 m + (1−β1) r`, `v ← β2 v + (1−β2) r²`, `out = m / (√v + ε)`.
/// No bias correction here: GaLore folds it into the step size `lr·√(1−β2ᵗ)/(1−β1ᵗ)`.
func adamDirectionKernel(_ r: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                         form: SecondMomentForm = .value, out: UnsafeMutablePointer<Float>, count: Int,
                         beta1 b1: Float, beta2 b2: Float, eps: Float) {
    let (a1, a2) = (1 - b1, 1 - b2)
    let pr = UncheckedSendable(r), pm = UncheckedSendable(m), pv = UncheckedSendable(v), po = UncheckedSendable(out)
    forEachBlock(count) { i, n in
        let ri = load(pr.value, i, count: n)
        let mi = b1 * load(pm.value, i, count: n) + a1 * ri
        let vi = b2 * form.value(load(pv.value, i, count: n)) + a2 * (ri * ri)
        let root = vi.squareRoot()
        store(mi, pm.value, i, count: n)
        store(form.stored(vi, root: root), pv.value, i, count: n)
        store(mi / (root + eps), po.value, i, count: n)
    }
}

/// SGD with L2 weight decay and optional momentum (PyTorch's `SGD`, dampening 0):
/// `d = g + wd·w`; with momentum `b ← μ b + d` and `d = b` (Nesterov: `d = d + μ b`); `w ← w − lr·d`.
/// `buffer` is nil without momentum.
func sgdKernel(weight w: UnsafeMutablePointer<Float>, grad g: UnsafePointer<Float>, buffer: UnsafeMutablePointer<Float>?,
               count: Int, learningRate lr: Float, weightDecay wd: Float, momentum mu: Float, nesterov: Bool,
               gradScale: Float = 1) {
    let pw = UncheckedSendable(w), pg = UncheckedSendable(g), pb = UncheckedSendable(buffer)
    forEachBlock(count, minPerThread: 1 << 18) { i, n in
        let wi = load(pw.value, i, count: n)
        var d = load(pg.value, i, count: n) * gradScale + wd * wi
        if let b = pb.value {
            let bi = mu * load(b, i, count: n) + d
            store(bi, b, i, count: n)
            d = nesterov ? d + mu * bi : bi
        }
        store(wi - lr * d, pw.value, i, count: n)
    }
}
