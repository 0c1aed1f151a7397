/// Kernels of mixture-of-experts routing: top-k gates and the gated scatter/gather between token
/// order and expert order.
package enum MoEKernel {
    /// For each token the `k` largest probabilities (ties: lower expert index first) and the gates
    /// `g_j = p_{c_j} / Σ_l p_{c_l}`.
    /// - Parameter probs: (N, E)
    /// - Returns: the choice (N·k expert indices, slots by decreasing probability), the gates (N, k)
    ///   and each token's sum of chosen probabilities (N)
    package static func topK(_ probs: Tensor, k: Int) -> (choice: [Int], gates: Tensor, sums: Tensor) {
        let (n, e) = (probs.shape[0], probs.shape[1])
        var choice = [Int](repeating: 0, count: n * k)
        let gates = Tensor(uninitializedShape: [n, k]), sums = Tensor(uninitializedShape: [n])
        let pp = probs.pointer, gp = gates.storage.base, sp = sums.storage.base
        for t in 0..<n {
            let row = pp + t * e
            var total: Float = 0
            for j in 0..<k {
                // Selection by repeated scans: k is small (1–8).
                var best = -1
                for c in 0..<e where !choice[(t * k)..<(t * k + j)].contains(c) {
                    if best < 0 || row[c] > row[best] { best = c }
                }
                choice[t * k + j] = best
                total += row[best]
            }
            sp[t] = total
            for j in 0..<k { gp[t * k + j] = row[choice[t * k + j]] / total }
        }
        return (choice, gates, sums)
    }

    /// The gradient of `topK`'s gates with respect to the probabilities:
    /// `dp_{c_j} = (dg_j − Σ_l g_l dg_l) / Σ_l p_{c_l}`, 0 for experts not chosen.
    /// - Parameters:
    ///   - g: (N, k) upstream gradient of the gates
    ///   - gates, sums, choice: from `topK`
    /// - Returns: (N, experts)
    package static func topKBackward(_ g: Tensor, gates: Tensor, sums: Tensor, choice: [Int], experts e: Int) -> Tensor {
        let (n, k) = (gates.shape[0], gates.shape[1])
        let dp = Tensor.zeros([n, e])
        let dpp = dp.storage.base, gg = g.pointer, gv = gates.pointer, sv = sums.pointer
        for t in 0..<n {
            var dot: Float = 0
            for j in 0..<k { dot += gv[t * k + j] * gg[t * k + j] }
            for j in 0..<k { dpp[t * e + choice[t * k + j]] += (gg[t * k + j] - dot) / sv[t] }
        }
        return dp
    }

    /// `out[tokens[r]] += gates[gateIndices[r]] · y[r]` for every row `r` of one expert's output.
    /// - Parameters:
    ///   - y: (n_e, D)
    ///   - gates: (N, k), read flat
    ///   - out: (N, D), accumulated in place
    package static func gatedScatterAdd(_ y: Tensor, tokens: [Int], gateIndices: [Int], gates: Tensor, into out: Tensor) {
        let d = out.shape.last ?? 0, op = out.storage.base, gp = gates.pointer, yp = y.pointer
        for (r, t) in tokens.enumerated() {
            let g = gp[gateIndices[r]], gv = Vec(repeating: g)
            let dst = op + t * d, src = yp + r * d
            var i = 0
            while i + 16 <= d { store(load(dst, i) + gv * load(src, i), dst, i); i += 16 }
            while i < d { dst[i] += g * src[i]; i += 1 }
        }
    }

    /// The backward of `gatedScatterAdd` for one expert: `dy[r] = gates[gateIndices[r]] · dOut[tokens[r]]`
    /// when `needOutput`, and `dGates[gateIndices[r]] = ⟨dOut[tokens[r]], y[r]⟩` when `y` and `dGates` are given.
    /// - Parameters:
    ///   - dOut: (N, D)
    ///   - y: (n_e, D), the expert's output
    ///   - dGates: (N, k), written in place at this expert's gate indices
    /// - Returns: dy (n_e, D) when `needOutput`
    package static func gatedGather(_ dOut: Tensor, tokens: [Int], gateIndices: [Int], gates: Tensor, needOutput: Bool,
                                    y: Tensor?, dGates: Tensor?) -> Tensor? {
        let d = dOut.shape.last ?? 0, gp = dOut.pointer, gatesP = gates.pointer
        let dy = needOutput ? Tensor(uninitializedShape: [tokens.count, d]) : nil
        let yp = y?.pointer, dgp = dGates?.storage.base
        for (r, t) in tokens.enumerated() {
            let src = gp + t * d
            if let dy {
                let dst = dy.storage.base + r * d, gate = gatesP[gateIndices[r]], gv = Vec(repeating: gate)
                var i = 0
                while i + 16 <= d { store(gv * load(src, i), dst, i); i += 16 }
                while i < d { dst[i] = gate * src[i]; i += 1 }
            }
            if let dgp, let yp { dgp[gateIndices[r]] = rowDot(src, yp + r * d, d) }
        }
        return dy
    }
}
