/// Round-to-nearest-even conversion between fp32 and bfloat16 (the upper 16 bits of an fp32
/// pattern). NaN stays NaN (a quiet NaN of the same sign); values that round past the largest
/// bfloat16 become ±inf, as IEEE rounding does.
public enum BFloat16Kernels {
    /// - Parameters: x: `count` floats; out: `count` bfloat16 patterns.
    public static func encode(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<UInt16>, count: Int) {
        let src = UncheckedSendable(x), dst = UncheckedSendable(out)
        Parallel.forEachChunk(count, minPerThread: 1 << 18) { r in
            // A plain integer loop: the compiler vectorises it, unlike SIMD16<UInt16> conversions.
            let bits = UnsafeRawPointer(src.value).assumingMemoryBound(to: UInt32.self)
            for i in r {
                let b = bits[i]
                let isNaN = b & 0x7FFF_FFFF > 0x7F80_0000
                dst.value[i] = UInt16(truncatingIfNeeded: isNaN ? (b >> 16) | 0x40 : (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
            }
        }
    }

    /// - Parameters: h: `count` bfloat16 patterns; out: `count` floats.
    public static func decode(_ h: UnsafePointer<UInt16>, into out: UnsafeMutablePointer<Float>, count: Int) {
        let src = UncheckedSendable(h), dst = UncheckedSendable(out)
        Parallel.forEachChunk(count, minPerThread: 1 << 18) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let v = UnsafeRawPointer(src.value + i).loadUnaligned(as: SIMD16<UInt16>.self)
                let bits = SIMD16<UInt32>(truncatingIfNeeded: v) &<< 16
                store(unsafeBitCast(bits, to: Vec.self), dst.value, i)
                i += 16
            }
            while i < r.upperBound { dst.value[i] = Float(bitPattern: UInt32(src.value[i]) << 16); i += 1 }
        }
    }
}
