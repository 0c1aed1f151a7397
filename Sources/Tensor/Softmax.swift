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
                    let v = UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self)
                    UnsafeMutableRawPointer(y + i).storeBytes(of: (v - mv) - lv, as: Vec.self)
                    i += 16
                }
                while i < n { y[i] = (x[i] - m) - ls; i += 1 }
            }
        }
        return out
    }
}

/// log Σ exp(x[i]) of one row.
@inline(__always) public func logSumExpRow(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let m = rowMax(x, n)
    return m + Foundation.log(sumExpShifted(x, n, m))
}

/// Σ exp(x[i] − m) of one row.
@inline(__always) func sumExpShifted(_ x: UnsafePointer<Float>, _ n: Int, _ m: Float) -> Float {
    var acc = Vec()
    var i = 0
    let mv = Vec(repeating: m)
    while i + 16 <= n { acc += vexp(UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self) - mv); i += 16 }
    var s = acc.sum()
    while i < n { s += vexp(Vec(repeating: x[i] - m))[0]; i += 1 }
    return s
}

/// y = softmax(x) for one row; `x` and `y` may alias.
@inline(__always) public func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let m = rowMax(x, n)
    let mv = Vec(repeating: m)
    var acc = Vec()
    var i = 0
    while i + 16 <= n {
        let e = vexp(UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self) - mv)
        UnsafeMutableRawPointer(y + i).storeBytes(of: e, as: Vec.self)
        acc += e
        i += 16
    }
    var s = acc.sum()
    while i < n { y[i] = vexp(Vec(repeating: x[i] - m))[0]; s += y[i]; i += 1 }
    let inv = 1 / s
    i = 0
    while i + 16 <= n {
        let e = UnsafeRawPointer(y + i).loadUnaligned(as: Vec.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: e * inv, as: Vec.self)
        i += 16
    }
    while i < n { y[i] *= inv; i += 1 }
}

import Foundation
