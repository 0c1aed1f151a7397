import Autograd
import Tensor

/// What a linear op's forward keeps for its backward.
public struct EstimatorSaved {
    /// Saved activations (counted by the tape as saved bytes), e.g. `x` or `z = x V`.
    public var activations: [Tensor]
    /// References to resident estimator state valid for this call (e.g. the basis used);
    /// shared storage, so not counted as saved bytes.
    public var context: [Tensor]
    /// The estimator step this forward ran at (keys regenerated random projections).
    public var step: UInt64

    public init(activations: [Tensor], context: [Tensor] = [], step: UInt64 = 0) {
        self.activations = activations; self.context = context; self.step = step
    }
}

/// A backward estimator for a linear op `y = x Wᵀ` (ALGORITHMS.md notation: `W` is (m, n),
/// `x` is (N, n), `δ = ∂L/∂y` is (N, m)).
///
/// The estimator decides what the forward keeps and how the weight gradient `Ĝ ≈ δᵀ x` is formed
/// from it; `dx = δ W` is always exact. It owns its state (bases, error-feedback memory, step
/// counter, RNG stream) outside the tape, so the state persists across steps and is saved in
/// checkpoints (`stateTensors()` / `loadState(_:)`).
///
/// How it plugs in: `linear(_:_:estimator:)` records the op with `Tape.record`'s custom backward.
/// The forward calls `save(input:weightShape:)` only when the weight needs a gradient (so
/// no-grad evaluation neither saves nor advances state); `activations` go on the tape (counted,
/// freed right after the node's backward, and kept in the codec of the current module scope, so
/// the backward may see them decoded from bf16 or int8, ALGORITHMS.md §10); the backward calls
/// `weightGradient(outputGradient:saved:weightShape:)` once.
///
/// Rules for implementers:
/// - Anything random must be regenerable from `EstimatorSaved.step` (use `EstimatorClock`), so
///   projections are recomputed in the backward instead of saved.
/// - If `save` mutates state (a step counter, a basis), call `Checkpointing.willMutate(self)`
///   first and conform to `RecomputeStateful`, so a checkpointed segment's recomputation sees the
///   state the original forward saw.
/// - Estimator state made in the backward is allocated under `.workspace` (the tape's scope);
///   recategorize what you keep.
///
/// A user-defined estimator that keeps every `stride`-th row of `x` (cycling the offset with the
/// step) and rescales, saving N/stride rows instead of N (compiled in `EstimatorGuideTests`):
/// ```swift
/// final class RowSubsampleEstimator: LinearEstimator, RecomputeStateful {
///     let stride: Int
///     private var step: UInt64 = 0
///     init(stride: Int) { self.stride = stride }
///     var description: String { "rows(1/\(stride))" }
///
///     private func rows(_ count: Int, step: UInt64) -> [Int] {
///         Array(Swift.stride(from: Int(step % UInt64(stride)), to: count, by: stride))
///     }
///     func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved {
///         Checkpointing.willMutate(self)
///         defer { step += 1 }
///         return EstimatorSaved(activations: [x.indexSelect(rows(x.shape[0], step: step))], step: step)
///     }
///     func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
///         let kept = delta.indexSelect(rows(delta.shape[0], step: saved.step))
///         return Tensor.matmul(kept, saved.activations[0], transposeA: true) * Float(stride)
///     }
///     func savedBytes(rows: Int, weightShape: [Int]) -> Int {
///         (rows + stride - 1) / stride * weightShape[1] * 4
///     }
///     func captureRecomputeState() -> Any { step }
///     func restoreRecomputeState(_ state: Any) { step = state as! UInt64 }
/// }
/// // linear(x, weight.variable, estimator: RowSubsampleEstimator(stride: 4))
/// ```
public protocol LinearEstimator: AnyObject, CustomStringConvertible {
    /// Called in the forward. - Parameter x: (N, n) the layer input, rows flattened.
    func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved
    /// Called in the backward. - Parameter delta: (N, m). - Returns: Ĝ, shaped like the weight (m, n).
    func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor
    /// Ĝ as factors, `Ĝ = left · rightᵀ` with left (m, k) and right (n, k), for an estimate that is
    /// low-rank by construction (the projection estimators); nil, without side effects, otherwise.
    /// The backward calls this or `weightGradient`, once. Default nil.
    func factoredWeightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> (left: Tensor, right: Tensor)?
    /// The estimator's persistent state as named tensors (for checkpoints); empty when stateless.
    func stateTensors() -> [String: Tensor]
    /// Restores what `stateTensors()` returned; throws `EstimatorStateError` on a mismatch.
    func loadState(_ tensors: [String: Tensor]) throws
    /// Bytes `save` puts on the tape for an input of `rows` rows, in fp32 (what the tape will
    /// count before any codec; a layer sharing its sketch's z with an earlier layer adds 0).
    /// Default: `rows · n` floats, as the exact estimator.
    func savedBytes(rows: Int, weightShape: [Int]) -> Int
    /// Bytes of resident state (bases, covariance) once warmed up, for the memory pre-flight.
    /// Default 0. Error-feedback memory that replaces the layer's gradient buffer is not counted
    /// here (it is the gradient).
    func stateBytes(weightShape: [Int]) -> Int
    /// Whether the model should run the block holding this layer as a checkpointed segment
    /// (`checkpoint(_:_:)`): the `recompute` baseline. Default false.
    var requestsCheckpointing: Bool { get }
}

