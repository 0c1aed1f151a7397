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
/// checkpoints.
public protocol LinearEstimator: AnyObject, CustomStringConvertible {
    /// Called in the forward. - Parameter x: (N, n) the layer input, rows flattened.
    func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved
    /// Called in the backward. - Parameter delta: (N, m). - Returns: Ĝ, shaped like the weight (m, n).
    func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor
    /// The estimator's persistent state as named tensors (for checkpoints); empty when stateless.
    func stateTensors() -> [String: Tensor]
    /// Restores what `stateTensors()` returned; throws `EstimatorStateError` on a mismatch.
    func loadState(_ tensors: [String: Tensor]) throws
}

extension LinearEstimator {
    public func stateTensors() -> [String: Tensor] { [:] }
    public func loadState(_ tensors: [String: Tensor]) throws {
        guard tensors.isEmpty else { throw EstimatorStateError(message: "\(self) is stateless but got state \(tensors.keys.sorted())") }
    }
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
    let y = Tensor.matmul(x.value, w, transposeB: true)
    let saved = needs[1] ? estimator.save(input: x.value.reshaped([rows, n]), weightShape: weightShape)
                         : EstimatorSaved(activations: [])
    let xShape = x.shape
    var context = saved
    context.activations = [] // the tape owns them and frees them right after this backward
    // The weight is resident: the backward reads it from the closure, not from saved bytes.
    return tape.record("linear[\(estimator)]", inputs: [x, weight], output: y, saved: saved.activations) { g, activations in
        let delta = g.reshaped([rows, weightShape[0]])
        let dx = needs[0] ? Tensor.matmul(delta, w).reshaped(xShape) : nil
        var s = context
        s.activations = activations
        let dw = needs[1] ? estimator.weightGradient(outputGradient: delta, saved: s, weightShape: weightShape) : nil
        return [dx, dw]
    }
}

/// The exact backward: saves `x`, `Ĝ = δᵀ x`. The reference for every other estimator.
public final class ExactEstimator: LinearEstimator {
    public init() {}
    public var description: String { "exact" }
    public func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved { EstimatorSaved(activations: [x]) }
    public func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
        Tensor.matmul(delta, saved.activations[0], transposeA: true)
    }
}
