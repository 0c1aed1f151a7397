import Autograd
import Tensor

/// `silu(gate) ∘ up`, the gated unit of a SwiGLU MLP, as one op (`SwiGLUKernel`).
///
/// Saves `gate` (always) and `up` (when `gate` needs a gradient); `σ(gate)` is recomputed.
/// Backward: `d up = g ∘ silu(gate)`, `d gate = g ∘ up ∘ σ(gate)(1 + gate(1 − σ(gate)))`.
/// - Parameters:
///   - gate: (..., F)
///   - up: (..., F)
/// - Returns: (..., F)
public func swiglu(gate: Variable, up: Variable) -> Variable {
    let needs = Tape.current.needsGrad([gate, up])
    let out = SwiGLUKernel.forward(gate: gate.value, up: up.value)
    guard needs.contains(true) else { return Variable(out) }
    let saved: [SavedTensor] = needs[0] ? [.compressible(gate.value), .compressible(up.value)] : [.compressible(gate.value)]
    return Tape.current.record("swiglu", inputs: [gate, up], output: out, saving: saved) { g, saved in
        let grads = SwiGLUKernel.backward(g, gate: saved[0], up: needs[0] ? saved[1] : nil, needGate: needs[0], needUp: needs[1])
        return [grads.gate, grads.up]
    }
}
