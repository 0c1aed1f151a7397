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
/// `index(of:)` returns the index of the nearest value (ties go to the larger value). It is a
/// binary search done by table: the upper 16 bits of x (sign, exponent, 7 mantissa bits) pick a
/// bucket, the table gives the answer for the bucket's lowest value, and at most one decision
/// threshold (a midpoint between neighbouring values) lies inside a bucket — checked when the
/// table is built — so one comparison finishes the search, with no sign handling.
public struct DynamicCode: Sendable {
    /// The 256 values, ascending.
    public let values: [Float]
    public let isSigned: Bool
    /// `thresholds[k]`: the midpoint between `values[k]` and `values[k + 1]`; the last entry is
    /// NaN, which no comparison passes (x = +inf would otherwise step past the last value).
    let thresholds: [Float]
    /// Index of 0 in `values` (127 signed, 0 unsigned).
    let zeroIndex: Int
    /// `bucketIndex[b]`: the index nearest to the lowest float whose upper 16 bits are `b`
    /// (NaN patterns: 255; a NaN whose bits share the ±inf bucket takes that bucket's index, which
    /// encoding never meets: it checks finiteness first).
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
        let values = DynamicCode.table(signed: signed)
        precondition(values.count == 256 && Set(values).count == 256, "DynamicCode: the table must hold 256 distinct values")
        self.values = values
        isSigned = signed
        zeroIndex = values.firstIndex(of: 0)!
        let midpoints = (0..<255).map { (values[$0] + values[$0 + 1]) / 2 }
        thresholds = midpoints + [.nan]
        var table = [UInt8](repeating: 255, count: 1 << 16)
        for b in 0..<(1 << 16) {
            // The ±inf buckets hold ±inf and NaNs: their non-NaN end decides.
            let ends = [Float(bitPattern: UInt32(b) << 16), Float(bitPattern: UInt32(b) << 16 | 0xFFFF)].filter { !$0.isNaN }
            guard let lo = ends.min(), let hi = ends.max() else { continue }
            var below = 0, above = midpoints.count // binary search: midpoints[..<below] ≤ lo
            while below < above { let mid = (below + above) / 2; if midpoints[mid] <= lo { below = mid + 1 } else { above = mid } }
            table[b] = UInt8(below)
            let inside = midpoints[below...].prefix { $0 <= hi }.count
            precondition(inside <= 1, "DynamicCode: \(inside) thresholds in the bucket [\(lo), \(hi)]")
        }
        bucketIndex = table
    }

    /// The index in `values` of the value nearest to `x` (x is expected in [−1, 1]; beyond it the
    /// extreme value is taken, NaN takes the largest value).
    public func index(of x: Float) -> UInt8 { withLookup { $0.index(of: x) } }

    /// Runs `body` with the search tables as raw pointers (hoisted out of encoding loops).
    @inline(__always) func withLookup<R>(_ body: (Lookup) -> R) -> R {
        bucketIndex.withUnsafeBufferPointer { buckets in
            thresholds.withUnsafeBufferPointer { t in body(Lookup(buckets: buckets.baseAddress!, thresholds: t.baseAddress!)) }
        }
    }

    /// The search of `index(of:)` over raw tables, without branches (the threshold tests of
    /// optimizer states are unpredictable; mispredictions would cost more than the search).
    struct Lookup {
        let buckets: UnsafePointer<UInt8>
        let thresholds: UnsafePointer<Float>

        @inline(__always) func index(of x: Float) -> UInt8 {
            let k = Int(buckets[Int(truncatingIfNeeded: x.bitPattern >> 16)])
            return UInt8(truncatingIfNeeded: k &+ (x >= thresholds[k] ? 1 : 0))
        }
    }
}
