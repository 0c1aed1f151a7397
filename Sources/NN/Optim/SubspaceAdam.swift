import Autograd
import Foundation
import Tensor

/// The engine GaLore and Grass share: projected Adam on the matrices the groups select
/// (`ParameterGroups.usesSubspace`), AdamW with the same β/ε on every other parameter.
/// The owners decide when and how the basis moves; this does the update itself (ALGORITHMS.md §7):
/// `R = project(G)`; `M ← β1 M + (1−β1) R`; `V ← β2 V + (1−β2) R²`; `N = M/(√V + ε)`;
/// `W ← W − lr·√(1−β2ᵗ)/(1−β1ᵗ) · (α·lift(N) [+ U_rs])`; then `W ← W(1 − lr·wd)`.
///
/// Layer-wise (§12), every managed parameter's gradient-complete hook runs the owner's projected
/// update (`attach(projected:)`) or the AdamW group's, so `step()` is left with the bookkeeping.
final class SubspaceAdamCore {
    let options: SubspaceOptions
    let weightDecay: Float
    let states: [SubspaceState]
    let rest: AdamW
    let allParameters: [Parameter]
    var learningRate: Float
    var stepCount = 0
    /// Hooks over the projected weights (indices `0..<states.count`) and the AdamW group (after them).
    let fused: FusedBackward

    init(parameters: [(String, Parameter)], learningRate: Float, weightDecay: Float, options: SubspaceOptions,
         groups: ParameterGroups) {
        self.options = options
        self.weightDecay = weightDecay
        self.learningRate = learningRate
        let slots = groups.slots(parameters)
        let projected = slots.filter { groups.usesSubspace(path: $0.path, shape: $0.parameter.shape) }
        let others = slots.filter { !groups.usesSubspace(path: $0.path, shape: $0.parameter.shape) }
        states = projected.map { SubspaceState(slot: $0, requestedRank: options.rank, states: options.states) }
        rest = AdamW(slots: others, all: [], learningRate: learningRate, weightDecay: weightDecay, options: options.adamOptions)
        allParameters = parameters.map(\.1)
        fused = FusedBackward(slots: projected + others, all: allParameters)
    }

    /// Updates inside the backward from now on: `projected(s, g)` for a projected weight (g already
    /// multiplied by the clip factor), the AdamW group's update for the others. A projected weight
    /// for which `acceptsFactored(s)` holds takes a factored gradient as it is.
    func attach(projected: @escaping (SubspaceState, WeightGradient) -> Void, acceptsFactored: @escaping (SubspaceState) -> Bool) {
        fused.attach { [weak self] i, g, scale in
            guard let self else { return }
            if i < states.count {
                projected(states[i], .dense(scale == 1 ? g : g * scale))
            } else {
                rest.update(i - states.count, g, learningRate: learningRate, gradScale: scale)
            }
        }
        fused.factored = (accepts: { [weak self] i in
                              guard let self, i < states.count else { return false }
                              return acceptsFactored(states[i])
                          },
                          update: { [weak self] i, left, right, scale in
                              guard let self else { return }
                              projected(states[i], .factored(left: scale == 1 ? left : left * scale, right: right))
                          })
    }

    /// Whether `s` is due for a basis refresh before its next update (steps 1, 1+T, 1+2T, … counted from 1).
    func isRefreshDue(_ s: SubspaceState) -> Bool { s.step % options.gap == 0 }

    /// One projected Adam update of `s` from its gradient `g` (m, n, or its factors); increments `s.step`.
    /// - Parameter recovery: Grass's recovery scaling of the discarded gradient, given
    ///   (g, R, N) and returning `U_rs` (m, n); nil for GaLore.
    func update(_ s: SubspaceState, gradient g: WeightGradient, learningRate: Float,
                recovery: ((Tensor, Tensor, Tensor) -> Tensor)? = nil) {
        s.step += 1
        let r = s.project(g)
        var n = Tensor(uninitializedShape: r.shape)
        n.withUnsafeMutableBufferPointer { o in
            let po = UncheckedSendable(o.baseAddress!)
            s.moments.update { range, m, v, form in
                adamDirectionKernel(r.pointer + range.lowerBound, m: m, v: v, form: form, out: po.value + range.lowerBound, count: range.count,
                                    beta1: options.beta1, beta2: options.beta2, eps: options.eps)
            }
        }
        let c = AdamCoefficients(beta1: options.beta1, beta2: options.beta2, eps: options.eps, step: s.step)
        let lr = learningRate * s.slot.options.learningRateScale
        let stepSize = lr * c.correction2.squareRoot() / c.correction1
        let p = s.slot.parameter
        let scaledRecovery = recovery?(g.dense, r, n)
        let wd = s.slot.weightDecay(default: weightDecay)
        p.updateInPlace { w in
            s.addLifted(n, alpha: -stepSize * options.scale, to: &w)
            if let u = scaledRecovery { w.addScaled(u, -stepSize) }
            if wd != 0 { w.scale(by: 1 - lr * wd) }
        }
    }

    /// Runs the AdamW group (nothing is left for it layer-wise) and counts the step.
    func finishStep() {
        rest.learningRate = learningRate
        rest.step()
        fused.resetScale()
        stepCount += 1
    }

    func zeroGrad() { for p in allParameters { p.zeroGrad() } }

    func entries(includeRecovery: Bool) -> [StateEntry] {
        states.flatMap { $0.entries(includeRecovery: includeRecovery) } + rest.slotEntries
            + [.count("step", { [unowned self] in stepCount }, { [unowned self] in stepCount = $0 })]
    }

    /// "on 28 matrices (rank 128), AdamW on 9 others"
    var coverage: String {
        let ranks = Set(states.map(\.rank)).sorted().map(String.init).joined(separator: "/")
        return "on \(states.count) matrices\(states.isEmpty ? "" : " (rank \(ranks))"), AdamW on \(rest.slots.count) others"
    }

    /// ", int8 states, layer-wise" as they apply.
    var modes: String {
        (options.states == .fp32 ? "" : ", \(options.states) states") + (fused.attached ? ", layer-wise" : "")
    }
}
