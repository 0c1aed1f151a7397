import Foundation

/// Kernels of softmax cross-entropy, alone and fused with the output head's projection.
package enum CrossEntropyKernel {
    /// Per row of `x` (rows × classes): `losses[r] = logsumexp(x_r) − x_r[t_r]` (0 for ignored rows)
    /// and, when `gradScale` is given, `x_r ← (softmax(x_r) − onehot(t_r)) · gradScale` (0 for ignored rows).
    package static func rows(_ x: UnsafeMutablePointer<Float>, rows: Int, classes: Int, targets: UnsafePointer<Int32>,
                             ignoreIndex: Int32, gradScale: Float?, losses: UnsafeMutablePointer<Float>) {
        forEachRowChunk(rows, width: classes, perThread: 1 << 15) { range in
            for r in range {
                let row = x + r * classes, t = targets[r]
                if t == ignoreIndex {
                    losses[r] = 0
                    if gradScale != nil { row.update(repeating: 0, count: classes) }
                    continue
                }
                let target = row[Int(t)]
                guard let scale = gradScale else {
                    losses[r] = logSumExpRow(row, classes) - target
                    continue
                }
                // One exp pass: e = exp(x − max) stored in place, then scaled by 1/Σe.
                let m = rowMax(row, classes)
                let sum = expShiftedRow(row, row, classes, m)
                losses[r] = m + Foundation.log(sum) - target
                vscaleInPlace(row, scale / sum, classes)
                row[Int(t)] -= scale
            }
        }
    }

    /// Rows per chunk of `linear` by default: about 32M logits (128 MiB), clamped to 32...1024 rows
    /// (1024 rows at V = 32000). Larger chunks keep the head's sgemms efficient: on LLaMA-20M at
    /// batch 8 × 256, 1024 rows gave +13% tokens/s over 512 for +70 MiB of RSS.
    package static func defaultChunkRows(classes: Int) -> Int {
        Swift.min(1024, Swift.max(32, (32 << 20) / Swift.max(classes, 1)))
    }

    /// The head projection `h Wᵀ` and the loss, chunk by chunk of rows, so that no (N, V) matrix
    /// exists: per chunk the logits (one workspace buffer of chunk × V), the row losses and, when
    /// `gradScale` is given, at once `δ = (softmax − onehot) · gradScale` in the logits buffer,
    /// `dh_chunk = δ W` and `dW += δᵀ h_chunk` (the first chunk overwrites `dW`).
    /// - Parameters:
    ///   - h: (N, D)
    ///   - weight: (V, D)
    ///   - targets: N class indices in `0..<V` or `ignoreIndex`
    ///   - dh: (N, D), overwritten when given
    ///   - dw: (V, D), overwritten when given
    /// - Returns: Σ of the row losses (ignored rows add 0)
    package static func linear(h: Tensor, weight: Tensor, targets: [Int32], ignoreIndex: Int32, chunkRows: Int,
                               gradScale: Float?, dh: Tensor?, dw: Tensor?) -> Double {
        let d = h.shape.last ?? 0, n = h.count / Swift.max(d, 1), vocab = weight.shape[0]
        precondition(targets.count == n && dh.map { $0.shape == h.shape } != false && dw.map { $0.shape == weight.shape } != false,
                     "linearCrossEntropy: \(targets.count) targets, dh \(dh?.shape ?? []), dW \(dw?.shape ?? []) for h \(h.shape), W \(weight.shape)")
        let chunk = Swift.min(Swift.max(1, chunkRows), Swift.max(n, 1))
        let hp = h.pointer, wp = weight.pointer
        // Gradients only when asked for (a zero count of targets leaves them to the caller).
        let dhp = gradScale == nil ? nil : dh?.storage.base, dwp = gradScale == nil ? nil : dw?.storage.base
        var total = 0.0
        Memory.withCategory(.workspace) {
            let buffer = Tensor(uninitializedShape: [chunk, vocab])
            let logits = buffer.storage.base
            var losses = [Float](repeating: 0, count: chunk)
            var r0 = 0
            while r0 < n {
                let rows = Swift.min(chunk, n - r0)
                Tensor.sgemm(hp + r0 * d, transposeA: false, wp, transposeB: true, logits,
                             m: rows, n: vocab, k: d, lda: d, ldb: d, ldc: vocab, alpha: 1, beta: 0)
                losses.withUnsafeMutableBufferPointer { lp in
                    targets.withUnsafeBufferPointer { tp in
                        self.rows(logits, rows: rows, classes: vocab, targets: tp.baseAddress! + r0,
                                  ignoreIndex: ignoreIndex, gradScale: gradScale, losses: lp.baseAddress!)
                    }
                }
                for i in 0..<rows { total += Double(losses[i]) }
                if let dhp {
                    Tensor.sgemm(logits, transposeA: false, wp, transposeB: false, dhp + r0 * d,
                                 m: rows, n: d, k: vocab, lda: vocab, ldb: d, ldc: d, alpha: 1, beta: 0)
                }
                if let dwp {
                    Tensor.sgemm(logits, transposeA: true, hp + r0 * d, transposeB: false, dwp,
                                 m: vocab, n: d, k: rows, lda: vocab, ldb: d, ldc: d, alpha: 1, beta: r0 == 0 ? 0 : 1)
                }
                r0 += rows
            }
        }
        return total
    }
}
