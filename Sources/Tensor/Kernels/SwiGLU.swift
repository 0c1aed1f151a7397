/// Kernels of the gated unit `silu(gate) ∘ up` of a SwiGLU MLP.
package enum SwiGLUKernel {
    /// - Parameters:
    ///   - gate: (..., F)
    ///   - up: (..., F)
    /// - Returns: (..., F)
    package static func forward(gate: Tensor, up: Tensor) -> Tensor {
        let out = Tensor(uninitializedShape: gate.shape)
        forward(gate: gate, up: up, into: out)
        return out
    }

    /// `forward` written into `out` (gate's shape), which may be `gate` itself: each element is
    /// read before it is written.
    package static func forward(gate: Tensor, up: Tensor, into out: Tensor) {
        precondition(gate.shape == up.shape && out.shape == gate.shape, "swiglu: gate \(gate.shape), up \(up.shape) and output \(out.shape) differ")
        let n = gate.count
        let gp = gate.pointer, upp = up.pointer, op = out.storage.base
        Parallel.forEachChunk(n, minPerThread: 1 << 16) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let x = load(gp, i)
                store(x * vsigmoid(x) * load(upp, i), op, i)
                i += 16
            }
            while i < r.upperBound {
                let x = gp[i]
                op[i] = x * vsigmoid(Vec(repeating: x))[0] * upp[i]
                i += 1
            }
        }
    }

    /// `d up = g ∘ silu(gate)`, `d gate = g ∘ up ∘ σ(gate)(1 + gate(1 − σ(gate)))`, `σ` recomputed.
    /// - Parameters:
    ///   - g: (..., F) upstream gradient
    ///   - gate: (..., F)
    ///   - up: (..., F), needed only for the gate's gradient
    ///   - overwritingInputs: the caller owns `gate` and `up` and reads them no more (they are
    ///     decoded copies of saved encodings), so the gate's gradient goes into gate's buffer and
    ///     the up's into up's (gate's when up was not given): two (..., F) buffers fewer in flight,
    ///     which is the backward's peak in a compressed MLP.
    /// - Returns: the gradients asked for, (..., F) each
    package static func backward(_ g: Tensor, gate: Tensor, up: Tensor?, needGate: Bool, needUp: Bool,
                                 overwritingInputs: Bool = false) -> (gate: Tensor?, up: Tensor?) {
        precondition(!needGate || up != nil, "swiglu: the gate's gradient needs up")
        let n = g.count, gp = gate.pointer, dp = g.pointer, upp = up?.pointer
        let dGate = needGate ? (overwritingInputs ? gate : Tensor(uninitializedShape: g.shape)) : nil
        let dUp = needUp ? (overwritingInputs ? (needGate ? up! : gate) : Tensor(uninitializedShape: g.shape)) : nil
        let dgp = dGate?.storage.base, dup = dUp?.storage.base
        // Every input element is loaded before either output is stored: the outputs may be the inputs.
        Parallel.forEachChunk(n, minPerThread: 1 << 16) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let x = load(gp, i), gi = load(dp, i), u = upp.map { load($0, i) }
                let s = vsigmoid(x)
                if let dup { store(gi * x * s, dup, i) }
                if let dgp, let u { store(gi * u * s * (1 + x * (1 - s)), dgp, i) }
                i += 16
            }
            while i < r.upperBound {
                let x = gp[i], gi = dp[i], u = upp?[i]
                let s = vsigmoid(Vec(repeating: x))[0]
                if let dup { dup[i] = gi * x * s }
                if let dgp, let u { dgp[i] = gi * u * s * (1 + x * (1 - s)) }
                i += 1
            }
        }
        return (dGate, dUp)
    }
}
