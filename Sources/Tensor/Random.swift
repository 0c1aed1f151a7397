import Foundation

/// Philox4x32-10 (Salmon et al. 2011): a counter-based generator. Block `i` of stream `s` under
/// key `seed` is a pure function of `(seed, s, i)`, so any random tensor can be regenerated later
/// (a projection in the backward) instead of stored, and parallel generation is reproducible.
@inline(__always)
public func philox4x32(seed: UInt64, stream: UInt64, counter: UInt64) -> SIMD4<UInt32> {
    var c0 = UInt32(truncatingIfNeeded: counter), c1 = UInt32(truncatingIfNeeded: counter >> 32)
    var c2 = UInt32(truncatingIfNeeded: stream), c3 = UInt32(truncatingIfNeeded: stream >> 32)
    var k0 = UInt32(truncatingIfNeeded: seed), k1 = UInt32(truncatingIfNeeded: seed >> 32)
    for _ in 0..<10 {
        let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
        let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
        let hi0 = UInt32(p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
        let hi1 = UInt32(p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
        c0 = hi1 ^ c1 ^ k0; c1 = lo1; c2 = hi0 ^ c3 ^ k1; c3 = lo0
        k0 &+= 0x9E37_79B9; k1 &+= 0xBB67_AE85
    }
    return SIMD4(c0, c1, c2, c3)
}

/// A position in a Philox stream: `(seed, stream, counter)`. Drawing advances `counter` by one per
/// four values. Value semantics: copying an `RNG` forks an identical sequence; save the three
/// numbers to checkpoint it.
public struct RNG: Sendable, Equatable, Codable {
    public var seed: UInt64
    public var stream: UInt64
    public var counter: UInt64

    public init(seed: UInt64, stream: UInt64 = 0, counter: UInt64 = 0) {
        self.seed = seed; self.stream = stream; self.counter = counter
    }

    /// A generator keyed by `(seed, stream)` at counter 0; use distinct streams for independent draws.
    public func derived(stream: UInt64) -> RNG { RNG(seed: seed, stream: stream, counter: 0) }

    @inline(__always) static func unit(_ u: UInt32) -> Float {
        (Float(u >> 8) + 0.5) * (1.0 / 16_777_216.0) // in (0, 1)
    }

    /// Fills `out` with U(low, high) and advances the counter.
    public mutating func fillUniform(_ out: UnsafeMutableBufferPointer<Float>, low: Float = 0, high: Float = 1) {
        let (seed, stream, base) = (self.seed, self.stream, counter)
        let n = out.count, blocks = (n + 3) / 4
        let o = UncheckedSendable(out)
        Parallel.forEachChunk(blocks, minPerThread: 1 << 14) { r in
            for b in r {
                let v = philox4x32(seed: seed, stream: stream, counter: base &+ UInt64(b))
                for j in 0..<4 where b * 4 + j < n { o.value[b * 4 + j] = low + (high - low) * RNG.unit(v[j]) }
            }
        }
        counter &+= UInt64(blocks)
    }

    /// Fills `out` with N(mean, std²) (Box–Muller on Philox uniforms) and advances the counter.
    /// Element `4b + 2p` (and `+1`) comes from the uniforms of block `b`, pair `p`, whichever path
    /// computes it, so the values do not depend on the thread split. Full runs of 8 blocks go
    /// through 16-lane log/sin/cos; the tail uses the scalar formulas (equal to ~1e-7).
    public mutating func fillNormal(_ out: UnsafeMutableBufferPointer<Float>, mean: Float = 0, std: Float = 1) {
        let (seed, stream, base) = (self.seed, self.stream, counter)
        let n = out.count, blocks = (n + 3) / 4
        let o = UncheckedSendable(out.baseAddress!)
        Parallel.forEachChunk(blocks, minPerThread: 1 << 13) { r in
            var b = r.lowerBound
            while b + 8 <= r.upperBound && (b + 8) * 4 <= n {
                var u1 = Vec(), u2 = Vec()
                for j in 0..<8 {
                    let v = philox4x32(seed: seed, stream: stream, counter: base &+ UInt64(b + j))
                    u1[2 * j] = RNG.unit(v[0]); u2[2 * j] = RNG.unit(v[1])
                    u1[2 * j + 1] = RNG.unit(v[2]); u2[2 * j + 1] = RNG.unit(v[3])
                }
                let radius = (-2 * vlog(u1)).squareRoot() * std
                let (sin, cos) = sinCos2Pi(u2)
                let dst = o.value + b * 4
                for j in 0..<16 {
                    dst[2 * j] = mean + radius[j] * cos[j]
                    dst[2 * j + 1] = mean + radius[j] * sin[j]
                }
                b += 8
            }
            while b < r.upperBound {
                let v = philox4x32(seed: seed, stream: stream, counter: base &+ UInt64(b))
                for pair in 0..<2 {
                    let u1 = RNG.unit(v[2 * pair]), u2 = RNG.unit(v[2 * pair + 1])
                    let radius = (-2 * Foundation.log(u1)).squareRoot()
                    let theta = 2 * Float.pi * u2
                    let i = b * 4 + 2 * pair
                    if i < n { o.value[i] = mean + std * radius * Foundation.cos(theta) }
                    if i + 1 < n { o.value[i + 1] = mean + std * radius * Foundation.sin(theta) }
                }
                b += 1
            }
        }
        counter &+= UInt64(blocks)
    }

    /// One uniform in (0, 1).
    public mutating func nextUniform() -> Float {
        let v = philox4x32(seed: seed, stream: stream, counter: counter)
        counter &+= 1
        return RNG.unit(v[0])
    }

    /// A uniform integer in `0..<bound` (`bound > 0`).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "RNG.nextInt: bound \(bound) must be positive")
        let v = philox4x32(seed: seed, stream: stream, counter: counter)
        counter &+= 1
        let wide = (UInt64(v[0]) << 32) | UInt64(v[1])
        return Int(wide % UInt64(bound))
    }
}

extension Tensor {
    /// Entries N(mean, std²) drawn from `rng` (which advances).
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout RNG) -> Tensor {
        var t = Tensor(uninitializedShape: shape)
        t.withUnsafeMutableBufferPointer { rng.fillNormal($0, mean: mean, std: std) }
        return t
    }

    /// Entries U(low, high) drawn from `rng` (which advances).
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout RNG) -> Tensor {
        var t = Tensor(uninitializedShape: shape)
        t.withUnsafeMutableBufferPointer { rng.fillUniform($0, low: low, high: high) }
        return t
    }
}

