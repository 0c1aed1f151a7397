import Foundation

/// Exact causal scaled dot-product attention in tiles (ALGORITHMS.md §9): memory O(S) per head,
/// never an S×S matrix.
///
/// Layout: heads side by side in the feature axis, as the projections produce them. `q` and the
/// output are (B·S, heads·d), `k` and `v` (B·S, kvHeads·d), rows in (batch, position) order; head
/// `h` reads key/value head `h / (heads / kvHeads)` (grouped-query attention). Every product is an
/// sgemm on a tile addressed through leading dimensions (no copy, no transpose).
///
/// Forward, per (batch, head, tile of `queryTile` rows): an online softmax over key tiles of
/// `keyTile` columns that hold a key ≤ the tile's last query (tiles above the diagonal are
/// skipped, the diagonal one is masked), accumulating into the output rows themselves; it leaves
/// the output and one log-sum-exp `L` per query row. Backward: `D = rowsum(dO ∘ O)` first, then
/// per (batch, key/value head, tile of `backwardKeyTile` keys) over every query tile at or below
/// it: `P = exp(s·Q Kᵀ − L)` recomputed, `dV += Pᵀ dO`, `dS = s·P ∘ (dO Vᵀ − D)`, `dQ += dS K`,
/// `dK += dSᵀ Q`. A key tile's dK/dV, and the dQ of the heads it serves, belong to one work item,
/// so there are no write races; the heads of a group add into their key/value head one after the
/// other. Scratch: a few tiles per worker and `D` (one float per query row and head).
///
/// Same inputs and thread count give bitwise the same results.
package struct CausalAttentionKernel {
    package let batch, seq, heads, kvHeads, headDim: Int
    /// Query rows and key columns of a forward score tile (128 KiB per worker).
    package var queryTile = 128, keyTile = 256
    /// Key rows and query columns of a backward score tile (two tiles, 256 KiB per worker).
    ///
    /// Both pairs were chosen by timing forward and backward at LLaMA-130M (B 4, S 1024, 12 heads
    /// of 64) and LLaMA-20M (B 8, S 256, 4 heads) over 64…256 × 64…512 tiles on 2 threads (OpenBLAS
    /// Zen kernels): larger tiles pay for sgemm's packing, these were the fastest or within noise.
    package var backwardKeyTile = 64, backwardQueryTile = 512

    package init(batch: Int, seq: Int, heads: Int, kvHeads: Int, headDim: Int) {
        precondition(batch >= 0 && seq >= 0 && headDim > 0 && heads > 0 && kvHeads > 0 && heads % kvHeads == 0,
                     "CausalAttentionKernel: \(heads) heads over \(kvHeads) key/value heads of dimension \(headDim), batch \(batch) × seq \(seq)")
        self.batch = batch; self.seq = seq; self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
    }

    var qWidth: Int { heads * headDim }
    var kvWidth: Int { kvHeads * headDim }
    var group: Int { heads / kvHeads }
    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// Offsets of head `h` of batch `b` in q / o and of its key/value head in k / v.
    @inline(__always) func qOffset(_ b: Int, _ h: Int) -> Int { b * seq * qWidth + h * headDim }
    @inline(__always) func kvOffset(_ b: Int, _ h: Int) -> Int { b * seq * kvWidth + (h / group) * headDim }

    // MARK: forward

    /// - Parameters:
    ///   - q: (B·S, heads·d)
    ///   - k: (B·S, kvHeads·d)
    ///   - v: (B·S, kvHeads·d)
    /// - Returns: the output (B·S, heads·d) and the log-sum-exp of every query row's scaled
    ///   scores, (B, heads, S).
    package func forward(q: Tensor, k: Tensor, v: Tensor) -> (out: Tensor, logSumExp: Tensor) {
        checkShapes(q, k, v)
        let out = Tensor(uninitializedShape: q.shape)
        let lse = Tensor(uninitializedShape: [batch, heads, seq])
        let br = queryTile, bc = keyTile
        let tiles = (seq + br - 1) / br, pairs = batch * heads
        let scratch = Memory.withCategory(.workspace) { Tensor(uninitializedShape: [Parallel.threads, br * bc + 2 * br]) }
        let qp = q.pointer, kp = k.pointer, vp = v.pointer, op = out.storage.base, lp = lse.storage.base
        let sp = scratch.storage.base, scratchWidth = br * bc + 2 * br
        // Costliest (last) row tiles first, so the workers finish together.
        Parallel.forEachItem(tiles * pairs) { item, worker in
            let tile = tiles - 1 - item / pairs, pair = item % pairs
            let s = sp + worker * scratchWidth
            forwardTile(b: pair / heads, h: pair % heads, r0: tile * br, rows: Swift.min(br, seq - tile * br),
                        q: qp, k: kp, v: vp, out: op, lse: lp, scores: s, rowMax: s + br * bc, rowSum: s + br * bc + br)
        }
        withExtendedLifetime(scratch) {}
        return (out, lse)
    }

    /// Rows `r0 ..< r0 + rows` of head `h` of batch `b`: online softmax over the key tiles.
    private func forwardTile(b: Int, h: Int, r0: Int, rows: Int,
                             q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                             out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
                             scores: UnsafeMutablePointer<Float>, rowMax m: UnsafeMutablePointer<Float>,
                             rowSum l: UnsafeMutablePointer<Float>) {
        let d = headDim, bc = keyTile, r1 = r0 + rows
        let qi = q + qOffset(b, h) + r0 * qWidth, oi = out + qOffset(b, h) + r0 * qWidth
        var c0 = 0
        while c0 < r1 {
            let cols = Swift.min(bc, r1 - c0), first = c0 == 0
            Tensor.sgemm(qi, transposeA: false, k + kvOffset(b, h) + c0 * kvWidth, transposeB: true, scores,
                         m: rows, n: cols, k: d, lda: qWidth, ldb: kvWidth, ldc: bc, alpha: scale, beta: 0)
            for i in 0..<rows {
                let row = scores + i * bc, valid = Swift.min(cols, r0 + i - c0 + 1)
                guard valid > 0 else { row.update(repeating: 0, count: cols); continue } // keys all after the query
                let mNew = first ? rowMax(row, valid) : Swift.max(m[i], rowMax(row, valid))
                let sum = expShiftedRow(row, row, valid, mNew)
                (row + valid).update(repeating: 0, count: cols - valid)
                if first {
                    l[i] = sum
                } else {
                    let alpha = Foundation.exp(m[i] - mNew)
                    l[i] = alpha * l[i] + sum
                    if alpha != 1 { vscaleInPlace(oi + i * qWidth, alpha, d) }
                }
                m[i] = mNew
            }
            Tensor.sgemm(scores, transposeA: false, v + kvOffset(b, h) + c0 * kvWidth, transposeB: false, oi,
                         m: rows, n: d, k: cols, lda: bc, ldb: kvWidth, ldc: qWidth, alpha: 1, beta: first ? 0 : 1)
            c0 += cols
        }
        let li = lse + (b * heads + h) * seq + r0
        for i in 0..<rows {
            vscaleInPlace(oi + i * qWidth, 1 / l[i], d)
            li[i] = m[i] + Foundation.log(l[i])
        }
    }

    // MARK: backward

    /// Gradients of `forward`. Only the requested ones are computed (nil otherwise).
    /// - Parameters:
    ///   - gradOutput: (B·S, heads·d)
    ///   - out, logSumExp: what `forward` returned for these `q`, `k`, `v`
    /// - Returns: dq (B·S, heads·d), dk and dv (B·S, kvHeads·d)
    package func backward(gradOutput: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, logSumExp: Tensor,
                          needs: (q: Bool, k: Bool, v: Bool)) -> (dq: Tensor?, dk: Tensor?, dv: Tensor?) {
        checkShapes(q, k, v)
        precondition(gradOutput.shape == q.shape && out.shape == q.shape && logSumExp.shape == [batch, heads, seq],
                     "CausalAttentionKernel.backward: gradient \(gradOutput.shape), output \(out.shape), log-sum-exp \(logSumExp.shape) for q \(q.shape)")
        let dq = needs.q ? Tensor.zeros(q.shape) : nil
        let dk = needs.k ? Tensor.zeros(k.shape) : nil
        let dv = needs.v ? Tensor.zeros(v.shape) : nil
        guard needs.q || needs.k || needs.v else { return (nil, nil, nil) }
        let bc = backwardKeyTile, br = backwardQueryTile
        let keyTiles = (seq + bc - 1) / bc, units = batch * kvHeads
        // Enough items for every worker: with few (batch, kv head) units, key tiles are dealt out to
        // `chunks` items per unit, and all but the first add their dQ into a scratch copy.
        let chunks = units >= 2 * Parallel.threads ? 1 : Swift.max(1, Swift.min(keyTiles, (2 * Parallel.threads + units - 1) / Swift.max(units, 1)))
        let groupWidth = group * headDim
        let workspace = Memory.withCategory(.workspace) { () -> (rowDots: Tensor, tiles: Tensor, partialDQ: Tensor) in
            (Tensor(uninitializedShape: [batch, heads, seq]),
             Tensor(uninitializedShape: [Parallel.threads, 2 * br * bc]),
             Tensor.zeros([needs.q ? chunks - 1 : 0, units, seq, groupWidth]))
        }
        let d = workspace.rowDots.storage.base
        rowDots(gradOutput.pointer, out.pointer, into: d)
        let ctx = BackwardPointers(
            dO: gradOutput.pointer, q: q.pointer, k: k.pointer, v: v.pointer, lse: logSumExp.pointer, rowDot: d,
            dq: dq?.storage.base, dk: dk?.storage.base, dv: dv?.storage.base)
        let tp = workspace.tiles.storage.base, pp = workspace.partialDQ.storage.base
        Parallel.forEachItem(units * chunks) { item, worker in
            let unit = item / chunks, chunk = item % chunks
            let b = unit / kvHeads, g = unit % kvHeads
            // dQ of this unit's heads: straight into dq for the first chunk, else into its scratch copy.
            let dqTarget = ctx.dq.map { dq in
                chunk == 0 ? RowTarget(base: dq + b * seq * qWidth + g * groupWidth, stride: qWidth)
                           : RowTarget(base: pp + ((chunk - 1) * units + unit) * seq * groupWidth, stride: groupWidth)
            }
            let scores = tp + worker * 2 * br * bc
            var j = chunk
            while j < keyTiles {
                backwardKeyTile(b: b, g: g, c0: j * bc, cols: Swift.min(bc, seq - j * bc), ctx, dq: dqTarget,
                                p: scores, ds: scores + br * bc)
                j += chunks
            }
        }
        if let dq, chunks > 1 {
            // Fixed order over chunks, so the sum does not depend on scheduling.
            let dqp = dq.storage.base
            for chunk in 1..<chunks {
                for unit in 0..<units {
                    let b = unit / kvHeads, g = unit % kvHeads
                    let src = pp + ((chunk - 1) * units + unit) * seq * groupWidth
                    for r in 0..<seq { vaddInPlace(dqp + (b * seq + r) * qWidth + g * groupWidth, src + r * groupWidth, groupWidth) }
                }
            }
        }
        withExtendedLifetime(workspace) {}
        return (dq, dk, dv)
    }

    /// The raw pointers of one backward call.
    private struct BackwardPointers {
        let dO, q, k, v, lse, rowDot: UnsafePointer<Float>
        let dq, dk, dv: UnsafeMutablePointer<Float>?
    }

    /// Rows of a matrix inside a wider one: the first element and the distance between rows.
    private struct RowTarget {
        let base: UnsafeMutablePointer<Float>
        let stride: Int
    }

    /// `D[b, h, r] = ⟨dO_r, O_r⟩` over head `h`'s slice of each row.
    private func rowDots(_ dO: UnsafePointer<Float>, _ o: UnsafePointer<Float>, into dp: UnsafeMutablePointer<Float>) {
        let d = headDim
        forEachRowChunk(batch * seq, width: qWidth) { range in
            for row in range {
                let b = row / seq, r = row % seq
                for h in 0..<heads {
                    dp[(b * heads + h) * seq + r] = rowDot(dO + row * qWidth + h * d, o + row * qWidth + h * d, d)
                }
            }
        }
    }

    /// Keys `c0 ..< c0 + cols` of key/value head `g` of batch `b`, against every query at or after
    /// `c0` of every head in the group: adds into dk/dv of these keys and into `dq` (the group's
    /// first head at row 0 of batch `b`).
    private func backwardKeyTile(b: Int, g: Int, c0: Int, cols: Int, _ x: BackwardPointers,
                                 dq: RowTarget?,
                                 p: UnsafeMutablePointer<Float>, ds: UnsafeMutablePointer<Float>) {
        let d = headDim, bc = backwardKeyTile, br = backwardQueryTile, scale = self.scale
        let kvOff = b * seq * kvWidth + g * d + c0 * kvWidth
        let kj = x.k + kvOff, vj = x.v + kvOff
        for hh in 0..<group {
            let h = g * group + hh
            let lse = x.lse + (b * heads + h) * seq, dRow = x.rowDot + (b * heads + h) * seq
            var r0 = c0
            while r0 < seq {
                let rows = Swift.min(br, seq - r0)
                let qi = x.q + qOffset(b, h) + r0 * qWidth, dOi = x.dO + qOffset(b, h) + r0 * qWidth
                // P = exp(s·Q Kᵀ − L), zero where the key comes after the query.
                Tensor.sgemm(qi, transposeA: false, kj, transposeB: true, p,
                             m: rows, n: cols, k: d, lda: qWidth, ldb: kvWidth, ldc: bc, alpha: scale, beta: 0)
                for i in 0..<rows {
                    let row = p + i * bc, valid = Swift.min(cols, r0 + i - c0 + 1)
                    _ = expShiftedRow(row, row, valid, lse[r0 + i])
                    (row + valid).update(repeating: 0, count: cols - valid)
                }
                if let dv = x.dv {
                    Tensor.sgemm(p, transposeA: true, dOi, transposeB: false, dv + kvOff,
                                 m: cols, n: d, k: rows, lda: bc, ldb: qWidth, ldc: kvWidth, alpha: 1, beta: 1)
                }
                if dq != nil || x.dk != nil {
                    // dS = s·P ∘ (dO Vᵀ − D), in place of dP.
                    Tensor.sgemm(dOi, transposeA: false, vj, transposeB: true, ds,
                                 m: rows, n: cols, k: d, lda: qWidth, ldb: kvWidth, ldc: bc, alpha: 1, beta: 0)
                    let sv = Vec(repeating: scale)
                    for i in 0..<rows {
                        let pr = p + i * bc, dr = ds + i * bc, di = dRow[r0 + i], dvec = Vec(repeating: di)
                        var c = 0
                        while c + 16 <= cols { store(load(pr, c) * (load(dr, c) - dvec) * sv, dr, c); c += 16 }
                        while c < cols { dr[c] = pr[c] * (dr[c] - di) * scale; c += 1 }
                    }
                    if let dq {
                        Tensor.sgemm(ds, transposeA: false, kj, transposeB: false, dq.base + r0 * dq.stride + hh * d,
                                     m: rows, n: d, k: cols, lda: bc, ldb: kvWidth, ldc: dq.stride, alpha: 1, beta: 1)
                    }
                    if let dk = x.dk {
                        Tensor.sgemm(ds, transposeA: true, qi, transposeB: false, dk + kvOff,
                                     m: cols, n: d, k: rows, lda: bc, ldb: qWidth, ldc: kvWidth, alpha: 1, beta: 1)
                    }
                }
                r0 += rows
            }
        }
    }

    private func checkShapes(_ q: Tensor, _ k: Tensor, _ v: Tensor) {
        precondition(q.count == batch * seq * qWidth && q.shape.last == qWidth
                     && k.count == batch * seq * kvWidth && k.shape.last == kvWidth && v.shape == k.shape,
                     "CausalAttentionKernel: q \(q.shape), k \(k.shape), v \(v.shape) do not fit batch \(batch) × seq \(seq) with \(heads) heads over \(kvHeads) key/value heads of dimension \(headDim)")
    }
}
