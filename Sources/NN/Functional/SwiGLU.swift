import Autograd
import Tensor

/// `silu(gate) ∘ up`, the gated unit of a SwiGLU MLP, as one op (`SwiGLUKernel`).
///
/// Saves `gate` (always) and `up` (when `gate` needs a gradient); `σ(gate)` is recomputed.
/// Backward: `d up = g ∘ silu(gate)`, `d gate = g ∘ up ∘ σ(gate)(1 + gate(1 − σ(gate)))`.
/// - Parameters:
///   - gate: (..., F)
///   - up: (..., F)
///   - reusingGate: the caller reads `gate` no more, so its buffer may take the output when the tape
///     does not keep `gate` itself (it keeps an encoding, or nothing): one (..., F) buffer fewer in
///     flight, which is the forward's peak in a compressed MLP.
/// - Returns: (..., F)
public func swiglu(gate: Variable, up: Variable, reusingGate: Bool = false) -> Variable {
    let tape = Tape.current
    let needs = tape.needsGrad([gate, up])
    let inPlace = reusingGate && (!needs.contains(true) || tape.currentCodec != .fp32)
    let out = inPlace ? gate.value : SwiGLUKernel.forward(gate: gate.value, up: up.value)
    let saved: [SavedTensor] = needs[0] ? [.compressible(gate.value), .compressible(up.value)] : [.compressible(gate.value)]
    // Encoded tensors reach the backward as fresh decodes, which it may overwrite with the gradients.
    let decodedInBackward = tape.currentCodec != .fp32
    // Recorded (so gate is encoded) before an in-place output overwrites it.
    let result = needs.contains(true)
        ? tape.record("swiglu", inputs: [gate, up], output: out, saving: saved) { g, saved in
            let grads = SwiGLUKernel.backward(g, gate: saved[0], up: needs[0] ? saved[1] : nil, needGate: needs[0], needUp: needs[1],
                                              overwritingInputs: decodedInBackward)
            return [grads.gate, grads.up]
        }
        : Variable(out)
    if inPlace {
        tape.willOverwrite(out)
        SwiGLUKernel.forward(gate: gate.value, up: up.value, into: out)
    }
    return result
}
