import Autograd
import Foundation
import Tensor

/// The engine GaLore and Grass share: projected Adam on the matrices the groups select
/// (`ParameterGroups.usesSubspace`), AdamW with the same β/ε on every other parameter.
/// The owners decide when and how the basis moves; this does the update itself (ALGORITHMS.md §7):
/// `R = project(G)`; `M ← β1 M + (1−β1) R`; `V ← β2 V + (1−β2) R²`; `N = M/(√V + ε)`;
/// `W ← W − lr·√(1−β2ᵗ)/(1−β1ᵗ) · (α·lift(N) [+ U_rs])`; then `W ← W(1 − lr·wd)`.
final class SubspaceAdamCore {
    let options: SubspaceOptions
    let weightDecay: Float
    let states: [SubspaceState]
    let rest: AdamW
    let allParameters: [Parameter]
    var stepCount = 0

    init(parameters: [(String, Parameter)], learningRate: Float, weightDecay: Float, options: SubspaceOptions,
         groups: ParameterGroups) {
        self.options = options
        self.weightDecay = weightDecay
        let slots = groups.slots(parameters)
        let projected = slots.filter { groups.usesSubspace(path: $0.path, shape: $0.parameter.shape) }
        let others = slots.filter { !groups.usesSubspace(path: $0.path, shape: $0.parameter.shape) }
        states = projected.map { SubspaceState(slot: $0, requestedRank: options.rank) }
        rest = AdamW(slots: others, all: [], learningRate: learningRate, weightDecay: weightDecay, options: options.adamOptions)
        allParameters = parameters.map(\.1)
    }

    /// Whether `s` is due for a basis refresh before its next update (steps 1, 1+T, 1+2T, … counted from 1).
    func isRefreshDue(_ s: SubspaceState) -> Bool { s.step % options.gap == 0 }

    /// One projected Adam update of `s` from its gradient `g` (m, n); increments `s.step`.
    /// - Parameter recovery: Grass's recovery scaling of the discarded gradient, given
    ///   (g, R, N) and returning `U_rs` (m, n); nil for GaLore.
    func update(_ s: SubspaceState, gradient g: Tensor, learningRate: Float,
                recovery: ((Tensor, Tensor, Tensor) -> Tensor)? = nil) {
        s.step += 1
        let r = s.project(g)
        var n = Tensor(uninitializedShape: r.shape)
        let count = r.count
        s.m.withUnsafeMutableBufferPointer { m in
            s.v.withUnsafeMutableBufferPointer { v in
                n.withUnsafeMutableBufferPointer { o in
                    adamDirectionKernel(r.pointer, m: m.baseAddress!, v: v.baseAddress!, out: o.baseAddress!, count: count,
                                        beta1: options.beta1, beta2: options.beta2, eps: options.eps)
                }
            }
        }
        let c = AdamCoefficients(beta1: options.beta1, beta2: options.beta2, eps: options.eps, step: s.step)
        let lr = learningRate * s.slot.options.learningRateScale
        let stepSize = lr * c.correction2.squareRoot() / c.correction1
        let p = s.slot.parameter
        let scaledRecovery = recovery?(g, r, n)
        let wd = s.slot.weightDecay(default: weightDecay)
        p.updateInPlace { w in
            s.addLifted(n, alpha: -stepSize * options.scale, to: &w)
            if let u = scaledRecovery { w.addScaled(u, -stepSize) }
            if wd != 0 { w.scale(by: 1 - lr * wd) }
        }
    }

    /// Runs the AdamW group at `learningRate` and counts the step.
    func finishStep(learningRate: Float) {
        rest.learningRate = learningRate
        rest.step()
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
}
