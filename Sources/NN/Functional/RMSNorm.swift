import Autograd
import Tensor

/// Root-mean-square normalisation over the last axis, exactly as Hugging Face `LlamaRMSNorm` in fp32:
/// `y = w ∘ (x · rsqrt(mean(x²) + eps))`.
///
/// One fused op (`RMSNormKernel`). It saves `x` and one inverse RMS per row; the normalised
/// `x̂ = x · r` is recomputed in the backward instead of stored, and the weight is read there as
/// a resident parameter. Backward: `dw = Σ_rows g ∘ x̂`, `dx = r · (g∘w − x̂ · mean(g∘w∘x̂))`.
/// - Parameters:
///   - x: (..., D)
///   - weight: (D)
///   - eps: added to the mean square (1e-6 in LLaMA)
/// - Returns: (..., D)
public func rmsNorm(_ x: Variable, weight: Variable, eps: Float) -> Variable {
    let needs = Tape.current.needsGrad([x, weight])
    let (y, inverseRMS) = RMSNormKernel.forward(x.value, weight: weight.value, eps: eps)
    guard needs.contains(true) else { return Variable(y) }
    let w = weight.value // resident parameter: read in the backward, not counted as saved
    return Tape.current.record("rms-norm", inputs: [x, weight], output: y,
                               saving: [.compressible(x.value), .exact(inverseRMS)]) { g, saved in
        let (x, inverseRMS) = (saved[0], saved[1])
        return [needs[0] ? RMSNormKernel.inputGradient(g, x: x, inverseRMS: inverseRMS, weight: w) : nil,
                needs[1] ? RMSNormKernel.weightGradient(g, x: x, inverseRMS: inverseRMS) : nil]
    }
}

/// `rmsNorm`'s forward without the tape: for backwards that rebuild a normalised input from a
/// saved one instead of keeping it.
/// - Parameters:
///   - x: (..., D)
///   - weight: (D)
/// - Returns: (..., D)
public func rmsNormValue(_ x: Tensor, weight: Tensor, eps: Float) -> Tensor {
    RMSNormKernel.forward(x, weight: weight, eps: eps).y
}
