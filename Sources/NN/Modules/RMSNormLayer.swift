import Autograd
import Tensor

/// RMSNorm over the last axis with a learned scale (initialised to 1); see `rmsNorm`.
public final class RMSNorm: Module {
    /// (dim)
    public let weight: Parameter
    public let eps: Float

    public init(dim: Int, eps: Float = 1e-6) {
        weight = Parameter(Memory.withCategory(.parameter) { Tensor.ones([dim]) })
        self.eps = eps
        super.init()
    }

    /// - Parameter x: (..., dim). - Returns: (..., dim).
    public func callAsFunction(_ x: Variable) -> Variable { rmsNorm(x, weight: weight.variable, eps: eps) }
}
