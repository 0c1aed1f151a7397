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
    for e in present {
        MoEKernel.gatedScatterAdd(outputs[e]!.value, tokens: routing.tokenIndices[e], gateIndices: routing.gateIndices[e],
                                  gates: gates.value, into: out)
    }
    let inputs = present.map { outputs[$0]! } + [gates]
    let needs = Tape.current.needsGrad(inputs)
    guard needs.contains(true) else { return Variable(out) }
    let gateNeeds = needs.last!
    // y_e is needed only for the gate gradient; the gates only for the expert gradients.
    let saved = (gateNeeds ? present.map { outputs[$0]!.value } : []) + [gates.value]
    return Tape.current.record("moe-combine", inputs: inputs, output: out, saved: saved) { g, saved in
        let dGates = gateNeeds ? Tensor.zeros([routing.tokens, routing.topK]) : nil
        let grads = present.enumerated().map { slot, e in
            MoEKernel.gatedGather(g, tokens: routing.tokenIndices[e], gateIndices: routing.gateIndices[e], gates: saved.last!,
                                  needOutput: needs[slot], y: gateNeeds ? saved[slot] : nil, dGates: dGates)
        }
        return grads + [dGates]
    }
}
