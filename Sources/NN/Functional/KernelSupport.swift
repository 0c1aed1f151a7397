import Foundation
import Tensor

// Small helpers shared by the fused kernels of this folder: unaligned 16-lane loads and stores
// (tensor rows are 64-byte aligned only at their start) and a row-parallel loop.

@inline(__always) func load(_ p: UnsafePointer<Float>, _ i: Int) -> Vec {
    UnsafeRawPointer(p + i).loadUnaligned(as: Vec.self)
}

@inline(__always) func load(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> Vec {
    UnsafeRawPointer(p + i).loadUnaligned(as: Vec.self)
}

@inline(__always) func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Vec.self)
}

/// Splits `rows` rows of `width` elements over the kernel threads once there is enough work
/// (about 16K elements per thread) to pay for the dispatch.
@inline(__always) func forEachRowChunk(_ rows: Int, width: Int, perThread: Int = 1 << 14, _ body: (Range<Int>) -> Void) {
    Parallel.forEachChunk(rows, minPerThread: Swift.max(1, perThread / Swift.max(width, 1)), body)
}

// MARK: exp without `SIMD.clamped`

/// eˣ on 16 lanes: the algorithm of `Tensor.vexp` (Cody–Waite reduction, degree-6 polynomial, 2ⁿ in
/// two halves, NaN propagates) with the input clamp written as two `replacing(with:where:)`.
///
/// Why a copy: `SIMD16<Float>.clamped(lowerBound:upperBound:)` (and `pointwiseMin/Max`) compile to a
/// scalar generic loop, so `vexp` costs ~40 ns per element in release builds against ~3 ns here; the
/// softmax of the LM head alone runs 65M exps per LLaMA-20M step. Switch back to `vexp` once it
/// avoids `clamped`.
@inline(__always) func fastExp(_ x0: Vec) -> Vec {
    var x = x0.replacing(with: Vec(repeating: -104), where: x0 .< -104)
    x = x.replacing(with: Vec(repeating: 89), where: x .> 89)
    let magic = Vec(repeating: 12_582_912) // 1.5 · 2²³: adding it rounds to an integer
    let nf = (x * 1.442_695_04 + magic) - magic
    let r = x - nf * 0.693_145_75 - nf * 1.428_606_8e-6
    var p = Vec(repeating: 1.0 / 720)
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let n = unsafeBitCast(nf + magic, to: SIMD16<Int32>.self) &- 0x4B40_0000
    let n1 = n &>> 1, n2 = n &- n1
    let s1 = unsafeBitCast((n1 &+ 127) &<< 23, to: Vec.self)
    let s2 = unsafeBitCast((n2 &+ 127) &<< 23, to: Vec.self)
    let y = p * s1 * s2
    return y.replacing(with: x0, where: x0 .!= x0)
}

/// eˣ of one scalar through the same polynomial (tails of rows), so that a row's values do not
/// depend on where the 16-lane blocks start.
@inline(__always) func fastExp(_ x: Float) -> Float { fastExp(Vec(repeating: x))[0] }

/// `1 / (1 + e⁻ˣ)` on 16 lanes.
@inline(__always) func fastSigmoid(_ x: Vec) -> Vec { 1 / (1 + fastExp(-x)) }

@inline(__always) func fastSigmoid(_ x: Float) -> Float { fastSigmoid(Vec(repeating: x))[0] }

/// `y = softmax(x)` over `n` entries (x and y may alias); returns nothing, writes y.
@inline(__always) func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    let m = rowMax(x, n), mv = Vec(repeating: m)
    var acc = Vec()
    var i = 0
    while i + 16 <= n { let e = fastExp(load(x, i) - mv); store(e, x, i); acc += e; i += 16 }
    var s = acc.sum()
    while i < n { x[i] = fastExp(x[i] - m); s += x[i]; i += 1 }
    let inv = 1 / s, iv = Vec(repeating: inv)
    i = 0
    while i + 16 <= n { store(load(x, i) * iv, x, i); i += 16 }
    while i < n { x[i] *= inv; i += 1 }
}

/// log Σ exp(x[i]) over `n > 0` entries.
@inline(__always) func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let m = rowMax(x, n), mv = Vec(repeating: m)
    var acc = Vec()
    var i = 0
    while i + 16 <= n { acc += fastExp(load(x, i) - mv); i += 16 }
    var s = acc.sum()
    while i < n { s += fastExp(x[i] - m); i += 1 }
    return m + Foundation.log(s)
}
