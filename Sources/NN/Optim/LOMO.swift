import Autograd
import Tensor

/// LOMO (Lv et al. 2023): SGD fused into the backward. Each parameter is updated,
/// `w ← w − lr·(g + wd·w)`, the moment its gradient is complete, and the gradient is freed there,
/// so no full set of gradients is ever alive. No optimizer state besides the step count.
///
/// Use: set `learningRate` before the backward; the backward does the updates; `step()` counts
/// the step. Gradient accumulation over micro-batches is impossible (every backward updates).
/// Global-norm clipping needs the norm before the first update, hence a second pass:
/// ```swift
/// let norm = lomo.measureGradientNorm(maxNorm: 1) { loss(batch).backward() } // frees grads, no update
/// if norm.isFinite { loss(batch).backward() }                                 // updates, clipped
/// lomo.step()
/// ```
/// The optimizer attaches itself to the parameters' gradient-complete hooks when made; after
/// `detach()`, `step()` applies whatever gradients the backward left (plain SGD).
public final class LOMO: FusedBackwardOptimizer {
    public var learningRate: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0
    let slots: [ParameterSlot]
    private let allParameters: [Parameter]
    private let fused: FusedBackward

    public init(parameters: [(String, Parameter)], learningRate: Float, weightDecay: Float = 0,
                groups: ParameterGroups = ParameterGroups()) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        slots = groups.slots(parameters)
        allParameters = parameters.map(\.1)
        fused = FusedBackward(slots: slots, all: allParameters)
        attach()
    }

    /// Updates inside the backward from now on (the default).
    public func attach() { fused.attach { [weak self] i, g, scale in self?.update(i, g, gradScale: scale) } }
    /// Leaves gradients to `step()` from now on.
    public func detach() { fused.detach() }

    public var updatesDuringBackward: Bool { fused.attached }

    /// Runs `backward` with the hooks only measuring the global gradient norm (no update; the
    /// gradients are freed) and makes the next backward clip to `maxNorm`. - Returns: the norm.
    public func measureGradientNorm(maxNorm: Float, _ backward: () throws -> Void) rethrows -> Float {
        try fused.measure(maxNorm: maxNorm, backward)
    }

    private func update(_ i: Int, _ g: Tensor, gradScale scale: Float) {
        let slot = slots[i]
        precondition(g.shape == slot.parameter.shape, "LOMO: gradient \(g.shape) for \(slot.path) of shape \(slot.parameter.shape)")
        let lr = learningRate * slot.options.learningRateScale, wd = slot.weightDecay(default: weightDecay)
        let count = g.count
        slot.parameter.updateInPlace { value in
            value.withUnsafeMutableBufferPointer { w in
                sgdKernel(weight: w.baseAddress!, grad: g.pointer, buffer: nil, count: count, learningRate: lr,
                          weightDecay: wd, momentum: 0, nesterov: false, gradScale: scale)
            }
        }
    }

    public func step() {
        // Attached, the backward consumed every gradient; detached, they are applied here.
        for (i, slot) in slots.enumerated() {
            if let g = slot.parameter.grad { slot.parameter.grad = nil; update(i, g, gradScale: 1) }
        }
        fused.resetScale()
        stepCount += 1
    }

    public func zeroGrad() { for p in allParameters { p.zeroGrad() } }

    private var entries: [StateEntry] { [.count("step", { [unowned self] in stepCount }, { [unowned self] in stepCount = $0 })] }
    public func stateTensors() -> [String: Tensor] { entries.collect() }
    public func loadState(_ tensors: [String: Tensor], codes: [String: ByteTensor]) throws {
        try entries.load(tensors, codes: codes, optimizer: description)
    }

    public var description: String { "LOMO(weight decay \(weightDecay)) on \(slots.count) parameters" }
}
