import Autograd
import Tensor

/// Causal scaled dot-product attention, one fused op over all batches and heads, exact and in
/// O(S) memory (`CausalAttentionKernel`, ALGORITHMS.md §9).
///
/// Per (batch b, head h): `o = softmax(q kᵀ / √d + causal mask) v` (row `i` sees keys `0...i`).
/// Heads stay side by side in the feature axis (the layout the projections produce). Grouped-query
/// attention: head `h` reads key/value head `h / (heads / kvHeads)`.
///
/// Saves `q`, `k`, `v`, the output `o` (the same storage the next op, the output projection,
/// receives and saves: counted once) and one log-sum-exp per query row and head (B·heads·S
/// floats). No S×S matrix exists at any time: the forward runs an online softmax over key tiles,
/// the backward recomputes each tile of probabilities from `q`, `k` and the log-sum-exp.
/// - Parameters:
///   - q: (B·S, heads·d), rows in (batch, position) order
///   - k: (B·S, kvHeads·d)
///   - v: (B·S, kvHeads·d)
/// - Returns: (B·S, heads·d)
public func causalAttention(q: Variable, k: Variable, v: Variable, batch: Int, seq: Int, heads: Int, kvHeads: Int) -> Variable {
    let qWidth = q.shape.last ?? 0, kvWidth = k.shape.last ?? 0
    precondition(heads > 0 && kvHeads > 0 && heads % kvHeads == 0,
                 "causalAttention: \(heads) heads cannot share \(kvHeads) key/value heads")
    precondition(qWidth % heads == 0 && kvWidth == qWidth / heads * kvHeads && k.shape == v.shape,
                 "causalAttention: q \(q.shape), k \(k.shape), v \(v.shape) do not fit \(heads) heads over \(kvHeads) key/value heads")
    precondition(q.count == batch * seq * qWidth && k.count == batch * seq * kvWidth,
                 "causalAttention: q \(q.shape), k \(k.shape) are not \(batch)×\(seq) rows")
    let kernel = CausalAttentionKernel(batch: batch, seq: seq, heads: heads, kvHeads: kvHeads, headDim: qWidth / heads)
    let needs = Tape.current.needsGrad([q, k, v])
    let (out, logSumExp) = kernel.forward(q: q.value, k: k.value, v: v.value)
    guard needs.contains(true) else { return Variable(out) }
    return Tape.current.record("causal-attention", inputs: [q, k, v], output: out,
                               saving: [.compressible(q.value), .compressible(k.value), .compressible(v.value),
                                        .compressible(out), .exact(logSumExp)]) { g, s in
        let grads = kernel.backward(gradOutput: g, q: s[0], k: s[1], v: s[2], out: s[3], logSumExp: s[4],
                                    needs: (needs[0], needs[1], needs[2]))
        return [grads.dq, grads.dk, grads.dv]
    }
}
