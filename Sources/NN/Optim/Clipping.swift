import Autograd
import Tensor

/// Global-norm clipping: when `‖(g₁, …, gₙ)‖₂ > maxNorm`, scales every gradient in place by
/// `maxNorm / (norm + 1e-6)` (PyTorch's `clip_grad_norm_`). Parameters without a gradient are skipped.
///
/// A non-finite norm leaves the gradients untouched: the caller should skip the step.
/// For LOMO/AdaLomo (no gradients outlive the backward) use `measureGradientNorm(maxNorm:_:)`
/// on the optimizer instead.
/// - Returns: the norm before clipping.
@discardableResult
public func clipGradientNorm(_ params: [Parameter], maxNorm: Float) -> Float {
    let norm = globalGradientNorm(params)
    if norm.isFinite, norm > maxNorm { scaleGradients(params, by: maxNorm / (norm + 1e-6)) }
    return norm
}

/// `‖(g₁, …, gₙ)‖₂` over the parameters that have a gradient, accumulated in Double.
public func globalGradientNorm(_ params: [Parameter]) -> Float {
    var total = 0.0
    var seen = Set<ObjectIdentifier>()
    for p in params where seen.insert(ObjectIdentifier(p)).inserted {
        if let g = p.grad { total += Double(g.squaredNorm()) }
    }
    return Float(total.squareRoot())
}

/// Multiplies every gradient by `factor` in place (e.g. `1/k` after accumulating k micro-batches
/// with unscaled losses).
///
/// Each distinct gradient storage is scaled once, in place, never copied: after a backward the
/// only other holders of a gradient's storage are other gradients (an op that hands one gradient
/// to two parameters) and GradLite's error-feedback memory, which *is* the layer's gradient buffer
/// (so clipping scales the memory, and no second m×n buffer appears).
public func scaleGradients(_ params: [Parameter], by factor: Float) {
    var seen = Set<ObjectIdentifier>()
    for p in params {
        guard let g = p.grad, seen.insert(ObjectIdentifier(g.storage)).inserted else { continue }
        g.scaleSharedStorage(by: factor)
    }
}
