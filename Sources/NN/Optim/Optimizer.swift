import Autograd
import Tensor

/// An optimizer over a fixed list of parameters.
///
/// The usual step, with `k` micro-batches of gradient accumulation (gradients add up in
/// `Parameter.grad` until `zeroGrad()`; scale each micro-batch's loss by `1/k`):
/// ```swift
/// optimizer.learningRate = schedule.learningRate(atStep: optimizer.stepCount)
/// for micro in batches { (loss(micro) * (1 / Float(k))).backward() }
/// let norm = clipGradientNorm(parameters, maxNorm: 1)   // skip the step if !norm.isFinite
/// optimizer.step()
/// optimizer.zeroGrad()
/// ```
/// Optimizers with `updatesDuringBackward` (LOMO, AdaLomo, and AdamW, SGD, GaLore and Grass made
/// layer-wise) update each parameter inside the backward as soon as its gradient is complete and
/// free the gradient there: set `learningRate` *before* the backward; `step()` only does the
/// per-step bookkeeping. They cannot accumulate gradients over micro-batches (no gradient outlives
/// its backward), and clipping needs a first backward that only measures the norm
/// (`FusedBackwardOptimizer.measureGradientNorm`).
///
/// State (moments, projections, step counts) is allocated when the optimizer is made, counted
/// under `Memory` category `.optimizer`, and exposed for checkpoints as named tensors: fp32
/// tensors (`stateTensors()`) and the byte codes of 8-bit states (`stateCodes()`).
public protocol Optimizer: AnyObject {
    /// Base learning rate of the next update (each parameter's `learningRateScale` multiplies it).
    var learningRate: Float { get set }
    /// Number of completed `step()` calls.
    var stepCount: Int { get }
    /// Applies one update from the current gradients (LOMO/AdaLomo: bookkeeping only).
    func step()
    /// Drops the gradients of every managed parameter.
    func zeroGrad()
    /// Whether updates happen inside the backward through gradient-complete hooks.
    var updatesDuringBackward: Bool { get }
    /// Every piece of state as named tensors: `<param path>.<name>` (e.g. `layers.0.mlp.up.weight.exp_avg`)
    /// plus `step`. Scalars are 0-D tensors.
    func stateTensors() -> [String: Tensor]
    /// The codes of 8-bit states (`states:int8`): `<param path>.exp_avg.codes`, ... (their scales
    /// `....absmax` are in `stateTensors()`); empty for fp32 states.
    func stateCodes() -> [String: ByteTensor]
    /// Restores what `stateTensors()` and `stateCodes()` returned, bit for bit. Throws
    /// `OptimizerStateError` naming every missing, unexpected or mis-shaped key at once (and a
    /// state saved in another encoding, fp32 against int8, as such), and changes nothing then.
    func loadState(_ tensors: [String: Tensor], codes: [String: ByteTensor]) throws
    /// One line: the algorithm, its hyper-parameters and how many parameters it manages.
    var description: String { get }
}

extension Optimizer {
    /// No 8-bit states.
    public func stateCodes() -> [String: ByteTensor] { [:] }
    /// `loadState(_:codes:)` for an optimizer state without 8-bit codes.
    public func loadState(_ tensors: [String: Tensor]) throws { try loadState(tensors, codes: [:]) }

    /// Bytes of optimizer state (what `stateTensors()` and `stateCodes()` hold, scalars included).
    public var stateBytes: Int {
        stateTensors().values.reduce(0) { $0 + $1.bytes } + stateCodes().values.reduce(0) { $0 + $1.bytes }
    }
}
