/// Elementwise kernels. Every op runs over raw buffers in 16-lane SIMD blocks; compute-heavy ones
/// are split over `Parallel.threads` for large tensors.
extension Tensor {
    // MARK: unary

    /// `f` applied to every element (SIMD path plus scalar tail).
    @inline(__always)
    public func map(minPerThread: Int = 1 << 18,
                    _ simd: (Vec) -> Vec, _ scalar: (Float) -> Float) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let n = count
        let src = UncheckedSendable(pointer), dst = UncheckedSendable(out.storage.base)
        Parallel.forEachChunk(n, minPerThread: minPerThread) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let v = load(src.value, i)
                store(simd(v), dst.value, i)
                i += 16
            }
            while i < r.upperBound { dst.value[i] = scalar(src.value[i]); i += 1 }
        }
        return out
    }

    /// `f(a, b)` of two same-shaped tensors.
    @inline(__always)
    static func zipMap(_ a: Tensor, _ b: Tensor, minPerThread: Int = 1 << 20,
                       _ simd: (Vec, Vec) -> Vec, _ scalar: (Float, Float) -> Float) -> Tensor {
        let out = Tensor(uninitializedShape: a.shape)
        let pa = UncheckedSendable(a.pointer), pb = UncheckedSendable(b.pointer), po = UncheckedSendable(out.storage.base)
        Parallel.forEachChunk(a.count, minPerThread: minPerThread) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let x = load(pa.value, i)
                let y = load(pb.value, i)
                store(simd(x, y), po.value, i)
                i += 16
            }
            while i < r.upperBound { po.value[i] = scalar(pa.value[i], pb.value[i]); i += 1 }
        }
        return out
    }

    /// `f(a, b)` of two same-shaped tensors (SIMD path plus scalar tail); for kernels in other modules.
    @inline(__always)
    public static func combine(_ a: Tensor, _ b: Tensor, _ simd: (Vec, Vec) -> Vec, _ scalar: (Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape, "combine: shapes \(a.shape) and \(b.shape) differ")
        return zipMap(a, b, minPerThread: 1 << 16, simd, scalar)
    }

    /// Binary op with NumPy broadcasting. Fast paths: equal shapes (SIMD, split over cores when
    /// large) and a one-element operand. Everything else goes through `broadcastKernel`, which
    /// coalesces dimensions and runs SIMD over the innermost run (bias rows, row scales, ...).
    @inline(__always)
    static func broadcastMap(_ a: Tensor, _ b: Tensor, op: String,
                             _ simd: (Vec, Vec) -> Vec, _ scalar: (Float, Float) -> Float) -> Tensor {
        if a.shape == b.shape { return zipMap(a, b, simd, scalar) }
        let outShape = broadcastShape(a.shape, b.shape, op: op)
        if b.count == 1, outShape == a.shape {
            let s = b.pointer[0]
            return a.map({ simd($0, Vec(repeating: s)) }, { scalar($0, s) })
        }
        if a.count == 1, outShape == b.shape {
            let s = a.pointer[0]
            return b.map({ simd(Vec(repeating: s), $0) }, { scalar(s, $0) })
        }
        return broadcastKernel(a, b, outShape: outShape, simd, scalar)
    }

    /// The general broadcasting walk: after dropping size-1 dimensions and merging dimensions that
    /// are contiguous in both operands, the innermost run is processed with SIMD (both operands
    /// contiguous, or one of them constant along the run); the outer index is split over cores
    /// for large outputs.
    @inline(__always)
    static func broadcastKernel(_ a: Tensor, _ b: Tensor, outShape: [Int],
                                _ simd: (Vec, Vec) -> Vec, _ scalar: (Float, Float) -> Float) -> Tensor {
        let out = Tensor(uninitializedShape: outShape)
        let total = out.count
        if total == 0 { return out }
        let (dims, sa, sb) = coalescedStrides(outShape, broadcastStrides(a.shape, to: outShape), broadcastStrides(b.shape, to: outShape))
        let run = dims[dims.count - 1], ra = sa[sa.count - 1], rb = sb[sb.count - 1]
        let outer = total / run
        let pa = UncheckedSendable(a.pointer), pb = UncheckedSendable(b.pointer), po = UncheckedSendable(out.storage.base)
        Parallel.forEachChunk(outer, minPerThread: Swift.max(1, (1 << 20) / run)) { r in
            // Offsets of the first outer index of this chunk.
            var idx = [Int](repeating: 0, count: dims.count - 1)
            var offA = 0, offB = 0, rem = r.lowerBound
            for d in stride(from: dims.count - 2, through: 0, by: -1) {
                idx[d] = rem % dims[d]; rem /= dims[d]
                offA += idx[d] * sa[d]; offB += idx[d] * sb[d]
            }
            for o in r {
                let x = pa.value + offA, y = pb.value + offB, z = po.value + o * run
                var i = 0
                if ra == 1 && rb == 1 {
                    while i + 16 <= run {
                        let u = load(x, i)
                        let v = load(y, i)
                        store(simd(u, v), z, i)
                        i += 16
                    }
                    while i < run { z[i] = scalar(x[i], y[i]); i += 1 }
                } else if ra == 1 {
                    let t = y[0], tv = Vec(repeating: t)
                    while i + 16 <= run {
                        let u = load(x, i)
                        store(simd(u, tv), z, i)
                        i += 16
                    }
                    while i < run { z[i] = scalar(x[i], t); i += 1 }
                } else if rb == 1 {
                    let t = x[0], tv = Vec(repeating: t)
                    while i + 16 <= run {
                        let v = load(y, i)
                        store(simd(tv, v), z, i)
                        i += 16
                    }
                    while i < run { z[i] = scalar(t, y[i]); i += 1 }
                } else {
                    let v = scalar(x[0], y[0])
                    z.update(repeating: v, count: run)
                }
                // Advance the outer index.
                var d = dims.count - 2
                while d >= 0 {
                    idx[d] += 1; offA += sa[d]; offB += sb[d]
                    if idx[d] < dims[d] { break }
                    offA -= sa[d] * idx[d]; offB -= sb[d] * idx[d]; idx[d] = 0; d -= 1
                }
            }
        }
        return out
    }

    /// This tensor repeated along broadcast dimensions to `shape` (NumPy `broadcast_to`, copied).
    public func broadcasted(to target: [Int]) -> Tensor {
        precondition(broadcastShape(shape, target, op: "broadcasted(to:)") == target,
                     "broadcasted(to:): shape \(shape) does not broadcast to \(target)")
        if shape == target { return self }
        let out = Tensor(uninitializedShape: target)
        if out.count == 0 { return out }
        let (dims, ss, _) = coalescedStrides(target, broadcastStrides(shape, to: target), broadcastStrides(target, to: target))
        let run = dims[dims.count - 1], rs = ss[ss.count - 1]
        let src = pointer, dst = out.storage.base
        var idx = [Int](repeating: 0, count: dims.count - 1)
        var off = 0
        for o in 0..<(out.count / run) {
            let z = dst + o * run
            if rs == 1 { z.update(from: src + off, count: run) } else { z.update(repeating: src[off], count: run) }
            var d = dims.count - 2
            while d >= 0 {
                idx[d] += 1; off += ss[d]
                if idx[d] < dims[d] { break }
                off -= ss[d] * idx[d]; idx[d] = 0; d -= 1
            }
        }
        return out
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { broadcastMap(a, b, op: "add", { $0 + $1 }, { $0 + $1 }) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { broadcastMap(a, b, op: "sub", { $0 - $1 }, { $0 - $1 }) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { broadcastMap(a, b, op: "mul", { $0 * $1 }, { $0 * $1 }) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { broadcastMap(a, b, op: "div", { $0 / $1 }, { $0 / $1 }) }
    public static func + (a: Tensor, s: Float) -> Tensor { a.map({ $0 + s }, { $0 + s }) }
    public static func - (a: Tensor, s: Float) -> Tensor { a.map({ $0 - s }, { $0 - s }) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.map({ $0 * s }, { $0 * s }) }
    public static func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }
    public static func + (s: Float, a: Tensor) -> Tensor { a + s }
    public static func - (s: Float, a: Tensor) -> Tensor { a.map({ s - $0 }, { s - $0 }) }
    public static prefix func - (a: Tensor) -> Tensor { a.map({ -$0 }, { -$0 }) }

    /// Elementwise maximum / minimum with broadcasting.
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
        broadcastMap(a, b, op: "maximum", { $0.replacing(with: $1, where: $1 .> $0) }, { Swift.max($0, $1) })
    }
    public static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor {
        broadcastMap(a, b, op: "minimum", { $0.replacing(with: $1, where: $1 .< $0) }, { Swift.min($0, $1) })
    }

    public func exp() -> Tensor { map(minPerThread: 1 << 16, vexp, { vexp(Vec(repeating: $0))[0] }) }
    public func log() -> Tensor { map(minPerThread: 1 << 16, vlog, { vlog(Vec(repeating: $0))[0] }) }
    public func sqrt() -> Tensor { map({ $0.squareRoot() }, { $0.squareRoot() }) }
    public func rsqrt() -> Tensor { map({ 1 / $0.squareRoot() }, { 1 / $0.squareRoot() }) }
    public func square() -> Tensor { map({ $0 * $0 }, { $0 * $0 }) }
    public func abs() -> Tensor { map({ $0.replacing(with: -$0, where: $0 .< 0) }, { Swift.abs($0) }) }
    public func tanh() -> Tensor { map(minPerThread: 1 << 16, vtanh, { vtanh(Vec(repeating: $0))[0] }) }
    public func sigmoid() -> Tensor { map(minPerThread: 1 << 16, vsigmoid, { vsigmoid(Vec(repeating: $0))[0] }) }
    /// `x · sigmoid(x)`.
    public func silu() -> Tensor { map(minPerThread: 1 << 16, { $0 * vsigmoid($0) }, { $0 * vsigmoid(Vec(repeating: $0))[0] }) }
    public func relu() -> Tensor { map({ $0.replacing(with: 0, where: $0 .< 0) }, { Swift.max($0, 0) }) }
    /// GELU, tanh approximation: `0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³)))`.
    public func gelu() -> Tensor { map(minPerThread: 1 << 16, geluV, { geluV(Vec(repeating: $0))[0] }) }
    /// `x^p` for `x > 0` (or integral `p`, any sign of `x`); see `vpow` for the accuracy.
    public func pow(_ p: Float) -> Tensor {
        if p == 1 { return self }
        if p == 2 { return square() }
        return map(minPerThread: 1 << 16, { vpow($0, p) }, { vpow(Vec(repeating: $0), p)[0] })
    }
    public func clamped(min lo: Float, max hi: Float) -> Tensor {
        precondition(lo <= hi, "clamped: min \(lo) > max \(hi) (shape \(shape))")
        return map({ $0.replacing(with: lo, where: $0 .< lo).replacing(with: hi, where: $0 .> hi) }, { Swift.min(Swift.max($0, lo), hi) })
    }

    // MARK: in place

    /// `self += alpha * x` (same shape), in place.
    public mutating func addScaled(_ x: Tensor, _ alpha: Float = 1) {
        precondition(shape == x.shape || count == x.count, "addScaled: shapes \(shape) and \(x.shape) differ")
        let n = count, px = x.pointer
        withUnsafeMutableBufferPointer { p in
            let d = p.baseAddress!
            var i = 0
            let a = Vec(repeating: alpha)
            while i + 16 <= n {
                let y = load(d, i)
                let v = load(px, i)
                store(y + a * v, d, i)
                i += 16
            }
            while i < n { d[i] += alpha * px[i]; i += 1 }
        }
    }

    /// `self *= s`, in place.
    public mutating func scale(by s: Float) {
        ensureUnique()
        Tensor.scale(storage.base, count, by: s)
    }

    /// Multiplies the storage in place *without* copy-on-write: every tensor sharing it sees the
    /// change. Only for buffers shared by design, e.g. a gradient that is also an estimator's
    /// error-feedback memory (clipping must scale the one buffer, not copy it).
    public func scaleSharedStorage(by s: Float) {
        Tensor.scale(storage.base, count, by: s)
    }

    @inline(__always) static func scale(_ d: UnsafeMutablePointer<Float>, _ n: Int, by s: Float) {
        var i = 0
        while i + 16 <= n {
            store(load(d, i) * s, d, i)
            i += 16
        }
        while i < n { d[i] *= s; i += 1 }
    }

    /// In place when the shapes are equal; `b` may broadcast to `a`'s shape, never the reverse.
    public static func += (a: inout Tensor, b: Tensor) {
        if a.shape == b.shape { a.addScaled(b); return }
        precondition(broadcastShape(a.shape, b.shape, op: "+=") == a.shape, "+=: shape \(b.shape) would grow \(a.shape)")
        a = a + b
    }
    public static func -= (a: inout Tensor, b: Tensor) {
        if a.shape == b.shape { a.addScaled(b, -1); return }
        precondition(broadcastShape(a.shape, b.shape, op: "-=") == a.shape, "-=: shape \(b.shape) would grow \(a.shape)")
        a = a - b
    }
    public static func *= (a: inout Tensor, s: Float) { a.scale(by: s) }
}

/// GELU (tanh form) as `x · σ(2u)`, `u = √(2/π)(x + 0.044715 x³)`: the same function, since
/// `½(1 + tanh u) = σ(2u)`, but without the cancellation of `1 + tanh u` for negative x.
@inline(__always) func geluV(_ x: Vec) -> Vec {
    let inner = 0.797_884_56 * (x + 0.044715 * x * x * x)
    return x * vsigmoid(2 * inner)
}

import Foundation
