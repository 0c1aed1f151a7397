import Autograd
import Tensor

/// Adam with decoupled weight decay (Loshchilov & Hutter 2019), PyTorch's formula:
/// `w ← w(1 − lr·wd)`; `m ← β1 m + (1−β1) g`; `v ← β2 v + (1−β2) g²`;
/// `w ← w − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)`, fused into one pass over the raw buffers.
///
/// State per parameter (allocated at construction, `.optimizer`): `exp_avg` and `exp_avg_sq`
/// shaped like the parameter (2× the parameter bytes) and `step`, its own update count (a
/// parameter without a gradient in some step, e.g. an unrouted expert, keeps its count).
public final class AdamW: Optimizer {
    public struct Options: Equatable, Sendable {
        public var beta1: Float
        public var beta2: Float
        public var eps: Float
        public init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8) {
            self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        }
    }

    final class State {
        var m: Tensor
        var v: Tensor
        var step = 0
        init(shape: [Int]) {
            (m, v) = Memory.withCategory(.optimizer) { (Tensor.zeros(shape), Tensor.zeros(shape)) }
        }
    }

    public let options: Options
    public var learningRate: Float
    /// Default decoupled weight decay (a parameter's `ParameterOptions.weightDecay` overrides it).
    public let weightDecay: Float
    public private(set) var stepCount = 0
    let slots: [ParameterSlot]
    let states: [State]
    private let allParameters: [Parameter]

    /// - Parameters:
    ///   - parameters: (path, parameter) pairs, e.g. `model.namedParameters()`.
    ///   - groups: per-path options; frozen parameters get no state and no update.
    public convenience init(parameters: [(String, Parameter)], learningRate: Float, weightDecay: Float = 0,
                            options: Options = Options(), groups: ParameterGroups = ParameterGroups()) {
        self.init(slots: groups.slots(parameters), all: parameters.map(\.1), learningRate: learningRate,
                  weightDecay: weightDecay, options: options)
    }

    init(slots: [ParameterSlot], all: [Parameter], learningRate: Float, weightDecay: Float, options: Options) {
        self.slots = slots
        self.allParameters = all
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.options = options
        states = slots.map { State(shape: $0.parameter.shape) }
    }

    public var updatesDuringBackward: Bool { false }

    public func step() {
        for (slot, state) in zip(slots, states) { update(slot, state) }
        stepCount += 1
    }

    private func update(_ slot: ParameterSlot, _ state: State) {
        guard let g = slot.parameter.grad else { return }
        precondition(g.shape == slot.parameter.shape, "AdamW: gradient \(g.shape) for \(slot.path) of shape \(slot.parameter.shape)")
        state.step += 1
        let c = AdamCoefficients(beta1: options.beta1, beta2: options.beta2, eps: options.eps, step: state.step)
        let lr = learningRate * slot.options.learningRateScale, wd = slot.weightDecay(default: weightDecay)
        let count = g.count
        slot.parameter.updateInPlace { value in
            value.withUnsafeMutableBufferPointer { w in
                state.m.withUnsafeMutableBufferPointer { m in
                    state.v.withUnsafeMutableBufferPointer { v in
                        adamwKernel(weight: w.baseAddress!, grad: g.pointer, m: m.baseAddress!, v: v.baseAddress!,
                                    count: count, learningRate: lr, weightDecay: wd, c)
                    }
                }
            }
        }
    }

    public func zeroGrad() { for p in allParameters { p.zeroGrad() } }

    /// Per-parameter entries only (the composite optimizers add their own global `step`).
    var slotEntries: [StateEntry] {
        zip(slots, states).flatMap { slot, s -> [StateEntry] in
            [.tensor("\(slot.path).exp_avg", { s.m }, { s.m = $0 }, shape: slot.parameter.shape),
             .tensor("\(slot.path).exp_avg_sq", { s.v }, { s.v = $0 }, shape: slot.parameter.shape),
             .count("\(slot.path).step", { s.step }, { s.step = $0 })]
        }
    }

    private var entries: [StateEntry] {
        slotEntries + [.count("step", { [unowned self] in stepCount }, { [unowned self] in stepCount = $0 })]
    }

    public func stateTensors() -> [String: Tensor] { entries.collect() }
    public func loadState(_ tensors: [String: Tensor]) throws { try entries.load(tensors, optimizer: description) }

    var hyperparameters: String {
        "β1 \(options.beta1), β2 \(options.beta2), ε \(options.eps), weight decay \(weightDecay)"
    }

    public var description: String { "AdamW(\(hyperparameters)) on \(slots.count) parameters" }
}
