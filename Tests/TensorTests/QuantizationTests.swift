import Foundation
import Tensor
import XCTest

/// The dynamic 8-bit code and the block-wise encoding of ALGORITHMS.md §13.
final class QuantizationTests: XCTestCase {
    // MARK: code tables

    func testSignedTableHas256SortedValuesWithTheSpecifiedLayout() {
        let v = DynamicCode.signed.values
        XCTAssertEqual(v.count, 256)
        XCTAssertEqual(v, v.sorted())
        XCTAssertEqual(Set(v).count, 256, "distinct")
        XCTAssertEqual(v.filter { $0 < 0 }.count, 127)
        XCTAssertEqual(v.filter { $0 > 0 }.count, 128, "127 midpoints and 1")
        XCTAssertEqual(v.first(where: { $0 == 0 }), 0)
        XCTAssertEqual(v.last, 1)
        // Both signs of every midpoint: the negatives mirror the positives below 1.
        XCTAssertEqual(v.filter { $0 < 0 }.map { -$0 }.sorted(), v.filter { $0 > 0 && $0 < 1 })
        // Decade i (values in [0.1, 1]·10^(i−6)) holds the 2^i midpoints of 2^i + 1 points.
        for i in 0...6 {
            let lo = 0.1 * Foundation.pow(10, Double(i - 6)), hi = Foundation.pow(10, Double(i - 6))
            XCTAssertEqual(v.filter { Double($0) > lo && Double($0) < hi }.count, 1 << i, "decade \(i)")
        }
        // Hand-computed ends: the smallest midpoint 0.55·10⁻⁶ and the largest 0.1 + 0.9·63.5/64.
        XCTAssertEqual(v[128], 0.55e-6, accuracy: 1e-12)
        XCTAssertEqual(v[254], Float(0.1 + 0.9 * 63.5 / 64), accuracy: 1e-7)
        XCTAssertEqual(v[0], -Float(0.1 + 0.9 * 63.5 / 64), accuracy: 1e-7)
    }

    func testUnsignedTableHas256SortedValuesWithTheSpecifiedLayout() {
        let v = DynamicCode.unsigned.values
        XCTAssertEqual(v.count, 256)
        XCTAssertEqual(v, v.sorted())
        XCTAssertEqual(Set(v).count, 256)
        XCTAssertEqual(v.first, 0)
        XCTAssertEqual(v.last, 1)
        XCTAssertTrue(v.allSatisfy { $0 >= 0 })
        for i in 0...6 {
            let lo = 0.1 * Foundation.pow(10, Double(i - 6)), hi = Foundation.pow(10, Double(i - 6))
            XCTAssertEqual(v.filter { Double($0) > lo && Double($0) < hi }.count, 2 << i, "decade \(i)")
        }
        // 3 points on [0.1, 1] have midpoints 0.325 and 0.775; at the top, 129 points give 1 − 0.9/256.
        XCTAssertEqual(v[1], 0.325e-6, accuracy: 1e-12)
        XCTAssertEqual(v[2], 0.775e-6, accuracy: 1e-12)
        XCTAssertEqual(v[254], Float(1 - 0.9 / 256), accuracy: 1e-7)
    }

    /// The index of the nearest value by exhaustive search.
    private func nearest(_ x: Float, in values: [Float]) -> Int {
        var best = 0
        for (i, c) in values.enumerated() where Swift.abs(x - c) < Swift.abs(x - values[best]) { best = i }
        return best
    }

    func testIndexIsTheNearestValue() {
        var rng = RNG(seed: 3)
        for code in [DynamicCode.signed, .unsigned] {
            var samples: [Float] = [0, 1, -1, 1e-9, -1e-9, 0.5, -0.5, 3e-7, 0.1, 0.999, -0.9999, 1.5, -1.5]
            for _ in 0..<4000 {
                // Log-uniform magnitudes over the code's seven decades and beyond.
                let magnitude = Float(Foundation.pow(10, Double(rng.nextUniform()) * 8 - 8))
                samples.append(rng.nextUniform() < 0.5 ? -magnitude : magnitude)
            }
            samples += code.values                                        // every code maps to itself
            samples += zip(code.values, code.values.dropFirst()).map { ($0 + $1) / 2 } // the thresholds
            for x in samples {
                let got = Int(code.index(of: x)), want = nearest(x, in: code.values)
                let dg = Swift.abs(x - code.values[got]), dw = Swift.abs(x - code.values[want])
                // Ties (x on a threshold) may go either way by a rounding of the midpoint.
                XCTAssertLessThanOrEqual(dg, dw + 4 * Swift.abs(x).ulp, "x = \(x) (\(code.isSigned ? "signed" : "unsigned")): index \(got), nearest \(want)")
            }
            for (i, c) in code.values.enumerated() { XCTAssertEqual(Int(code.index(of: c)), i, "code \(c)") }
        }
    }

    func testOutOfRangeAndNonFiniteInputsTakeTheExtremeValues() {
        let s = DynamicCode.signed, u = DynamicCode.unsigned
        for x: Float in [1.5, 1e30, .infinity, .nan, -.nan] {
            XCTAssertEqual(s.index(of: x), 255, "signed \(x)")
            XCTAssertEqual(u.index(of: x), 255, "unsigned \(x)")
        }
        for x: Float in [-1.5, -1e30, -.infinity] {
            XCTAssertEqual(s.index(of: x), 0, "signed \(x): the most negative value, −(1 − 0.9/128)")
            XCTAssertEqual(u.index(of: x), 0, "unsigned \(x): 0")
        }
        XCTAssertEqual(Int(s.index(of: -0.0)), 127, "−0 is 0")
        XCTAssertEqual(u.index(of: -1e-9), 0)
    }