extension LinearEstimator {
    public func factoredWeightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> (left: Tensor, right: Tensor)? { nil }
    public func stateTensors() -> [String: Tensor] { [:] }
    public func loadState(_ tensors: [String: Tensor]) throws {
        guard tensors.isEmpty else { throw EstimatorStateError(message: "\(self) is stateless but got state \(tensors.keys.sorted())") }
    }
    public func savedBytes(rows: Int, weightShape: [Int]) -> Int { rows * weightShape[1] * 4 }
    public func stateBytes(weightShape: [Int]) -> Int { 0 }
    public var requestsCheckpointing: Bool { false }
}

public struct EstimatorStateError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// `y = x Wᵀ` whose weight gradient comes from `estimator`.
/// - Parameters:
///   - x: (..., n)
///   - weight: (m, n)
/// - Returns: (..., m)
public func linear(_ x: Variable, _ weight: Variable, estimator: LinearEstimator) -> Variable {
    let tape = Tape.current
    let needs = tape.needsGrad([x, weight])
    let n = x.shape.last!, rows = x.count / Swift.max(n, 1)
    let w = weight.value, weightShape = weight.shape
    precondition(weightShape.count == 2 && weightShape[1] == n,
                 "linear: input \(x.shape) does not fit weight \(weightShape) (need (..., n) and (m, n))")
    let y = Tensor.matmul(x.value, w, transposeB: true)
    let saved = needs[1] ? estimator.save(input: x.value.reshaped([rows, n]), weightShape: weightShape)
                         : EstimatorSaved(activations: [])
    let xShape = x.shape, parameter = weight.parameter
    var context = saved
    context.activations = [] // the tape owns them and frees them right after this backward
    // The weight is resident: the backward reads it from the closure, not from saved bytes.
    return tape.record("linear[\(estimator)]", inputs: [x, weight], output: y,
                       saving: saved.activations.map { .compressible($0) }) { g, activations in
        let delta = g.reshaped([rows, weightShape[0]])
        let dx = needs[0] ? Tensor.matmul(delta, w).reshaped(xShape) : nil
        var s = context
        s.activations = activations
        guard needs[1] else { return [dx, nil] }
        // A low-rank estimate of a parameter's gradient stays factored on the parameter, so an
        // optimizer projecting it (GaLore) never forms the (m, n) product; the tape sees nil.
        if let p = parameter, let f = estimator.factoredWeightGradient(outputGradient: delta, saved: s, weightShape: weightShape) {
            p.accumulateGrad(left: f.left, right: f.right)
            return [dx, nil]
        }
        return [dx, estimator.weightGradient(outputGradient: delta, saved: s, weightShape: weightShape)]
    }
}
