/// Elementwise kernels. Every op runs over raw buffers in 16-lane SIMD blocks; compute-heavy ones
/// are split over `Parallel.threads` for large tensors.
extension Tensor {
    // MARK: unary

    /// `f` applied to every element (SIMD path plus scalar tail).
    @inline(__always)
    public func map(minPerThread: Int = 1 << 18,
                    _ simd: (Vec) -> Vec, _ scalar: (Float) -> Float) -> Tensor {
        var out = Tensor(uninitializedShape: shape)
        let n = count
        let src = UncheckedSendable(pointer), dst = UncheckedSendable(out.storage.base)
        Parallel.forEachChunk(n, minPerThread: minPerThread) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let v = UnsafeRawPointer(src.value + i).loadUnaligned(as: Vec.self)
                UnsafeMutableRawPointer(dst.value + i).storeBytes(of: simd(v), as: Vec.self)
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
        var out = Tensor(uninitializedShape: a.shape)
        let pa = UncheckedSendable(a.pointer), pb = UncheckedSendable(b.pointer), po = UncheckedSendable(out.storage.base)
        Parallel.forEachChunk(a.count, minPerThread: minPerThread) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let x = UnsafeRawPointer(pa.value + i).loadUnaligned(as: Vec.self)
                let y = UnsafeRawPointer(pb.value + i).loadUnaligned(as: Vec.self)
                UnsafeMutableRawPointer(po.value + i).storeBytes(of: simd(x, y), as: Vec.self)
                i += 16
            }
            while i < r.upperBound { po.value[i] = scalar(pa.value[i], pb.value[i]); i += 1 }
        }
        return out
    }

    /// `f(a, b)` of two same-shaped tensors (SIMD path plus scalar tail); for kernels in other modules.
    @inline(__always)
    public static func combine(_ a: Tensor, _ b: Tensor, _ simd: (Vec, Vec) -> Vec, _ scalar: (Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape, "zipMap: shapes \(a.shape) and \(b.shape) differ")
        return zipMap(a, b, minPerThread: 1 << 16, simd, scalar)
    }

    /// Binary op with NumPy broadcasting. Fast paths: equal shapes, scalar operand, `b` a trailing
    /// block of `a` (bias rows), `b` one value per row of `a` (row scales); otherwise a general walk.
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
        var out = Tensor(uninitializedShape: outShape)
        let po = out.storage.base, pa = a.pointer, pb = b.pointer
        let bCore = Array(b.shape.drop(while: { $0 == 1 }))
        if outShape == a.shape, Array(outShape.suffix(bCore.count)) == bCore {
            // b repeats every `b.count` elements of a.
            let m = b.count, rows = a.count / Swift.max(m, 1)
            for r in 0..<rows {
                let ar = pa + r * m, orow = po + r * m
                var i = 0
                while i + 16 <= m {
                    let x = UnsafeRawPointer(ar + i).loadUnaligned(as: Vec.self)
                    let y = UnsafeRawPointer(pb + i).loadUnaligned(as: Vec.self)
                    UnsafeMutableRawPointer(orow + i).storeBytes(of: simd(x, y), as: Vec.self)
                    i += 16
                }
                while i < m { orow[i] = scalar(ar[i], pb[i]); i += 1 }
            }
            return out
        }
        if outShape == a.shape, a.rank >= 1, b.rank == a.rank, b.shape.last == 1,
           Array(b.shape.dropLast()) == Array(a.shape.dropLast()) {
            // One value of b per row of a.
            let m = a.shape[a.rank - 1], rows = a.count / Swift.max(m, 1)
            for r in 0..<rows {
                let s = pb[r], ar = pa + r * m, orow = po + r * m
                var i = 0
                let sv = Vec(repeating: s)
                while i + 16 <= m {
                    let x = UnsafeRawPointer(ar + i).loadUnaligned(as: Vec.self)
                    UnsafeMutableRawPointer(orow + i).storeBytes(of: simd(x, sv), as: Vec.self)
                    i += 16
                }
                while i < m { orow[i] = scalar(ar[i], s); i += 1 }
            }
            return out
        }
        let oa = broadcastOffsets(a.shape, to: outShape), ob = broadcastOffsets(b.shape, to: outShape)
        for k in 0..<out.count { po[k] = scalar(pa[oa[k]], pb[ob[k]]) }
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
    public func log() -> Tensor {
        map({ v in var o = Vec(); for i in 0..<16 { o[i] = Foundation.log(v[i]) }; return o }, { Foundation.log($0) })
    }
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
    /// `x^p` for `x > 0` (or integral `p`).
    public func pow(_ p: Float) -> Tensor { map({ v in var o = Vec(); for i in 0..<16 { o[i] = Foundation.pow(v[i], p) }; return o }, { Foundation.pow($0, p) }) }
    public func clamped(min lo: Float, max hi: Float) -> Tensor {
        map({ $0.clamped(lowerBound: Vec(repeating: lo), upperBound: Vec(repeating: hi)) }, { Swift.min(Swift.max($0, lo), hi) })
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
                let y = UnsafeRawPointer(d + i).loadUnaligned(as: Vec.self)
                let v = UnsafeRawPointer(px + i).loadUnaligned(as: Vec.self)
                UnsafeMutableRawPointer(d + i).storeBytes(of: y + a * v, as: Vec.self)
                i += 16
            }
            while i < n { d[i] += alpha * px[i]; i += 1 }
        }
    }

    /// `self *= s`, in place.
    public mutating func scale(by s: Float) {
        let n = count
        withUnsafeMutableBufferPointer { p in
            let d = p.baseAddress!
            var i = 0
            while i + 16 <= n {
                let y = UnsafeRawPointer(d + i).loadUnaligned(as: Vec.self)
                UnsafeMutableRawPointer(d + i).storeBytes(of: y * s, as: Vec.self)
                i += 16
            }
            while i < n { d[i] *= s; i += 1 }
        }
    }

    public static func += (a: inout Tensor, b: Tensor) {
        if a.shape == b.shape { a.addScaled(b) } else { a = a + b }
    }
    public static func -= (a: inout Tensor, b: Tensor) {
        if a.shape == b.shape { a.addScaled(b, -1) } else { a = a - b }
    }
    public static func *= (a: inout Tensor, s: Float) { a.scale(by: s) }
}

@inline(__always) func geluV(_ x: Vec) -> Vec {
    let inner = 0.797_884_56 * (x + 0.044715 * x * x * x)
    return 0.5 * x * (1 + vtanh(inner))
}

import Foundation
