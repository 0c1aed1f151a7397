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
    /// - Returns: the gradients asked for, (..., F) each
    package static func backward(_ g: Tensor, gate: Tensor, up: Tensor?, needGate: Bool, needUp: Bool) -> (gate: Tensor?, up: Tensor?) {
        precondition(!needGate || up != nil, "swiglu: the gate's gradient needs up")
        let n = g.count, gp = gate.pointer, dp = g.pointer, upp = up?.pointer
        let dGate = needGate ? Tensor(uninitializedShape: g.shape) : nil
        let dUp = needUp ? Tensor(uninitializedShape: g.shape) : nil
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
        return (dGate, dUp)
    }
}
