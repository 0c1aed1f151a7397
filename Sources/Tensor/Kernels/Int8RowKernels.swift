/// Per-row absmax int8 quantisation with stochastic rounding (ALGORITHMS.md §10).
///
/// Row r of `x` (length n) gets the scale `a_r = max|x_r| / 127` and codes
/// `q = clamp(floor(x / a_r + u), −127, 127)`, `u ∈ (0, 1)`, so `E[a_r · q] = x` up to the
/// 24-bit resolution of `u` (a bias below `a_r · 2⁻²⁵`). A zero row has scale 0 and codes 0; a row
/// holding inf or NaN gets a NaN scale, so it decodes to NaN instead of hiding the problem.
public enum Int8RowKernels {
    /// - Parameters:
    ///   - x: `rows · rowLength` floats
    ///   - scales: `rows` floats (out)
    ///   - codes: `rows · rowLength` codes (out)
    ///   - noise: row r draws its key from Philox block `noise.counter + r` of `(noise.seed,
    ///     noise.stream)`; element j of the row takes `u` from that key and j through murmur3's
    ///     32-bit finaliser (one Philox block per element would cost 6× the rest of the kernel).
    ///     The codes are therefore the same whatever the thread split.
    public static func encode(_ x: UnsafePointer<Float>, scales: UnsafeMutablePointer<Float>, codes: UnsafeMutablePointer<Int8>,
                              rows: Int, rowLength n: Int, noise: RNG) {
        let src = UncheckedSendable(x), sp = UncheckedSendable(scales), cp = UncheckedSendable(codes)
        Parallel.forEachChunk(rows, minPerThread: Swift.max(1, (1 << 15) / Swift.max(n, 1))) { range in
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
                let key = philox4x32(seed: noise.seed, stream: noise.stream, counter: noise.counter &+ UInt64(r))[0]
                quantizeRow(row, into: out, count: n, scale: inv, key: key)
            }
        }
    }

    /// `clamp(floor(x·inv + u_j), −127, 127)` with `u_j` from `(key, j)`; floor, clamp and the
    /// narrowing use float tricks the baseline SSE2 target vectorises (no libm floor call).
    @inline(__always) static func quantizeRow(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Int8>,
                                              count n: Int, scale inv: Float, key: UInt32) {
        // key + (j + lane)·φ, advanced by 16φ per block instead of multiplied out each time.
        let laneSteps = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) &* golden
        let invV = Vec(repeating: inv), magic = Vec(repeating: roundingMagic)
        let step = 16 &* golden
        var j = 0, base = key
        while j + 16 <= n {
            let u = uniforms(hashing: SIMD16<UInt32>(repeating: base) &+ laneSteps)
            base &+= step
            let v = load(x, j) * invV + u
            let nearest = (v + magic) - magic
            var q = nearest.replacing(with: nearest - 1, where: nearest .> v)
            q = q.replacing(with: 127, where: q .> 127).replacing(with: -127, where: q .< -127)
            // q + 1.5·2²³ holds q in the low mantissa bits: its low byte is q as two's complement.
            let bytes = SIMD16<UInt8>(truncatingIfNeeded: unsafeBitCast(q + magic, to: SIMD16<UInt32>.self))
            UnsafeMutableRawPointer(out + j).storeBytes(of: bytes, as: SIMD16<UInt8>.self)
            j += 16
        }
        while j < n {
            let u = uniforms(hashing: SIMD16<UInt32>(repeating: key &+ UInt32(truncatingIfNeeded: j) &* golden))[0]
            out[j] = Int8(Swift.min(127, Swift.max(-127, (x[j] * inv + u).rounded(.down))))
            j += 1
        }
    }

    /// 1.5·2²³: adding and subtracting it rounds a float of magnitude < 2²² to an integer.
    static let roundingMagic: Float = 12_582_912

    /// 2³² / golden ratio: element j of a row is hashed from `key + j · golden`.
    static let golden: UInt32 = 0x9E37_79B9

    /// Uniforms in (0, 1), 24 bits each, centred in their interval: murmur3's finaliser of `h`
    /// (`key + index · golden`).
    @inline(__always) static func uniforms(hashing h0: SIMD16<UInt32>) -> Vec {
        var h = h0
        h ^= h &>> 16; h &*= 0x85EB_CA6B
        h ^= h &>> 13; h &*= 0xC2B2_AE35
        h ^= h &>> 16
        return Vec(SIMD16<Int32>(truncatingIfNeeded: h &>> 8)) * 0x1p-24 + 0x1p-25
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
                    store(av * Vec(SIMD16<Int32>(truncatingIfNeeded: q)), o, j)
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
            let v = load(x, j)
            let a = v.replacing(with: -v, where: v .< 0)
            m = m.replacing(with: a, where: a .> m)
            probe += v * 0
            j += 16
        }
        var mx = m.max(), p = probe.sum()
        while j < n { mx = Swift.max(mx, Swift.abs(x[j])); p += x[j] * 0; j += 1 }
        return (mx, p == 0)
    }
}
