import Autograd
import Estimators
import Foundation
@testable import NN
import Tensor
import TestSupport

/// A small dense or MoE configuration for tests (hidden 16, 2 heads, 2 layers, vocab 50).
func tinyLlamaConfig(moe: MoEConfig? = nil, kvHeads: Int? = nil) -> LlamaConfig {
    LlamaConfig(hiddenSize: 16, intermediateSize: 24, numHeads: 2, numKeyValueHeads: kvHeads, numLayers: 2,
                vocabSize: 50, maxSequenceLength: 32, moe: moe)
}

/// Deterministic token ids in `0..<vocab`.
func randomTokenIDs(_ count: Int, vocab: Int, seed: UInt64) -> [Int32] {
    var rng = RNG(seed: seed)
    return (0..<count).map { _ in Int32(rng.nextInt(below: vocab)) }
}

/// Finite-difference check of `samples` elements per parameter (evenly spaced), for models too big
/// to perturb every element in a debug test. Same error measure as `maxGradientError`.
func sampledGradientError(_ params: [Parameter], samples: Int, h: Float = 1e-2, _ f: () -> Variable) -> Float {
    for p in params { p.zeroGrad() }
    Tape.current.reset()
    f().backward()
    var worst: Float = 0
    for p in params {
        let analytic = p.grad ?? Tensor.zeros(p.shape)
        let scale = Swift.max(nanAwareMax(analytic.scalars.map(abs)), 1e-3)
        let n = p.value.count
        for s in 0..<Swift.min(samples, n) {
            let i = s * n / Swift.min(samples, n)
            let orig = p.value.pointer[i]
            p.value.withUnsafeMutableBufferPointer { $0[i] = orig + h }
            let fp = withNoGrad { Double(f().value.item) }
            p.value.withUnsafeMutableBufferPointer { $0[i] = orig - h }
            let fm = withNoGrad { Double(f().value.item) }
            p.value.withUnsafeMutableBufferPointer { $0[i] = orig }
            worst = nanAwareMax([worst, abs(Float((fp - fm) / (2 * Double(h))) - analytic.pointer[i]) / scale])
        }
    }
    return worst
}


/// A recognisable estimator for assignment tests (exact gradients underneath).
final class TaggedEstimator: LinearEstimator {
    let tag: String
    init(_ tag: String) { self.tag = tag }
    var description: String { "tagged(\(tag))" }
    func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved { EstimatorSaved(activations: [x]) }
    func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
        Tensor.matmul(delta, saved.activations[0], transposeA: true)
    }
}

