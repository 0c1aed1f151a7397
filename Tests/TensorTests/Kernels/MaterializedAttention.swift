import Tensor

/// The attention kernel the tiled one replaced, kept as a test reference: it materialises the
/// probabilities `P` (B·heads·S² floats) and a dS scratch of the same size, every product one sgemm
/// per (batch, head) on strided slices. Forward `o = softmax(s·q kᵀ + mask) v`; backward
/// `dP = dO vᵀ`, `dv = Pᵀ dO`, `dS = s·P ∘ (dP − rowsum(dP ∘ P))`, `dq = dS k`, `dk = dSᵀ q`.
struct MaterializedAttention {
    let batch, seq, heads, kvHeads, headDim: Int
    var qWidth: Int { heads * headDim }
    var kvWidth: Int { kvHeads * headDim }
    var group: Int { heads / kvHeads }
    var scale: Float { 1 / Float(headDim).squareRoot() }

    func qOffset(_ b: Int, _ h: Int) -> Int { b * seq * qWidth + h * headDim }
    func kvOffset(_ b: Int, _ h: Int) -> Int { b * seq * kvWidth + (h / group) * headDim }

    /// - Returns: the output (B·S, heads·d) and the probabilities (B·heads, S, S).
    func forward(q: Tensor, k: Tensor, v: Tensor) -> (out: Tensor, probabilities: Tensor) {
        let p = Tensor(uninitializedShape: [batch * heads, seq, seq]), o = Tensor(uninitializedShape: q.shape)
        let pp = p.storage.base, op = o.storage.base, s2 = seq * seq
        for b in 0..<batch {
            for h in 0..<heads {
                Tensor.sgemm(q.pointer + qOffset(b, h), transposeA: false, k.pointer + kvOffset(b, h), transposeB: true,
                             pp + (b * heads + h) * s2, m: seq, n: seq, k: headDim, lda: qWidth, ldb: kvWidth, ldc: seq,
                             alpha: scale, beta: 0)
            }
        }
        for r in 0..<(batch * heads * seq) {
            let i = r % seq, row = pp + r * seq
            softmaxRow(row, row, i + 1)
            (row + i + 1).update(repeating: 0, count: seq - i - 1)
        }
        for b in 0..<batch {
            for h in 0..<heads {
                Tensor.sgemm(pp + (b * heads + h) * s2, transposeA: false, v.pointer + kvOffset(b, h), transposeB: false,
                             op + qOffset(b, h), m: seq, n: headDim, k: seq, lda: seq, ldb: kvWidth, ldc: qWidth, alpha: 1, beta: 0)
            }
        }
        return (o, p)
    }

    /// - Returns: dq (B·S, heads·d), dk and dv (B·S, kvHeads·d).
    func backward(gradOutput dO: Tensor, q: Tensor, k: Tensor, v: Tensor, probabilities p: Tensor) -> (dq: Tensor, dk: Tensor, dv: Tensor) {
        let dq = Tensor(uninitializedShape: q.shape), dk = Tensor.zeros(k.shape), dv = Tensor.zeros(v.shape)
        let ds = Tensor(uninitializedShape: p.shape)
        let pp = p.pointer, dsp = ds.storage.base, s2 = seq * seq
        for b in 0..<batch {
            for h in 0..<heads {
                let pb = pp + (b * heads + h) * s2, db = dsp + (b * heads + h) * s2
                Tensor.sgemm(dO.pointer + qOffset(b, h), transposeA: false, v.pointer + kvOffset(b, h), transposeB: true,
                             db, m: seq, n: seq, k: headDim, lda: qWidth, ldb: kvWidth, ldc: seq, alpha: 1, beta: 0)
                Tensor.sgemm(pb, transposeA: true, dO.pointer + qOffset(b, h), transposeB: false,
                             dv.storage.base + kvOffset(b, h), m: seq, n: headDim, k: seq, lda: seq, ldb: qWidth, ldc: kvWidth,
                             alpha: 1, beta: 1)
            }
        }
        for r in 0..<(batch * heads * seq) {
            let pr = pp + r * seq, dr = dsp + r * seq
            let dot = rowDot(pr, dr, seq)
            for j in 0..<seq { dr[j] = pr[j] * (dr[j] - dot) * scale }
        }
        for b in 0..<batch {
            for h in 0..<heads {
                let db = dsp + (b * heads + h) * s2
                Tensor.sgemm(db, transposeA: false, k.pointer + kvOffset(b, h), transposeB: false,
                             dq.storage.base + qOffset(b, h), m: seq, n: headDim, k: seq, lda: seq, ldb: kvWidth, ldc: qWidth,
                             alpha: 1, beta: 0)
                Tensor.sgemm(db, transposeA: true, q.pointer + qOffset(b, h), transposeB: false,
                             dk.storage.base + kvOffset(b, h), m: seq, n: headDim, k: seq, lda: seq, ldb: qWidth, ldc: kvWidth,
                             alpha: 1, beta: 1)
            }
        }
        return (dq, dk, dv)
    }
}
