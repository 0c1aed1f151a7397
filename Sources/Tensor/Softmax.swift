import Foundation

/// Softmax and log-softmax along the last axis, one row at a time (max-subtracted, SIMD exp).
extension Tensor {
    /// - Returns: same shape, each row of the last axis sums to 1.
    public func softmax() -> Tensor {
        precondition(rank >= 1, "softmax: needs rank ≥ 1, got shape \(shape)")
        let n = shape[rank - 1], rows = rowCount
        let out = Tensor(uninitializedShape: shape)
        let src = UncheckedSendable(pointer), dst = UncheckedSendable(out.storage.base)
        Parallel.forEachChunk(rows, minPerThread: Swift.max(1, (1 << 15) / Swift.max(n, 1))) { r in
            for row in r { softmaxRow(src.value + row * n, dst.value + row * n, n) }
        }
        return out
    }

    /// - Returns: `x - logsumexp(x)` along the last axis.
    public func logSoftmax() -> Tensor {
        precondition(rank >= 1, "logSoftmax: needs rank ≥ 1, got shape \(shape)")
        let n = shape[rank - 1], rows = rowCount
        let out = Tensor(uninitializedShape: shape)
        let src = UncheckedSendable(pointer), dst = UncheckedSendable(out.storage.base)
        Parallel.forEachChunk(rows, minPerThread: Swift.max(1, (1 << 15) / Swift.max(n, 1))) { r in
            for row in r {
                // (x − m) − log Σ e^(x−m): subtracting m first keeps the small log-probabilities
                // exact instead of rounding them against a large logsumexp.
                let x = src.value + row * n, y = dst.value + row * n
                let m = rowMax(x, n)
                let ls = Foundation.log(sumExpShifted(x, n, m))
                let mv = Vec(repeating: m), lv = Vec(repeating: ls)
                var i = 0
                while i + 16 <= n {
                    let v = load(x, i)
                    store((v - mv) - lv, y, i)
                    i += 16
                }
                while i < n { y[i] = (x[i] - m) - ls; i += 1 }
            }
        }
        return out
    }
}
