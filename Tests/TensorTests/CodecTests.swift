import Tensor
import XCTest

/// The saved-tensor codecs of ALGORITHMS.md §10: bf16 rounding, int8 per-row stochastic rounding.
final class CodecTests: XCTestCase {
    func sample(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
        var rng = RNG(seed: seed)
        return Tensor.randomNormal(shape, std: std, rng: &rng)
    }

    func testBFloat16RoundsToNearestEvenWithinTwoToTheMinusEight() {
        // Rows of very different magnitudes, and a length that is not a multiple of 16.
        var x = sample([3, 37], seed: 1)
        x.withUnsafeMutableBufferPointer { p in for i in 37..<74 { p[i] *= 1e-20 }; for i in 74..<111 { p[i] *= 1e20 } }
        let e = x.encoded(.bf16, noise: RNG(seed: 0))
        XCTAssertEqual(e.bytes, (111 * 2 + 3) / 4 * 4)
        let y = e.decoded()
        for i in 0..<x.count {
            let a = x.pointer[i], b = y.pointer[i]
            XCTAssertLessThanOrEqual(abs(a - b), abs(a) * 0x1p-8, "element \(i): \(a) → \(b)")
            XCTAssertEqual(b.bitPattern & 0xFFFF, 0, "decoded values are bf16")
        }
        // Ties go to even: 1 + 2⁻⁸ lies halfway between 1 and 1 + 2⁻⁷.
        let ties = Tensor([1 + 0x1p-8, 1 + 3 * 0x1p-8, 2, -0.0, Float.leastNonzeroMagnitude])
        XCTAssertEqual(ties.encoded(.bf16, noise: RNG(seed: 0)).decoded().scalars, [1, 1 + 4 * 0x1p-8, 2, -0.0, 0])
    }

    func testBFloat16KeepsSpecialValues() {
        // 31 elements: the SIMD path takes the first 16, the scalar path the rest.
        var values: [Float] = [.nan, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                               Float(bitPattern: 0x7F80_0001), 1]
        values += values + values + values + Array(repeating: 0, count: 3)
        let y = Tensor(values).encoded(.bf16, noise: RNG(seed: 0)).decoded().scalars
        for i in stride(from: 0, to: 28, by: 7) {
            XCTAssertTrue(y[i].isNaN); XCTAssertTrue(y[i + 5].isNaN, "a signalling NaN stays NaN")
            XCTAssertEqual(y[i + 1], .infinity); XCTAssertEqual(y[i + 2], -.infinity)
            XCTAssertEqual(y[i + 3], .infinity, "rounds past the largest bf16"); XCTAssertEqual(y[i + 4], -.infinity)
            XCTAssertEqual(y[i + 6], 1)
        }
    }

    func testInt8ErrorBelowOneStepAndBytes() {
        let rows = 5, n = 41
        let x = sample([rows, n], seed: 2, std: 3)
        let e = x.encoded(.int8, noise: RNG(seed: 7, stream: 3))
        XCTAssertEqual(e.bytes, (rows * n + 4 * rows + 3) / 4 * 4)
        XCTAssertEqual(TensorCodec.int8.encodedBytes(count: rows * n, rows: rows), rows * n + 4 * rows)
        let y = e.decoded()
        for r in 0..<rows {
            let row = Array(x.scalars[r * n..<(r + 1) * n])
            let a = row.map(abs).max()! / 127
            for j in 0..<n {
                let d = abs(row[j] - y.pointer[r * n + j])
                XCTAssertLessThan(d, a * 1.0001, "row \(r) element \(j)")
            }
            // The largest element is a code of ±127 exactly.
            let jMax = row.indices.max { abs(row[$0]) < abs(row[$1]) }!
            XCTAssertEqual(abs(y.pointer[r * n + jMax]), 127 * a, accuracy: 1e-6 * abs(row[jMax]))
        }
    }

    func testInt8ZeroAndNonFiniteRows() {
        var x = sample([3, 20], seed: 3)
        x.withUnsafeMutableBufferPointer { p in
            for j in 0..<20 { p[j] = 0 }
            p[45] = .infinity
        }
        let y = x.encoded(.int8, noise: RNG(seed: 1)).decoded()
        XCTAssertEqual(Array(y.scalars[0..<20]), [Float](repeating: 0, count: 20))
        XCTAssertTrue(y.scalars[20..<40].allSatisfy(\.isFinite))
        XCTAssertTrue(y.scalars[40..<60].allSatisfy(\.isNaN), "a row holding inf decodes to NaN, not to a silent value")
    }

    /// Stochastic rounding is unbiased: the mean of many decodes converges to x, while
    /// round-down (u = 0) would be off by half a step on average.
    func testInt8StochasticRoundingIsUnbiased() {
        let n = 64, draws = 2000
        let x = sample([1, n], seed: 4)
        let a = Double(x.scalars.map(abs).max()! / 127)
        var sum = [Double](repeating: 0, count: n)
        for d in 0..<draws {
            let y = x.encoded(.int8, noise: RNG(seed: 11, stream: 5, counter: UInt64(d) << 32)).decoded()
            for j in 0..<n { sum[j] += Double(y.pointer[j]) }
        }
        // Per element the decode error is at most a with variance ≤ a²/4: the mean's error has
        // standard deviation ≤ a/(2√draws) ≈ 0.011a; 6σ is a bound no unbiased rounding misses.
        var worst = 0.0, meanSigned = 0.0
        for j in 0..<n {
            let err = sum[j] / Double(draws) - Double(x.pointer[j])
            worst = max(worst, abs(err))
            meanSigned += err / Double(n)
        }
        XCTAssertLessThan(worst, 6 * a / (2 * Double(draws).squareRoot()))
        XCTAssertLessThan(abs(meanSigned), 0.02 * a, "round-down would give about −0.5a")
    }

    func testInt8NoiseIsKeyedAndIndependentOfThreads() {
        let x = sample([64, 48], seed: 5)
        let noise = RNG(seed: 3, stream: 9, counter: 5 << 32)
        let before = Parallel.threads
        defer { Parallel.setThreads(before) }
        Parallel.setThreads(1)
        let one = x.encoded(.int8, noise: noise).decoded()
        Parallel.setThreads(2)
        let two = x.encoded(.int8, noise: noise).decoded()
        XCTAssertEqual(one.scalars.map(\.bitPattern), two.scalars.map(\.bitPattern))
        let other = x.encoded(.int8, noise: RNG(seed: 3, stream: 10, counter: 5 << 32)).decoded()
        XCTAssertNotEqual(one.scalars, other.scalars, "another stream rounds differently")
    }

    func testEncodingsAreCountedUnderTheirCategory() {
        let x = sample([16, 64], seed: 6)
        let before = Memory.stats
        let e = x.encoded(.int8, noise: RNG(seed: 0), category: .activation)
        XCTAssertEqual(Memory.stats.live(.activation) - before.live(.activation), e.bytes)
        let d = e.decoded(category: .workspace)
        XCTAssertEqual(Memory.stats.live(.workspace) - before.live(.workspace), x.bytes)
        withExtendedLifetime((e, d)) {}
    }
}
