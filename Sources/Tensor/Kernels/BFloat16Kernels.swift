/// Round-to-nearest-even conversion between fp32 and bfloat16 (the upper 16 bits of an fp32
/// pattern). NaN stays NaN (a quiet NaN of the same sign); values that round past the largest
/// bfloat16 become ±inf, as IEEE rounding does.
public enum BFloat16Kernels {
    /// - Parameters: x: `count` floats; out: `count` bfloat16 patterns.
    public static func encode(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<UInt16>, count: Int) {
        let src = UncheckedSendable(x), dst = UncheckedSendable(out)
        Parallel.forEachChunk(count, minPerThread: 1 << 18) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let v = UnsafeRawPointer(src.value + i).loadUnaligned(as: Vec.self)
                let h = round(unsafeBitCast(v, to: SIMD16<UInt32>.self), isNaN: v .!= v)
                UnsafeMutableRawPointer(dst.value + i).storeBytes(of: SIMD16<UInt16>(truncatingIfNeeded: h), as: SIMD16<UInt16>.self)
                i += 16
            }
            while i < r.upperBound {
                let v = src.value[i]
                dst.value[i] = UInt16(truncatingIfNeeded: v.isNaN ? (v.bitPattern >> 16) | 0x40 : roundScalar(v.bitPattern))
                i += 1
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
                UnsafeMutableRawPointer(dst.value + i).storeBytes(of: unsafeBitCast(bits, to: Vec.self), as: Vec.self)
                i += 16
            }
            while i < r.upperBound { dst.value[i] = Float(bitPattern: UInt32(src.value[i]) << 16); i += 1 }
        }
    }

    /// Upper 16 bits of `bits` rounded to nearest, ties to even; NaN lanes keep their upper half
    /// with the quiet bit set (rounding could carry a NaN's mantissa into an infinity).
    @inline(__always) static func round(_ bits: SIMD16<UInt32>, isNaN: SIMDMask<SIMD16<Int32>>) -> SIMD16<UInt32> {
        let rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
        let quiet = (bits &>> 16) | 0x40
        return rounded.replacing(with: quiet, where: isNaN)
    }

    @inline(__always) static func roundScalar(_ bits: UInt32) -> UInt32 {
        (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16
    }
}
