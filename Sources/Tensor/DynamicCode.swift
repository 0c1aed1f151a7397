import Foundation

/// The dynamic 8-bit code of Dettmers et al. (ALGORITHMS.md §13): 256 sorted values in [−1, 1],
/// dense near 0 and spread over seven decades, so one byte keeps a value's relative precision
/// whatever its magnitude within a block.
///
/// - Signed (Adam's first moment): for i = 0…6, the 2ⁱ midpoints of 2ⁱ + 1 points evenly spaced
///   on [0.1, 1], times 10^(i−6), with both signs; plus 0 and 1 (127 + 127 + 2 values).
/// - Unsigned (the second moment): for i = 0…6, the 2^(i+1) midpoints of 2^(i+1) + 1 points on
///   [0.1, 1], times 10^(i−6); plus 0 and 1 (254 + 2 values).
///
/// `index(of:)` returns the index of the nearest value (ties go to the larger magnitude). It is a
/// binary search done by table: the upper 16 bits of |x| (sign, exponent, 7 mantissa bits) pick a
/// bucket, the table gives the answer for the bucket's lower end, and at most one decision
/// threshold (a midpoint between neighbouring values) lies inside a bucket — checked when the
/// table is built — so one comparison finishes the search.
public struct DynamicCode: Sendable {
    /// The 256 values, ascending.
    public let values: [Float]
    public let isSigned: Bool
    /// The midpoints between neighbouring values ≥ 0 (`values[zeroIndex...]`), then +inf (so the
    /// search never needs a bounds test).
    let thresholds: [Float]
    /// Index of 0 in `values` (127 signed, 0 unsigned).
    let zeroIndex: Int
    /// Largest magnitude index a negative value may take (signed: 127, negatives lack the code 1;
    /// unsigned: 0, negatives clamp to 0).
    let largestNegative: Int
    /// `bucketIndex[b]`: the magnitude index nearest to the float with bit pattern `b << 16`.
    let bucketIndex: [UInt8]

    public static let signed = DynamicCode(signed: true)
    public static let unsigned = DynamicCode(signed: false)

    /// The values of the code as ALGORITHMS.md §13 defines them (computed in Double, rounded once).
    public static func table(signed: Bool) -> [Float] {
        var v: [Double] = [0, 1]
        for i in 0...6 {
            let intervals = signed ? 1 << i : 1 << (i + 1)
            let scale = Foundation.pow(10, Double(i - 6))
            for j in 0..<intervals {
                let midpoint = 0.1 + 0.9 * (Double(j) + 0.5) / Double(intervals)
                v.append(midpoint * scale)
                if signed { v.append(-midpoint * scale) }
            }
        }
        return v.map(Float.init).sorted()
    }

    init(signed: Bool) {
        values = DynamicCode.table(signed: signed)
        precondition(values.count == 256 && Set(values).count == 256, "DynamicCode: the table must hold 256 distinct values")
        isSigned = signed
        zeroIndex = values.firstIndex(of: 0)!
        let magnitudes = Array(values[zeroIndex...])
        let midpoints = (0..<(magnitudes.count - 1)).map { (magnitudes[$0] + magnitudes[$0 + 1]) / 2 }
        thresholds = midpoints + [.infinity]
        largestNegative = signed ? zeroIndex : 0
        let top = Int(Float(1).bitPattern >> 16)
        var table = [UInt8](repeating: 0, count: top + 1)
        var k = 0
        for b in 0...top {
            let lo = Float(bitPattern: UInt32(b) << 16)
            while k < midpoints.count && midpoints[k] <= lo { k += 1 }
            table[b] = UInt8(k)
            if b < top {
                let next = Float(bitPattern: UInt32(b + 1) << 16)
                let inside = midpoints[k...].prefix { $0 < next }.count
                precondition(inside <= 1, "DynamicCode: \(inside) thresholds in the bucket at \(lo)")
            }
        }
        bucketIndex = table
    }

    /// The index in `values` of the value nearest to `x` (x is expected in [−1, 1]; beyond it the
    /// extreme value is taken, NaN takes the largest magnitude).
    public func index(of x: Float) -> UInt8 { withLookup { $0.index(of: x) } }

    /// Runs `body` with the search tables as raw pointers (hoisted out of encoding loops).
    @inline(__always) func withLookup<R>(_ body: (Lookup) -> R) -> R {
        bucketIndex.withUnsafeBufferPointer { buckets in
            thresholds.withUnsafeBufferPointer { t in
                body(Lookup(buckets: buckets.baseAddress!, lastBucket: buckets.count - 1, thresholds: t.baseAddress!,
                            zeroIndex: zeroIndex, largestNegative: largestNegative))
            }
        }
    }

    /// The search of `index(of:)` over raw tables, without branches (the signs and the threshold
    /// tests of optimizer states are unpredictable; mispredictions cost more than the search).
    struct Lookup {
        let buckets: UnsafePointer<UInt8>
        let lastBucket: Int
        let thresholds: UnsafePointer<Float>
        let zeroIndex: Int
        let largestNegative: Int

        @inline(__always) func index(of x: Float) -> UInt8 {
            let bits = x.bitPattern
            let magnitude = Float(bitPattern: bits & 0x7FFF_FFFF)
            let b = Int(truncatingIfNeeded: (bits & 0x7FFF_FFFF) >> 16)
            var k = Int(buckets[b < lastBucket ? b : lastBucket])
            k &+= magnitude >= thresholds[k] ? 1 : 0
            // Negative: zeroIndex − min(k, largestNegative); otherwise zeroIndex + k.
            let negative = Int(truncatingIfNeeded: bits >> 31)
            let capped = k < largestNegative ? k : largestNegative
            return UInt8(truncatingIfNeeded: zeroIndex &+ k &- negative &* (k &+ capped))
        }
    }
}
