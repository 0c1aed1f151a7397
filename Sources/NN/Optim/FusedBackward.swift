import Autograd
import Foundation
import Tensor

/// An optimizer that can update inside the backward: LOMO and AdaLomo always, AdamW, SGD, GaLore
/// and Grass when made layer-wise (`layerwise: true`, `attach()`). What a training loop needs
/// beyond `Optimizer`:
/// ```swift
/// if optimizer.updatesDuringBackward, let fused = optimizer as? FusedBackwardOptimizer, clip > 0 {
///     let norm = model.preservingEstimatorState { // the measuring pass must not advance estimators
///         fused.measureGradientNorm(maxNorm: clip) { loss(batch).backward() } // no update
///     }
///     guard norm.isFinite else { skip the step }
/// }
/// loss(batch).backward() // updates, clipped to `clip`
/// optimizer.step()
/// ```
public protocol FusedBackwardOptimizer: Optimizer {
    /// Runs `backward` (a full forward + backward of the loss) with the hooks only summing `‖g‖²`
    /// and freeing each gradient; the next updating backward then scales every gradient by
    /// `min(1, maxNorm / (norm + 1e-6))`. The factor resets at `step()`.
    /// - Returns: the global gradient norm.
    func measureGradientNorm(maxNorm: Float, _ backward: () throws -> Void) rethrows -> Float
    /// Updates inside the backward from now on (the state after construction).
    func attach()
    /// Leaves the gradients to `step()` from now on (a plain, unfused update).
    func detach()
}

/// The hook plumbing of every fused optimizer: each managed parameter's gradient-complete hook
/// hands the gradient to the optimizer's update and frees it at once, so at most the gradients
/// the backward is currently forming are alive, never a full set.
///
/// Clipping: the global norm is known only after a whole backward, but the updates happen during
/// it. `measure` runs one backward whose hooks only add up `‖g‖²` (and free each gradient); the
/// resulting clip factor `min(1, maxNorm/(norm + 1e-6))` scales the gradients of the next
/// (updating) backward. So clipped LOMO costs a second forward and backward per step. A gradient
/// whose storage is shared, i.e. GradLite's error-feedback memory H, is scaled in place instead,
/// exactly as `clipGradientNorm` scales it in a plain step, so both paths leave the same H.
final class FusedBackward {
    private(set) var attached = false
    private var installed = false
    private var measuring = false
    private var squaredNorm = 0.0
    /// Multiplies every gradient of the updating pass (the clip factor); reset by `resetScale()`.
    private var gradScale: Float = 1
    private let slotIndex: [ObjectIdentifier: Int]
    private let parameters: [Parameter]
    private var update: ((_ slot: Int, _ gradient: Tensor, _ gradScale: Float) -> Void)?
    /// Slots that take a factored gradient as it is (`Parameter.takeFactoredGrad()`): `accepts(slot)`
    /// is asked first, then `update(slot, left, right, gradScale)` applies it. Nil: always dense.
    var factored: (accepts: (_ slot: Int) -> Bool, update: (_ slot: Int, _ left: Tensor, _ right: Tensor, _ gradScale: Float) -> Void)?

    init(slots: [ParameterSlot], all: [Parameter]) {
        var index: [ObjectIdentifier: Int] = [:]
        for (i, s) in slots.enumerated() { index[ObjectIdentifier(s.parameter)] = i }
        slotIndex = index
        parameters = all
    }

    /// Starts updating inside the backward. `update(slotIndex, gradient, gradScale)` applies the
    /// gradient multiplied by `gradScale`; it must capture its optimizer weakly: the parameters
    /// keep the hooks for their whole life.
    func attach(_ update: @escaping (_ slot: Int, _ gradient: Tensor, _ gradScale: Float) -> Void) {
        self.update = update
        attached = true
        guard !installed else { return }
        installed = true
        for p in parameters { p.onGradientComplete { [weak self] p in self?.gradientComplete(p) } }
    }

    /// Stops updating in the backward (the hooks stay registered and do nothing).
    func detach() { attached = false }

    private func gradientComplete(_ p: Parameter) {
        guard attached else { return }
        if !measuring, let i = slotIndex[ObjectIdentifier(p)], let factored, factored.accepts(i), let f = p.takeFactoredGrad() {
            factored.update(i, f.left, f.right, gradScale)
            return
        }
        guard var g = p.grad else { return }
        p.grad = nil // freed before the update's own temporaries are made
        if measuring {
            squaredNorm += Double(g.squaredNorm())
        } else if let i = slotIndex[ObjectIdentifier(p)] {
            if gradScale != 1 && !g.isUniquelyReferenced() {
                g.scaleSharedStorage(by: gradScale)
                update?(i, g, 1)
            } else {
                update?(i, g, gradScale)
            }
        }
    }

    /// Runs `backward` (one forward + backward of the loss) with the hooks only measuring, and
    /// sets the clip factor for the next updating backward. - Returns: the global gradient norm.
    func measure(maxNorm: Float, _ backward: () throws -> Void) rethrows -> Float {
        precondition(attached, "measureGradientNorm: the optimizer is detached from the backward")
        measuring = true
        squaredNorm = 0
        defer { measuring = false }
        try backward()
        let norm = Float(squaredNorm.squareRoot())
        gradScale = norm.isFinite && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1
        return norm
    }

    func resetScale() { gradScale = 1 }
}
