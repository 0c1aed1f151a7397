import Autograd
import Tensor

/// Adam with decoupled weight decay (Loshchilov & Hutter 2019), PyTorch's formula:
/// `w ← w(1 − lr·wd)`; `m ← β1 m + (1−β1) g`; `v ← β2 v + (1−β2) g²`;
/// `w ← w − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)`, fused into one pass over the raw buffers.
///
/// State per parameter (allocated at construction, `.optimizer`): `exp_avg` and `exp_avg_sq`
/// shaped like the parameter (2× the parameter bytes; with `states: .int8` about a quarter of
/// that, see `AdamMoments`) and `step`, its own update count (a parameter without a gradient in
/// some step, e.g. an unrouted expert, keeps its count).
///
/// `layerwise: true` updates each parameter inside the backward, as soon as its gradient is
/// complete, and frees the gradient there (ALGORITHMS.md §12): the same math, without a full set
/// of gradients alive at once. Use it as LOMO (`FusedBackwardOptimizer`).
public final class AdamW: FusedBackwardOptimizer {
    public struct Options: Equatable, Sendable {
        public var beta1: Float
        public var beta2: Float
        public var eps: Float
        /// How the moments are stored.
        public var states: StateEncoding
        public init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, states: StateEncoding = .fp32) {
            self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.states = states
        }
    }

    final class State {
        let moments: AdamMoments
        var step = 0
        init(shape: [Int], encoding: StateEncoding) { moments = AdamMoments(shape: shape, encoding: encoding) }
    }

    public let options: Options
    public var learningRate: Float
    /// Default decoupled weight decay (a parameter's `ParameterOptions.weightDecay` overrides it).
    public let weightDecay: Float
    public private(set) var stepCount = 0
    let slots: [ParameterSlot]
    let states: [State]
    private let allParameters: [Parameter]
    private let fused: FusedBackward

    /// - Parameters:
    ///   - parameters: (path, parameter) pairs, e.g. `model.namedParameters()`.
    ///   - groups: per-path options; frozen parameters get no state and no update.
    ///   - layerwise: update inside the backward (see the type's documentation).
    public convenience init(parameters: [(String, Parameter)], learningRate: Float, weightDecay: Float = 0,
                            options: Options = Options(), groups: ParameterGroups = ParameterGroups(), layerwise: Bool = false) {
        self.init(slots: groups.slots(parameters), all: parameters.map(\.1), learningRate: learningRate,
                  weightDecay: weightDecay, options: options)
        if layerwise { attach() }
    }

    init(slots: [ParameterSlot], all: [Parameter], learningRate: Float, weightDecay: Float, options: Options) {
        self.slots = slots
        self.allParameters = all
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.options = options
        states = slots.map { State(shape: $0.parameter.shape, encoding: options.states) }
        fused = FusedBackward(slots: slots, all: all)
    }

    public var updatesDuringBackward: Bool { fused.attached }
    public func attach() {
        fused.attach { [weak self] i, g, scale in
            guard let self else { return }
            update(i, g, learningRate: learningRate, gradScale: scale)
        }
    }
    public func detach() { fused.detach() }
    public func measureGradientNorm(maxNorm: Float, _ backward: () throws -> Void) rethrows -> Float {
        try fused.measure(maxNorm: maxNorm, backward)
    }

    public func step() {
        // Layer-wise, the backward consumed every gradient; otherwise they are applied here.
        for (i, slot) in slots.enumerated() {
            if let g = slot.parameter.grad { update(i, g, learningRate: learningRate, gradScale: 1) }
        }
        fused.resetScale()
        stepCount += 1
    }

    /// One update of `slots[i]` from its gradient `g`, multiplied by `gradScale` (the clip factor
    /// of a layer-wise step).
    func update(_ i: Int, _ g: Tensor, learningRate: Float, gradScale: Float) {
        let slot = slots[i], state = states[i]
        precondition(g.shape == slot.parameter.shape, "AdamW: gradient \(g.shape) for \(slot.path) of shape \(slot.parameter.shape)")
        state.step += 1
        let c = AdamCoefficients(beta1: options.beta1, beta2: options.beta2, eps: options.eps, step: state.step)
        let lr = learningRate * slot.options.learningRateScale, wd = slot.weightDecay(default: weightDecay)
        slot.parameter.updateInPlace { value in
            value.withUnsafeMutableBufferPointer { w in
                let pw = UncheckedSendable(w.baseAddress!)
                state.moments.update { r, m, v, form in
                    adamwKernel(weight: pw.value + r.lowerBound, grad: g.pointer + r.lowerBound, m: m, v: v, form: form,
                                count: r.count, learningRate: lr, weightDecay: wd, c, gradScale: gradScale)
                }
            }
        }
    }

    public func zeroGrad() { for p in allParameters { p.zeroGrad() } }

    /// Per-parameter entries only (the composite optimizers add their own global `step`).
    var slotEntries: [StateEntry] {
        zip(slots, states).flatMap { slot, s -> [StateEntry] in
            s.moments.entries(prefix: slot.path) + [.count("\(slot.path).step", { s.step }, { s.step = $0 })]
        }
    }

    private var entries: [StateEntry] {
        slotEntries + [.count("step", { [unowned self] in stepCount }, { [unowned self] in stepCount = $0 })]
    }

    public func stateTensors() -> [String: Tensor] { entries.collect() }
    public func stateCodes() -> [String: ByteTensor] { entries.collectCodes() }
    public func loadState(_ tensors: [String: Tensor], codes: [String: ByteTensor]) throws {
        try entries.load(tensors, codes: codes, optimizer: description)
    }

    var hyperparameters: String {
        "β1 \(options.beta1), β2 \(options.beta2), ε \(options.eps), weight decay \(weightDecay)"
            + (options.states == .fp32 ? "" : ", \(options.states) states")
    }

    public var description: String {
        "AdamW(\(hyperparameters)\(updatesDuringBackward ? ", layer-wise" : "")) on \(slots.count) parameters"
    }
}
