import Autograd
import Tensor

/// Token embedding: row lookup in a (vocab, dim) table, initialised N(0, std²).
public final class Embedding: Module {
    /// (vocab, dim)
    public let weight: Parameter

    public init(vocabSize: Int, dim: Int, std: Float = 0.02, rng: inout RNG) {
        weight = Parameter(Memory.withCategory(.parameter) { Tensor.randomNormal([vocabSize, dim], std: std, rng: &rng) })
        super.init()
    }

    public var vocabSize: Int { weight.shape[0] }
    public var dim: Int { weight.shape[1] }

    /// - Parameter tokens: n ids in `0..<vocab`. - Returns: (n, dim).
    public func callAsFunction(_ tokens: [Int32]) -> Variable {
        let v = vocabSize
        let indices = tokens.map { t -> Int in
            precondition(t >= 0 && Int(t) < v, "Embedding: token \(t) out of range 0..<\(v)")
            return Int(t)
        }
        return weight.variable.indexSelect(indices)
    }
}
