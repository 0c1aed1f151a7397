import Autograd
import Foundation
import Tensor

/// Causal scaled dot-product attention, one fused op over all batches and heads.
///
/// Heads stay side by side in the feature axis (the layout the projections produce), so every
/// product is an sgemm on strided slices (`lda = heads·d`): no permute, no transpose copy.
/// Per (batch b, head h): `P = softmax(q kᵀ / √d + causal mask)` (row `i` sees keys `0...i`),
/// `o = P v`. Grouped-query attention: head `h` reads key/value head `h / (heads / kvHeads)`.
///
/// Saves `q`, `k`, `v` and the probabilities `P` (B·heads·S² floats); the backward is
/// `dP = dO vᵀ`, `dv = Pᵀ dO`, `dS = P ∘ (dP − rowsum(dP ∘ P)) / √d`, `dq = dS k`, `dk = dSᵀ q`.
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
    let geometry = AttentionGeometry(batch: batch, seq: seq, heads: heads, kvHeads: kvHeads, headDim: qWidth / heads)
    let needs = Tape.current.needsGrad([q, k, v])
    let probabilities = Tensor(uninitializedShape: [batch * heads, seq, seq])
    let out = Tensor(uninitializedShape: q.shape)
    geometry.forward(q.value.pointer, k.value.pointer, v.value.pointer, probabilities.storage.base, out.storage.base)
    guard needs.contains(true) else { return Variable(out) }
    let (qShape, kShape) = (q.shape, k.shape)
    return Tape.current.record("causal-attention", inputs: [q, k, v], output: out,
                               saving: [.compressible(q.value), .compressible(k.value), .compressible(v.value),
                                        .exact(probabilities)]) { g, s in
        let dq = needs[0] ? Tensor(uninitializedShape: qShape) : nil
        let dk = needs[1] ? Tensor(uninitializedShape: kShape) : nil
        let dv = needs[2] ? Tensor(uninitializedShape: kShape) : nil
        geometry.backward(g.pointer, s[0].pointer, s[1].pointer, s[2].pointer, s[3].pointer,
                          dq: dq?.storage.base, dk: dk?.storage.base, dv: dv?.storage.base)
        return [dq, dk, dv]
    }
}

/// Sizes and strides of one attention call, and its two kernels.
struct AttentionGeometry {
    let batch, seq, heads, kvHeads, headDim: Int
    var qWidth: Int { heads * headDim }
    var kvWidth: Int { kvHeads * headDim }
    var group: Int { heads / kvHeads }
    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// Offsets of head `h` of batch `b` in q / o and in k / v (strided slices of `seq` rows).
    @inline(__always) func qOffset(_ b: Int, _ h: Int) -> Int { b * seq * qWidth + h * headDim }
    @inline(__always) func kvOffset(_ b: Int, _ h: Int) -> Int { b * seq * kvWidth + (h / group) * headDim }

    /// Rows `[r0, r1)` of a score block need only keys `< r1` (and, transposed, keys `[c0, c1)` only
    /// queries `≥ c0`); two blocks skip a quarter of the products the causal mask would zero anyway.
    var rowBlocks: [(Int, Int)] { seq >= 64 ? [(0, seq / 2), (seq / 2, seq)] : [(0, seq)] }

    func forward(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                 _ p: UnsafeMutablePointer<Float>, _ o: UnsafeMutablePointer<Float>) {
        let s2 = seq * seq
        for b in 0..<batch {
            for h in 0..<heads {
                let pb = p + (b * heads + h) * s2
                for (r0, r1) in rowBlocks {
                    // Scores of rows r0..<r1 against keys 0..<r1, already scaled by 1/√d.
                    Tensor.sgemm(q + qOffset(b, h) + r0 * qWidth, transposeA: false, k + kvOffset(b, h), transposeB: true,
                                 pb + r0 * seq, m: r1 - r0, n: r1, k: headDim, lda: qWidth, ldb: kvWidth, ldc: seq,
                                 alpha: scale, beta: 0)
                }
            }
        }
        // Masked softmax of every row in place; entries above the diagonal become 0.
        let rows = batch * heads * seq, n = seq
        forEachRowChunk(rows, width: seq / 2) { range in
            for r in range {
                let i = r % n, row = p + r * n
                softmaxRow(row, row, i + 1)
                (row + i + 1).update(repeating: 0, count: n - i - 1)
            }
        }
        for b in 0..<batch {
            for h in 0..<heads {
                let pb = p + (b * heads + h) * s2
                for (r0, r1) in rowBlocks {
                    Tensor.sgemm(pb + r0 * seq, transposeA: false, v + kvOffset(b, h), transposeB: false,
                                 o + qOffset(b, h) + r0 * qWidth, m: r1 - r0, n: headDim, k: r1,
                                 lda: seq, ldb: kvWidth, ldc: qWidth, alpha: 1, beta: 0)
                }
            }
        }
    }