    // MARK: block-wise encoding

    private func values(_ n: Int, seed: UInt64, signed: Bool) -> Tensor {
        var rng = RNG(seed: seed)
        let t = Tensor.randomNormal([n], rng: &rng)
        return signed ? t : t.square()
    }

    func testRoundTripErrorStaysWithinTheCodeResolution() {
        let n = 3 * BlockQuantized.blockSize + 700 // a partial last block
        for signed in [true, false] {
            let x = values(n, seed: signed ? 1 : 2, signed: signed)
            let q = BlockQuantized(quantizing: x, signed: signed)
            XCTAssertEqual(q.blockCount, 4)
            XCTAssertEqual(q.shape, [n])
            let y = q.dequantized()
            let code = q.code.values
            for b in 0..<q.blockCount {
                let r = q.range(ofBlock: b)
                let a = r.map { Swift.abs(x.pointer[$0]) }.max()!
                XCTAssertEqual(q.absmax.pointer[b], a, "block \(b) keeps its absmax")
                q.codes.withUnsafeBufferPointer { c in
                    for i in r {
                        XCTAssertEqual(y.pointer[i].bitPattern, (code[Int(c[i])] * a).bitPattern, "element \(i) decodes to its code's value times the absmax")
                    }
                }
                for i in r {
                    let u = x.pointer[i] / a
                    // The decoded value is a nearest code (times absmax) ...
                    let want = code[nearest(u, in: code)] * a
                    XCTAssertLessThanOrEqual(Swift.abs(y.pointer[i] - x.pointer[i]),
                                             Swift.abs(want - x.pointer[i]) * (1 + 1e-5) + a * 1e-7, "element \(i)")
                    // ... so in the top decade the error is at most half its spacing (0.9/64 signed, 0.9/128 unsigned).
                    if Swift.abs(u) >= 0.1 {
                        XCTAssertLessThanOrEqual(Swift.abs(y.pointer[i] - x.pointer[i]), a * (signed ? 0.9 / 128 : 0.9 / 256) * 1.0001,
                                                 "element \(i)")
                    }
                }
            }
        }
    }

    func testZeroAndNonFiniteBlocks() {
        var v = [Float](repeating: 0, count: 2 * BlockQuantized.blockSize)
        v[BlockQuantized.blockSize + 5] = .nan
        let q = BlockQuantized(quantizing: Tensor(v), signed: true)
        XCTAssertEqual(q.absmax.pointer[0], 0)
        XCTAssertEqual(q.dequantized().scalars.prefix(BlockQuantized.blockSize).allSatisfy { $0 == 0 }, true)
        XCTAssertTrue(q.absmax.pointer[1].isNaN, "a NaN stays visible instead of becoming a finite code")
        XCTAssertTrue(q.dequantized().scalars.suffix(BlockQuantized.blockSize).allSatisfy(\.isNaN))
    }

    func testUpdateBlocksSeesDecodedValuesAndReencodes() {
        let n = 2 * BlockQuantized.blockSize + 10
        let x = values(n, seed: 4, signed: true)
        var q = BlockQuantized(quantizing: x, signed: true)
        let before = q.dequantized()
        q.updateBlocks { _, r, s in
            for i in 0..<r.count {
                XCTAssertEqual(s[i], before.pointer[r.lowerBound + i]) // what decode gives
                s[i] *= 2
            }
        }
        // Each block is encoded again with the absmax of its new values.
        let after = q.dequantized()
        for b in 0..<q.blockCount {
            let r = q.range(ofBlock: b)
            let a = r.map { 2 * Swift.abs(before.pointer[$0]) }.max()!
            XCTAssertEqual(q.absmax.pointer[b], a, "block \(b)")
            for i in r { XCTAssertEqual(after.pointer[i], 2 * before.pointer[i], accuracy: a * 0.9 / 128 * 1.001, "element \(i)") }
        }
    }

    func testBytesAreCountedAtTheirRealSize() {
        let before = Memory.stats.live(.optimizer)
        do {
            let q = BlockQuantized(zeros: [100, 50], signed: false, category: .optimizer)
            XCTAssertEqual(Memory.stats.live(.optimizer) - before, 5000 + 3 * 4, "one byte per value plus one float per block")
            XCTAssertEqual(q.bytes, 5012)
            XCTAssertEqual(q.dequantized().scalars, [Float](repeating: 0, count: 5000))
        }
        XCTAssertEqual(Memory.stats.live(.optimizer), before)
    }

    func testByteTensorIsCopyOnWrite() {
        let a = ByteTensor([1, 2, 3, 4], shape: [2, 2])
        var b = a
        b.withUnsafeMutableBufferPointer { $0[0] = 9 }
        XCTAssertEqual(a.values, [1, 2, 3, 4])
        XCTAssertEqual(b.values, [9, 2, 3, 4])
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(a, a.copy())
        XCTAssertEqual(a.reshaped([4]).shape, [4])
    }
}
