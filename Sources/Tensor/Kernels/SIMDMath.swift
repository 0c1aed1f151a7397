/// Vectorised transcendental functions on 16 lanes. Accuracy: a few ulp over the float range
/// (see `Tests/TensorTests/SIMDMathTests.swift` for the measured bounds), which is well inside
/// the tolerances of training and of the gradient checks. Special values follow IEEE/libm:
/// `vexp(+big) = +inf`, `vexp(-big) = 0` (denormals near the bottom of the range), NaN propagates,
/// `vlog(0) = -inf`, `vlog(x < 0) = NaN`, `vlog(+inf) = +inf`.
public typealias Vec = SIMD16<Float>

/// eˣ: Cody–Waite range reduction `x = n ln2 + r`, a degree-6 polynomial on r, and 2ⁿ applied in
/// two halves so that results in the denormal range and up to FLT_MAX are right.
@inline(__always) public func vexp(_ x0: Vec) -> Vec {
    // Beyond these bounds the result is 0 / +inf anyway; clamping keeps the integer math in range.
    // (`SIMD.clamped` is ~10× slower than two selects: it checks its bounds lane by lane.)
    let x = x0.replacing(with: -104, where: x0 .< -104).replacing(with: 89, where: x0 .> 89)
    let magic = Vec(repeating: 12_582_912) // 1.5 * 2^23: adding it rounds to an integer
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
    return y.replacing(with: x0, where: x0 .!= x0) // NaN in, NaN out
}

/// Natural logarithm (Cephes `logf` polynomial on the mantissa in [√½, √2)).
@inline(__always) public func vlog(_ x0: Vec) -> Vec {
    // Scale denormals into the normal range first.
    let tiny = x0 .< Vec(repeating: Float.leastNormalMagnitude)
    let xs = x0.replacing(with: x0 * 8_388_608, where: tiny) // · 2^23
    let bits = unsafeBitCast(xs, to: SIMD16<Int32>.self)
    var e = ((bits &>> 23) & 0xFF) &- 126
    e.replace(with: e &- 23, where: tiny)
    // Mantissa in [0.5, 1).
    var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: Vec.self)
    var ef = Vec(e)
    let small = m .< Vec(repeating: 0.707_106_781)
    ef = ef.replacing(with: ef - 1, where: small)
    m = m.replacing(with: m + m - 1, where: small).replacing(with: m - 1, where: .!small)
    let z = m * m
    var y = Vec(repeating: 7.037_683_629_2e-2)
    y = y * m - 1.151_461_031_0e-1
    y = y * m + 1.167_699_874_0e-1
    y = y * m - 1.242_014_084_6e-1
    y = y * m + 1.424_932_278_7e-1
    y = y * m - 1.666_805_766_5e-1
    y = y * m + 2.000_071_476_5e-1
    y = y * m - 2.499_999_399_3e-1
    y = y * m + 3.333_333_117_4e-1
    y = y * m * z
    y += ef * -2.121_944_40e-4
    y += z * -0.5
    var r = m + y
    r += ef * 0.693_359_375
    // Special values.
    r.replace(with: -.infinity, where: x0 .== 0)
    r.replace(with: .nan, where: x0 .< 0)
    r.replace(with: x0, where: (x0 .== .infinity) .| (x0 .!= x0))
    return r
}

/// `xᵖ` for one exponent `p`. Integral exponents (|p| ≤ 64) use repeated squaring, so negative
/// bases work and results are exact to a few ulp; other exponents use `exp(p · log x)`
/// (relative error ≈ |p ln x| ulp; NaN for x < 0 as in libm).
@inline(__always) public func vpow(_ x: Vec, _ p: Float) -> Vec {
    if p == p.rounded(), Swift.abs(p) <= 64 {
        var k = Int(Swift.abs(p))
        var base = x, acc = Vec(repeating: 1)
        while k > 0 {
            if k & 1 == 1 { acc *= base }
            k >>= 1
            if k > 0 { base *= base }
        }
        return p < 0 ? 1 / acc : acc
    }
    if p == 0.5 { return x.squareRoot() }
    if p == -0.5 { return 1 / x.squareRoot() }
    let y = vexp(p * vlog(x))
    // x = 0: log is -inf and p·(-inf) gives 0 or +inf through vexp, as pow does; NaN stays NaN.
    return y
}

@inline(__always) public func vsigmoid(_ x: Vec) -> Vec { 1 / (1 + vexp(-x)) }

/// tanh: an odd Taylor polynomial for |x| < 0.4 (where `1 − 2/(1+e²ˣ)` cancels) and the
/// exponential form elsewhere; saturates to ±1 and propagates NaN.
@inline(__always) public func vtanh(_ x: Vec) -> Vec {
    let big = 2 / (1 + vexp(-2 * x)) - 1
    let x2 = x * x
    var p = Vec(repeating: -1.455_834_387e-3)
    p = p * x2 + 21_844.0 / 6_081_075
    p = p * x2 - 1_382.0 / 155_925
    p = p * x2 + 62.0 / 2_835
    p = p * x2 - 17.0 / 315
    p = p * x2 + 2.0 / 15
    p = p * x2 - 1.0 / 3
    let small = x + x * x2 * p
    let ax = x.replacing(with: -x, where: x .< 0)
    return big.replacing(with: small, where: ax .< 0.4).replacing(with: x, where: x .!= x)
}