    func backward(_ dO: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>,
                  _ v: UnsafePointer<Float>, _ p: UnsafePointer<Float>,
                  dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?, dv: UnsafeMutablePointer<Float>?) {
        let s2 = seq * seq
        // dS for every (b, h), one scratch block of B·heads·S² floats.
        let scratch = Memory.withCategory(.workspace) { Tensor(uninitializedShape: [batch * heads, seq, seq]) }
        let ds = scratch.storage.base
        for b in 0..<batch {
            for h in 0..<heads {
                let pb = p + (b * heads + h) * s2, db = ds + (b * heads + h) * s2
                // The first head of a group writes dk/dv, the others accumulate (grouped-query attention).
                let beta: Float = h % group == 0 ? 0 : 1
                for (r0, r1) in rowBlocks {
                    // dP = dO · vᵀ (keys < r1 only; the others meet P = 0).
                    Tensor.sgemm(dO + qOffset(b, h) + r0 * qWidth, transposeA: false, v + kvOffset(b, h), transposeB: true,
                                 db + r0 * seq, m: r1 - r0, n: r1, k: headDim, lda: qWidth, ldb: kvWidth, ldc: seq,
                                 alpha: 1, beta: 0)
                }
                if let dv {
                    // dv = Pᵀ · dO; key rows c0..<c1 receive only from query rows ≥ c0.
                    for (c0, c1) in rowBlocks {
                        Tensor.sgemm(pb + c0 * seq + c0, transposeA: true, dO + qOffset(b, h) + c0 * qWidth, transposeB: false,
                                     dv + kvOffset(b, h) + c0 * kvWidth, m: c1 - c0, n: headDim, k: seq - c0,
                                     lda: seq, ldb: qWidth, ldc: kvWidth, alpha: 1, beta: beta)
                    }
                }
            }
        }
        guard dq != nil || dk != nil else { return }
        // dS = P ∘ (dP − Σ_j dP∘P) · scale, in place over the causal part of each row.
        let rows = batch * heads * seq, n = seq, scale = self.scale
        forEachRowChunk(rows, width: seq / 2) { range in
            for r in range {
                let i = r % n, pr = p + r * n, dr = ds + r * n, len = i + 1
                let dot = rowDot(pr, dr, len)
                var j = 0
                let dotv = Vec(repeating: dot), sv = Vec(repeating: scale)
                while j + 16 <= len { store(load(pr, j) * (load(dr, j) - dotv) * sv, dr, j); j += 16 }
                while j < len { dr[j] = pr[j] * (dr[j] - dot) * scale; j += 1 }
                (dr + len).update(repeating: 0, count: n - len)
            }
        }
        for b in 0..<batch {
            for h in 0..<heads {
                let db = ds + (b * heads + h) * s2
                let beta: Float = h % group == 0 ? 0 : 1
                if let dq {
                    for (r0, r1) in rowBlocks {
                        Tensor.sgemm(db + r0 * seq, transposeA: false, k + kvOffset(b, h), transposeB: false,
                                     dq + qOffset(b, h) + r0 * qWidth, m: r1 - r0, n: headDim, k: r1,
                                     lda: seq, ldb: kvWidth, ldc: qWidth, alpha: 1, beta: 0)
                    }
                }
                if let dk {
                    // dk = dSᵀ · q, blocked like dv (dS is zero above the diagonal).
                    for (c0, c1) in rowBlocks {
                        Tensor.sgemm(db + c0 * seq + c0, transposeA: true, q + qOffset(b, h) + c0 * qWidth, transposeB: false,
                                     dk + kvOffset(b, h) + c0 * kvWidth, m: c1 - c0, n: headDim, k: seq - c0,
                                     lda: seq, ldb: qWidth, ldc: kvWidth, alpha: 1, beta: beta)
                    }
                }
            }
        }
    }
}
