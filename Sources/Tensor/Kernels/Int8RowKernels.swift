/// Per-row absmax int8 quantisation with stochastic rounding (ALGORITHMS.md §10).
///
/// Row r of `x` (length n) gets the scale `a_r = max|x_r| / 127` and codes
/// `q = clamp(floor(x / a_r + u), −127, 127)`, `u ∈ (0, 1)`, so `E[a_r · q] = x` exactly up to the
/// 16-bit resolution of `u` (a bias below `a_r · 2⁻¹⁷`). A zero row has scale 0 and codes 0; a row
/// holding inf or NaN gets a NaN scale, so it decodes to NaN instead of hiding the problem.
public enum Int8RowKernels {
    /// - Parameters:
    ///   - x: `rows · rowLength` floats
    ///   - scales: `rows` floats (out)
    ///   - codes: `rows · rowLength` codes (out)
    ///   - noise: element `i` (row-major) takes the 16-bit lane `i % 8` of Philox block
    ///     `noise.counter + i / 8` of `(noise.seed, noise.stream)`, whatever the thread split.
    public static func encode(_ x: UnsafePointer<Float>, scales: UnsafeMutablePointer<Float>, codes: UnsafeMutablePointer<Int8>,
                              rows: Int, rowLength n: Int, noise: RNG) {
        let src = UncheckedSendable(x), sp = UncheckedSendable(scales), cp = UncheckedSendable(codes)
        Parallel.forEachChunk(rows, minPerThread: Swift.max(1, (1 << 15) / Swift.max(n, 1))) { range in
            var u = [Float](repeating: 0, count: 16)
            for r in range {
                let row = src.value + r * n, out = cp.value + r * n
                let (absMax, finite) = absMaxAndFiniteness(row, n)
                guard finite else {
                    sp.value[r] = .nan
                    out.update(repeating: 0, count: n)
                    continue
                }
                sp.value[r] = absMax / 127
                let inv: Float = absMax > 0 ? 127 / absMax : 0
                let invV = Vec(repeating: inv)
                var j = 0
                u.withUnsafeMutableBufferPointer { ub in
                    while j < n {
                        let width = Swift.min(16, n - j)
                        fillUniforms(ub.baseAddress!, first: r * n + j, count: width, noise: noise)
                        if width == 16 {
                            let v = UnsafeRawPointer(row + j).loadUnaligned(as: Vec.self)
                            let uv = UnsafeRawPointer(ub.baseAddress!).loadUnaligned(as: Vec.self)
                            let q = clampCodes((v * invV + uv).rounded(.down))
                            UnsafeMutableRawPointer(out + j).storeBytes(of: SIMD16<Int8>(truncatingIfNeeded: SIMD16<Int32>(q)),
                                                                        as: SIMD16<Int8>.self)
                        } else {
                            for l in 0..<width {
                                let q = Swift.min(127, Swift.max(-127, (row[j + l] * inv + ub[l]).rounded(.down)))
                                out[j + l] = Int8(q)
                            }
                        }
                        j += width
                    }
                }
            }
        }
    }

    /// - Parameters: scales: `rows`; codes: `rows · rowLength`; out: `rows · rowLength` floats.
    public static func decode(scales: UnsafePointer<Float>, codes: UnsafePointer<Int8>, into out: UnsafeMutablePointer<Float>,
                              rows: Int, rowLength n: Int) {
        let sp = UncheckedSendable(scales), cp = UncheckedSendable(codes), dst = UncheckedSendable(out)
        Parallel.forEachChunk(rows, minPerThread: Swift.max(1, (1 << 16) / Swift.max(n, 1))) { range in
            for r in range {
                let a = sp.value[r], av = Vec(repeating: a)
                let row = cp.value + r * n, o = dst.value + r * n
                var j = 0
                while j + 16 <= n {
                    let q = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD16<Int8>.self)
                    UnsafeMutableRawPointer(o + j).storeBytes(of: av * Vec(SIMD16<Int32>(truncatingIfNeeded: q)), as: Vec.self)
                    j += 16
                }
                while j < n { o[j] = a * Float(row[j]); j += 1 }
            }
        }
    }

    /// `max|x|` of a row and whether every element is finite (inf·0 and NaN·0 are NaN).
    @inline(__always) static func absMaxAndFiniteness(_ x: UnsafePointer<Float>, _ n: Int) -> (Float, Bool) {
        var m = Vec(), probe = Vec()
        var j = 0
        while j + 16 <= n {
            let v = UnsafeRawPointer(x + j).loadUnaligned(as: Vec.self)
            let a = v.replacing(with: -v, where: v .< 0)
            m = m.replacing(with: a, where: a .> m)
            probe += v * 0
            j += 16
        }
        var mx = m.max(), p = probe.sum()
        while j < n { mx = Swift.max(mx, Swift.abs(x[j])); p += x[j] * 0; j += 1 }
        return (mx, p == 0)
    }

    /// `count ≤ 16` uniforms in (0, 1) for the elements `first ..< first + count`: 16 bits each,
    /// eight per Philox block, centred in their interval.
    @inline(__always) static func fillUniforms(_ u: UnsafeMutablePointer<Float>, first: Int, count: Int, noise: RNG) {
        if count == 16 && first & 7 == 0 {
            // Two whole blocks: lanes in element order are (w0 lo, w0 hi, w1 lo, ..., w3 hi).
            let a = philox4x32(seed: noise.seed, stream: noise.stream, counter: noise.counter &+ UInt64(first >> 3))
            let b = philox4x32(seed: noise.seed, stream: noise.stream, counter: noise.counter &+ UInt64(first >> 3 + 1))
            let words = SIMD16<UInt32>(a[0], a[0], a[1], a[1], a[2], a[2], a[3], a[3],
                                       b[0], b[0], b[1], b[1], b[2], b[2], b[3], b[3])
            let shifts = SIMD16<UInt32>(0, 16, 0, 16, 0, 16, 0, 16, 0, 16, 0, 16, 0, 16, 0, 16)
            let halves = (words &>> shifts) & 0xFFFF
            let v = (Vec(halves) + 0.5) * (1 / 65536)
            UnsafeMutableRawPointer(u).storeBytes(of: v, as: Vec.self)
            return
        }
        var block = -1
        var bits = SIMD4<UInt32>()
        for l in 0..<count {
            let e = first + l
            if e >> 3 != block {
                block = e >> 3
                bits = philox4x32(seed: noise.seed, stream: noise.stream, counter: noise.counter &+ UInt64(block))
            }
            let lane = e & 7, word = bits[lane >> 1]
            let half = lane & 1 == 0 ? word & 0xFFFF : word >> 16
            u[l] = (Float(half) + 0.5) * (1 / 65536)
        }
    }

    @inline(__always) static func clampCodes(_ q: Vec) -> Vec {
        q.replacing(with: 127, where: q .> 127).replacing(with: -127, where: q .< -127)
    }
}
