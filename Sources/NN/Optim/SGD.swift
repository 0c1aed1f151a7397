import Autograd
import Tensor

/// Stochastic gradient descent with L2 weight decay and optional (Nesterov) momentum, PyTorch's
/// formula with dampening 0: `d = g + wd·w`; `b ← μ b + d`; `d = b` (Nesterov: `d + μ b`); `w ← w − lr·d`.
///
/// State (`.optimizer`): with momentum, `momentum_buffer` shaped like each parameter; none otherwise.
/// `layerwise: true` updates inside the backward as `AdamW`'s option does (without momentum this
/// is LOMO).
public final class SGD: FusedBackwardOptimizer {
    public struct Options: Equatable, Sendable {
        public var momentum: Float
        public var nesterov: Bool
        public init(momentum: Float = 0, nesterov: Bool = false) {
            precondition(!nesterov || momentum > 0, "SGD: Nesterov momentum needs momentum > 0")
            self.momentum = momentum; self.nesterov = nesterov
        }
    }

    final class State { var buffer: Tensor?; init(_ b: Tensor?) { buffer = b } }

    public let options: Options
    public var learningRate: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0
    let slots: [ParameterSlot]
    let states: [State]
    private let allParameters: [Parameter]
    private let fused: FusedBackward

    public init(parameters: [(String, Parameter)], learningRate: Float, weightDecay: Float = 0,
                options: Options = Options(), groups: ParameterGroups = ParameterGroups(), layerwise: Bool = false) {
        self.options = options
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        slots = groups.slots(parameters)
        allParameters = parameters.map(\.1)
        // A zero buffer makes the first step `b = d`, PyTorch's clone on first use.
        states = slots.map { s in
            State(options.momentum == 0 ? nil : Memory.withCategory(.optimizer) { Tensor.zeros(s.parameter.shape) })
        }
        fused = FusedBackward(slots: slots, all: allParameters)
        if layerwise { attach() }
    }

    public var updatesDuringBackward: Bool { fused.attached }
    public func attach() {
        fused.attach { [weak self] i, g, scale in
            guard let self else { return }
            update(i, g, gradScale: scale)
        }
    }
    public func detach() { fused.detach() }
    public func measureGradientNorm(maxNorm: Float, _ backward: () throws -> Void) rethrows -> Float {
        try fused.measure(maxNorm: maxNorm, backward)
    }

    public func step() {
        for (i, slot) in slots.enumerated() { if let g = slot.parameter.grad { update(i, g, gradScale: 1) } }
        fused.resetScale()
        stepCount += 1
    }

    private func update(_ i: Int, _ g: Tensor, gradScale: Float) {
        let slot = slots[i], state = states[i]
        let lr = learningRate * slot.options.learningRateScale, wd = slot.weightDecay(default: weightDecay)
        let count = g.count
        let (mu, nesterov) = (options.momentum, options.nesterov)
        slot.parameter.updateInPlace { value in
            value.withUnsafeMutableBufferPointer { w in
                guard state.buffer != nil else {
                    sgdKernel(weight: w.baseAddress!, grad: g.pointer, buffer: nil, count: count, learningRate: lr,
                              weightDecay: wd, momentum: 0, nesterov: false, gradScale: gradScale)
                    return
                }
                state.buffer!.withUnsafeMutableBufferPointer { b in
                    sgdKernel(weight: w.baseAddress!, grad: g.pointer, buffer: b.baseAddress!, count: count, learningRate: lr,
                              weightDecay: wd, momentum: mu, nesterov: nesterov, gradScale: gradScale)
                }
            }
        }
    }

    public func zeroGrad() { for p in allParameters { p.zeroGrad() } }

    private var entries: [StateEntry] {
        var out: [StateEntry] = zip(slots, states).compactMap { slot, s in
            s.buffer == nil ? nil : .tensor("\(slot.path).momentum_buffer", { s.buffer! }, { s.buffer = $0 }, shape: slot.parameter.shape)
        }
        out.append(.count("step", { [unowned self] in stepCount }, { [unowned self] in stepCount = $0 }))
        return out
    }

    public func stateTensors() -> [String: Tensor] { entries.collect() }
    public func loadState(_ tensors: [String: Tensor], codes: [String: ByteTensor]) throws {
        try entries.load(tensors, codes: codes, optimizer: description)
    }

    public var description: String {
        "SGD(momentum \(options.momentum)\(options.nesterov ? ", Nesterov" : ""), weight decay \(weightDecay)"
            + "\(updatesDuringBackward ? ", layer-wise" : "")) on \(slots.count) parameters"
    }
}