/// `(sin 2πu, cos 2πu)` for u in (0, 1): with φ = 2π(u − ½) ∈ (−π, π) and x = φ/2, Taylor
/// polynomials of sin x and cos x on |x| ≤ π/2 (error < 1e-7), then the double-angle formulas;
/// sin 2πu = −sin φ and cos 2πu = −cos φ.
@inline(__always) func sinCos2Pi(_ u: Vec) -> (sin: Vec, cos: Vec) {
    let x = (u - 0.5) * Float.pi
    let x2 = x * x
    var s = Vec(repeating: 1.605_904_4e-10) // 1/13!
    s = s * x2 - 1.0 / 39_916_800
    s = s * x2 + 1.0 / 362_880
    s = s * x2 - 1.0 / 5040
    s = s * x2 + 1.0 / 120
    s = s * x2 - 1.0 / 6
    s = (s * x2 + 1) * x
    var c = Vec(repeating: -1.147_074_6e-11) // −1/14!
    c = c * x2 + 1.0 / 479_001_600
    c = c * x2 - 1.0 / 3_628_800
    c = c * x2 + 1.0 / 40320
    c = c * x2 - 1.0 / 720
    c = c * x2 + 1.0 / 24
    c = c * x2 - 0.5
    c = c * x2 + 1
    return (-2 * s * c, 2 * s * s - 1)
}
