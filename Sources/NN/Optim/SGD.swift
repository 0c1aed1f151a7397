import Autograd
import Tensor

/// Stochastic gradient descent with L2 weight decay and optional (Nesterov) momentum, PyTorch's
/// formula with dampening 0: `d = g + wd·w`; `b ← μ b + d`; `d = b` (Nesterov: `d + μ b`); `w ← w − lr·d`.
///
/// State (`.optimizer`): with momentum, `momentum_buffer` shaped like each parameter; none otherwise.
public final class SGD: Optimizer {
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

    public init(parameters: [(String, Parameter)], learningRate: Float, weightDecay: Float = 0,
                options: Options = Options(), groups: ParameterGroups = ParameterGroups()) {
        self.options = options
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        slots = groups.slots(parameters)
        allParameters = parameters.map(\.1)
        // A zero buffer makes the first step `b = d`, PyTorch's clone on first use.
        states = slots.map { s in
            State(options.momentum == 0 ? nil : Memory.withCategory(.optimizer) { Tensor.zeros(s.parameter.shape) })
        }
    }

    public var updatesDuringBackward: Bool { false }

    public func step() {
        for (slot, state) in zip(slots, states) {
            guard let g = slot.parameter.grad else { continue }
            let lr = learningRate * slot.options.learningRateScale, wd = slot.weightDecay(default: weightDecay)
            let count = g.count
            let (mu, nesterov) = (options.momentum, options.nesterov)
            slot.parameter.updateInPlace { value in
                value.withUnsafeMutableBufferPointer { w in
                    guard state.buffer != nil else {
                        sgdKernel(weight: w.baseAddress!, grad: g.pointer, buffer: nil, count: count, learningRate: lr,
                                  weightDecay: wd, momentum: 0, nesterov: false)
                        return
                    }
                    state.buffer!.withUnsafeMutableBufferPointer { b in
                        sgdKernel(weight: w.baseAddress!, grad: g.pointer, buffer: b.baseAddress!, count: count, learningRate: lr,
                                  weightDecay: wd, momentum: mu, nesterov: nesterov)
                    }
                }
            }
        }
        stepCount += 1
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
    public func loadState(_ tensors: [String: Tensor]) throws { try entries.load(tensors, optimizer: description) }

    public var description: String {
        "SGD(momentum \(options.momentum)\(options.nesterov ? ", Nesterov" : ""), weight decay \(weightDecay)) on \(slots.count) parameters"
    }
}
