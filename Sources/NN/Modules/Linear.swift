import Autograd
import Estimators
import Tensor

/// `y = x Wᵀ` (no bias, as in LLaMA) with an estimator slot for its backward.
public final class Linear: Module, ActivationCompressing {
    /// (out, in), initialised N(0, std²).
    public let weight: Parameter
    /// How the weight gradient is formed; `ExactEstimator` unless assigned.
    public var estimator: LinearEstimator = ExactEstimator()
    /// Codec of what the estimator saves (`x` or the sketch `z`).
    public var activationCodec: TensorCodec = .fp32

    public init(_ inFeatures: Int, _ outFeatures: Int, std: Float = 0.02, rng: inout RNG) {
        weight = Parameter(Memory.withCategory(.parameter) { Tensor.randomNormal([outFeatures, inFeatures], std: std, rng: &rng) })
        super.init()
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    /// - Parameter x: (..., in). - Returns: (..., out).
    public func callAsFunction(_ x: Variable) -> Variable {
        recordingScope { linear(x, weight.variable, estimator: estimator) }
    }
}
