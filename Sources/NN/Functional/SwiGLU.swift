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
    swiglu(gate: gate, up: up, reusingGate: reusingGate, gateSource: nil)
}

/// `swiglu(gate:up:reusingGate:)` that keeps `source` instead of `gate` and rebuilds the gate as
/// `recompute(source)` in the backward: when `source` is a tensor the tape keeps anyway (the MLP
/// norm's input, in the same codec, is stored once), the gate's (..., F) costs no saved bytes.
/// The gate's buffer always takes the output.
/// - Parameters:
///   - gate: (..., F), equal to `recompute(source)` up to rounding
///   - up: (..., F)
///   - source: (..., D), what `gate` was computed from
///   - recompute: maps `source` (or its decoding) to the gate, (..., F); runs in the backward
/// - Returns: (..., F)
public func swiglu(gate: Variable, up: Variable, recomputingGateFrom source: Tensor,
                   _ recompute: @escaping (Tensor) -> Tensor) -> Variable {
    swiglu(gate: gate, up: up, reusingGate: true, gateSource: (source, recompute))
}

private func swiglu(gate: Variable, up: Variable, reusingGate: Bool,
                    gateSource: (tensor: Tensor, recompute: (Tensor) -> Tensor)?) -> Variable {
    let tape = Tape.current
    let needs = tape.needsGrad([gate, up])
    let keepsGate = needs.contains(true) && gateSource == nil
    let inPlace = reusingGate && (!keepsGate || tape.keepsEncoded(gate.value))
    let out = inPlace ? gate.value : SwiGLUKernel.forward(gate: gate.value, up: up.value)
    let first = SavedTensor.compressible(gateSource?.tensor ?? gate.value)
    let saved: [SavedTensor] = needs[0] ? [first, .compressible(up.value)] : [first]
    // The backward may write the gradients over its gate and up when it owns both: a recomputed
    // gate or a decoded one, and up decoded (or not saved).
    let ownsSaved = (gateSource != nil || tape.keepsEncoded(gate.value)) && (!needs[0] || tape.keepsEncoded(up.value))
    let recompute = gateSource?.recompute // not the source itself: the tape holds what it keeps
    // Recorded (so gate is encoded) before an in-place output overwrites it.
    let result = needs.contains(true)
        ? tape.record("swiglu", inputs: [gate, up], output: out, saving: saved) { g, saved in
            let gate = recompute.map { $0(saved[0]) } ?? saved[0]
            let grads = SwiGLUKernel.backward(g, gate: gate, up: needs[0] ? saved[1] : nil, needGate: needs[0], needUp: needs[1],
                                              overwritingInputs: ownsSaved)
            return [grads.gate, grads.up]
        }
        : Variable(out)
    if inPlace {
        tape.willOverwrite(out)
        SwiGLUKernel.forward(gate: gate.value, up: up.value, into: out)
    }
    return result
}
