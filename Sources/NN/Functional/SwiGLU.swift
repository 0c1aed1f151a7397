import Autograd
import Tensor

/// `silu(gate) ∘ up`, the gated unit of a SwiGLU MLP, as one op.
///
/// Saves `gate` (always) and `up` (when `gate` needs a gradient); `σ(gate)` is recomputed.
/// Backward: `d up = g ∘ silu(gate)`, `d gate = g ∘ up ∘ σ(gate)(1 + gate(1 − σ(gate)))`.
/// - Parameters:
///   - gate: (..., F)
///   - up: (..., F)
/// - Returns: (..., F)
public func swiglu(gate: Variable, up: Variable) -> Variable {
    precondition(gate.shape == up.shape, "swiglu: gate \(gate.shape) and up \(up.shape) differ")
    let needs = Tape.current.needsGrad([gate, up])
    let n = gate.count
    let out = Tensor(uninitializedShape: gate.shape)
    let gp = gate.value.pointer, up_ = up.value.pointer, op = out.storage.base
    Parallel.forEachChunk(n, minPerThread: 1 << 16) { r in
        var i = r.lowerBound
        while i + 16 <= r.upperBound {
            let x = load(gp, i)
            store(x * vsigmoid(x) * load(up_, i), op, i)
            i += 16
        }
        while i < r.upperBound {
            let x = gp[i]
            op[i] = x * vsigmoid(Vec(repeating: x))[0] * up_[i]
            i += 1
        }
    }
    guard needs.contains(true) else { return Variable(out) }
    let saved: [SavedTensor] = needs[0] ? [.compressible(gate.value), .compressible(up.value)] : [.compressible(gate.value)]
    return Tape.current.record("swiglu", inputs: [gate, up], output: out, saving: saved) { g, saved in
        let gp = saved[0].pointer, dp = g.pointer
        let upp = needs[0] ? saved[1].pointer : nil
        let dGate = needs[0] ? Tensor(uninitializedShape: g.shape) : nil
        let dUp = needs[1] ? Tensor(uninitializedShape: g.shape) : nil
        let dgp = dGate?.storage.base, dup = dUp?.storage.base
        Parallel.forEachChunk(n, minPerThread: 1 << 16) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let x = load(gp, i), gi = load(dp, i)
                let s = vsigmoid(x)
                if let dup { store(gi * x * s, dup, i) }
                if let dgp, let upp { store(gi * load(upp, i) * s * (1 + x * (1 - s)), dgp, i) }
                i += 16
            }
            while i < r.upperBound {
                let x = gp[i], gi = dp[i]
                let s = vsigmoid(Vec(repeating: x))[0]
                if let dup { dup[i] = gi * x * s }
                if let dgp, let upp { dgp[i] = gi * upp[i] * s * (1 + x * (1 - s)) }
                i += 1
            }
        }
        return [dGate, dUp]
    }
}
