import Autograd
import Tensor

/// RMSNorm over the last axis with a learned scale (initialised to 1); see `rmsNorm`.
public final class RMSNorm: Module, ActivationCompressing {
    /// (dim)
    public let weight: Parameter
    public let eps: Float
    /// Codec of the saved input (the inverse RMS stays fp32).
    public var activationCodec: TensorCodec = .fp32

    public init(dim: Int, eps: Float = 1e-6) {
        weight = Parameter(Memory.withCategory(.parameter) { Tensor.ones([dim]) })
        self.eps = eps
        super.init()
    }

    /// - Parameter x: (..., dim). - Returns: (..., dim).
    public func callAsFunction(_ x: Variable) -> Variable { recordingScope { rmsNorm(x, weight: weight.variable, eps: eps) } }
}
