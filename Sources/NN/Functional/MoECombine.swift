import Autograd
import Tensor

/// Gated sum of the expert outputs back into token order: `out[t] = Σ_j g[t, j] · y_{c_j}[row of t]`.
///
/// One op over all experts (instead of a scale and a scatter per expert). Saves the expert outputs
/// and the gates; backward: `dy_e[r] = g[t, j] · dOut[t]`, `dg[t, j] = ⟨dOut[t], y_e[r]⟩`.
/// - Parameters:
///   - outputs: one per expert, (n_e, D) for the `n_e = routing.tokenIndices[e].count` tokens in
///     `routing` order; nil for experts that received no token
///   - gates: (N, k)
/// - Returns: (N, D)
public func combineExperts(_ outputs: [Variable?], gates: Variable, routing: ExpertRouting, width d: Int) -> Variable {
    precondition(outputs.count == routing.experts, "combineExperts: \(outputs.count) outputs for \(routing.experts) experts")
    precondition(gates.shape == [routing.tokens, routing.topK], "combineExperts: gates \(gates.shape) for \(routing.tokens) tokens × top-\(routing.topK)")
    var present: [Int] = []
    for (e, y) in outputs.enumerated() {
        let rows = routing.tokenIndices[e].count
        if let y {
            precondition(y.shape == [rows, d], "combineExperts: expert \(e) output \(y.shape), expected [\(rows), \(d)]")
            present.append(e)
        } else {
            precondition(rows == 0, "combineExperts: expert \(e) has \(rows) tokens but no output")
        }
    }
    let out = Tensor.zeros([routing.tokens, d])
    let op = out.storage.base, gp = gates.value.pointer
    for e in present {
        let yp = outputs[e]!.value.pointer
        for (r, t) in routing.tokenIndices[e].enumerated() {
            let gv = Vec(repeating: gp[routing.gateIndices[e][r]]), g = gp[routing.gateIndices[e][r]]
            let dst = op + t * d, src = yp + r * d
            var i = 0
            while i + 16 <= d { store(load(dst, i) + gv * load(src, i), dst, i); i += 16 }
            while i < d { dst[i] += g * src[i]; i += 1 }
        }
    }
    let inputs = present.map { outputs[$0]! } + [gates]
    let needs = Tape.current.needsGrad(inputs)
    guard needs.contains(true) else { return Variable(out) }
    let gateNeeds = needs.last!
    // y_e is needed only for the gate gradient; the gates only for the expert gradients.
    let saved = (gateNeeds ? present.map { outputs[$0]!.value } : []) + [gates.value]
    return Tape.current.record("moe-combine", inputs: inputs, output: out, saved: saved) { g, saved in
        let gp = g.pointer, gatesP = saved.last!.pointer
        var grads: [Tensor?] = []
        let dGates = gateNeeds ? Tensor.zeros([routing.tokens, routing.topK]) : nil
        for (slot, e) in present.enumerated() {
            let idx = routing.tokenIndices[e], gidx = routing.gateIndices[e]
            let dy = needs[slot] ? Tensor(uninitializedShape: [idx.count, d]) : nil
            let yp = gateNeeds ? saved[slot].pointer : nil
            for (r, t) in idx.enumerated() {
                let src = gp + t * d
                if let dy {
                    let dst = dy.storage.base + r * d, gate = gatesP[gidx[r]], gv = Vec(repeating: gate)
                    var i = 0
                    while i + 16 <= d { store(gv * load(src, i), dst, i); i += 16 }
                    while i < d { dst[i] = gate * src[i]; i += 1 }
                }
                if let dGates, let yp { dGates.storage.base[gidx[r]] = rowDot(src, yp + r * d, d) }
            }
            grads.append(dy)
        }
        return grads + [dGates]
    }
}
