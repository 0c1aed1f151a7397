import Foundation

// The one set of SIMD helpers every raw-buffer kernel uses: unaligned 16-lane loads and stores
// (tensor rows are 64-byte aligned only at their start), a row-parallel loop, and reductions and
// softmax over one row. `Vec` and the transcendental functions are in `SIMDMath.swift`.

/// The 16 floats at `p[i..<i+16]`.
@inlinable @inline(__always) package func load(_ p: UnsafePointer<Float>, _ i: Int) -> Vec {
    UnsafeRawPointer(p + i).loadUnaligned(as: Vec.self)
}

@inlinable @inline(__always) package func load(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> Vec {
    UnsafeRawPointer(p + i).loadUnaligned(as: Vec.self)
}

/// Writes `v` to `p[i..<i+16]`.
@inlinable @inline(__always) package func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Vec.self)
}

/// The `n` ≤ 16 floats at `p[i..<i+n]`, the other lanes 0 (a row's last partial block).
@inlinable @inline(__always) package func load(_ p: UnsafePointer<Float>, _ i: Int, count n: Int) -> Vec {
    if n == 16 { return load(p, i) }
    var v = Vec()
    for j in 0..<n { v[j] = p[i + j] }
    return v
}

/// Writes the first `n` ≤ 16 lanes of `v` to `p[i..<i+n]`.
@inlinable @inline(__always) package func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ i: Int, count n: Int) {
    if n == 16 { store(v, p, i); return }
    for j in 0..<n { p[i + j] = v[j] }
}

/// Splits `rows` rows of `width` elements over the kernel threads once there is enough work
/// (about `perThread` elements per thread) to pay for the dispatch.
@inline(__always) package func forEachRowChunk(_ rows: Int, width: Int, perThread: Int = 1 << 14, _ body: (Range<Int>) -> Void) {
    Parallel.forEachChunk(rows, minPerThread: Swift.max(1, perThread / Swift.max(width, 1)), body)
}

/// Σ x[0..<n].
@inlinable @inline(__always) public func rowSum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = Vec(), acc1 = Vec()
    var i = 0
    while i + 32 <= n {
        acc0 += load(x, i)
        acc1 += load(x, i + 16)
        i += 32
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += x[i]; i += 1 }
    return s
}

/// Σ x[i]·y[i].
@inlinable @inline(__always) public func rowDot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = Vec(), acc1 = Vec()
    var i = 0
    while i + 32 <= n {
        acc0 += load(x, i) * load(y, i)
        acc1 += load(x, i + 16) * load(y, i + 16)
        i += 32
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += x[i] * y[i]; i += 1 }
    return s
}

/// Maximum of x[0..<n] (n > 0).
@inlinable @inline(__always) public func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var i = 0
    var m = -Float.infinity
    if n >= 16 {
        var acc = load(x, 0)
        i = 16
        while i + 16 <= n {
            let v = load(x, i)
            acc = acc.replacing(with: v, where: v .> acc)
            i += 16
        }
        m = acc.max()
    }
    while i < n { m = Swift.max(m, x[i]); i += 1 }
    return m
}

/// Minimum of x[0..<n] (n > 0).
@inlinable @inline(__always) public func rowMin(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var i = 0
    var m = Float.infinity
    if n >= 16 {
        var acc = load(x, 0)
        i = 16
        while i + 16 <= n {
            let v = load(x, i)
            acc = acc.replacing(with: v, where: v .< acc)
            i += 16
        }
        m = acc.min()
    }
    while i < n { m = Swift.min(m, x[i]); i += 1 }
    return m
}

/// d[0..<n] += x[0..<n].
@inlinable @inline(__always) public func vaddInPlace(_ d: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n { store(load(d, i) + load(x, i), d, i); i += 16 }
    while i < n { d[i] += x[i]; i += 1 }
}

/// d[0..<n] *= s.
@inlinable @inline(__always) package func vscaleInPlace(_ d: UnsafeMutablePointer<Float>, _ s: Float, _ n: Int) {
    var i = 0
    let sv = Vec(repeating: s)
    while i + 16 <= n { store(load(d, i) * sv, d, i); i += 16 }
    while i < n { d[i] *= s; i += 1 }
}

/// d[0..<n] = max(d, x) elementwise.
@inlinable @inline(__always) public func vmaxInPlace(_ d: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        let a = load(d, i), b = load(x, i)
        store(a.replacing(with: b, where: b .> a), d, i)
        i += 16
    }
    while i < n { if x[i] > d[i] { d[i] = x[i] }; i += 1 }
}

/// log Σ exp(x[i]) of one row.
@inlinable @inline(__always) public func logSumExpRow(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let m = rowMax(x, n)
    return m + Foundation.log(sumExpShifted(x, n, m))
}

/// Σ exp(x[i] − m) of one row.
@inlinable @inline(__always) package func sumExpShifted(_ x: UnsafePointer<Float>, _ n: Int, _ m: Float) -> Float {
    var acc = Vec()
    var i = 0
    let mv = Vec(repeating: m)
    while i + 16 <= n { acc += vexp(load(x, i) - mv); i += 16 }
    var s = acc.sum()
    while i < n { s += vexp(Vec(repeating: x[i] - m))[0]; i += 1 }
    return s
}

/// `y[i] = exp(x[i] − m)` for one row; returns Σ y. `x` and `y` may alias.
@inlinable @inline(__always) package func expShiftedRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ m: Float) -> Float {
    let mv = Vec(repeating: m)
    var acc = Vec()
    var i = 0
    while i + 16 <= n {
        let e = vexp(load(x, i) - mv)
        store(e, y, i)
        acc += e
        i += 16
    }
    var s = acc.sum()
    while i < n { y[i] = vexp(Vec(repeating: x[i] - m))[0]; s += y[i]; i += 1 }
    return s
}

/// y = softmax(x) for one row; `x` and `y` may alias.
@inlinable @inline(__always) public func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let s = expShiftedRow(x, y, n, rowMax(x, n))
    vscaleInPlace(y, 1 / s, n)
}
