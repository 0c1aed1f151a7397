import Tensor
import XCTest

/// Philox RNG: reproducibility keyed by (seed, stream, counter) and distribution moments.
final class RandomTests: XCTestCase {
    func testSameKeyGivesIdenticalDraws() {
        var r1 = RNG(seed: 42, stream: 3, counter: 7), r2 = RNG(seed: 42, stream: 3, counter: 7)
        XCTAssertEqual(Tensor.randomNormal([1001], rng: &r1).scalars, Tensor.randomNormal([1001], rng: &r2).scalars)
        XCTAssertEqual(Tensor.randomUniform([33], rng: &r1).scalars, Tensor.randomUniform([33], rng: &r2).scalars)
        XCTAssertEqual(r1, r2)
        XCTAssertEqual(philox4x32(seed: 1, stream: 2, counter: 3), philox4x32(seed: 1, stream: 2, counter: 3))
    }

    func testStreamsSeedsAndCountersDiffer() {
        var a = RNG(seed: 42, stream: 0), b = RNG(seed: 42, stream: 1), c = RNG(seed: 43, stream: 0)
        let x = Tensor.randomNormal([64], rng: &a).scalars
        XCTAssertNotEqual(x, Tensor.randomNormal([64], rng: &b).scalars)
        XCTAssertNotEqual(x, Tensor.randomNormal([64], rng: &c).scalars)
        XCTAssertNotEqual(x, Tensor.randomNormal([64], rng: &a).scalars, "the second draw continues the stream")
        XCTAssertEqual(RNG(seed: 42, stream: 9, counter: 5).derived(stream: 1), RNG(seed: 42, stream: 1, counter: 0))
    }

    func testCounterAdvancesByOnePerFourValues() {
        var r = RNG(seed: 1)
        _ = Tensor.randomUniform([10], rng: &r)
        XCTAssertEqual(r.counter, 3)
        _ = Tensor.randomNormal([4], rng: &r)
        XCTAssertEqual(r.counter, 4)
        _ = r.nextUniform()
        XCTAssertEqual(r.counter, 5)
        _ = r.nextInt(below: 10)
        XCTAssertEqual(r.counter, 6)
    }

    func testDrawingInPiecesMatchesOneDraw() {
        // Four values per counter: drawing 8 then 8 equals drawing 16 (block-aligned pieces).
        var whole = RNG(seed: 5), pieces = RNG(seed: 5)
        let all = Tensor.randomUniform([16], rng: &whole).scalars
        let p = Tensor.randomUniform([8], rng: &pieces).scalars + Tensor.randomUniform([8], rng: &pieces).scalars
        XCTAssertEqual(all, p)
        // A restored (seed, stream, counter) regenerates a draw made later in the stream.
        var later = RNG(seed: 5, counter: 2)
        XCTAssertEqual(Tensor.randomUniform([8], rng: &later).scalars, Array(all[8...]))
    }

    /// The 16-lane Box–Muller path (full runs of 8 blocks) and the scalar tail compute the same
    /// function of the block's uniforms: element i of a long draw equals the same element drawn
    /// alone through the scalar path (counter positioned at its block), to 2e-6 relative.
    func testVectorAndScalarNormalPathsAgree() {
        var whole = RNG(seed: 77)
        let all = Tensor.randomNormal([4096], rng: &whole).scalars
        for i in Swift.stride(from: 0, to: 4096, by: 37) {
            var single = RNG(seed: 77, counter: UInt64(i / 4))
            let four = Tensor.randomNormal([4], rng: &single).scalars
            XCTAssertEqual(all[i], four[i % 4], accuracy: 2e-6 * max(1, abs(four[i % 4])), "element \(i)")
        }
    }

    /// ~1M samples: the standard error of the mean is 1e-3 and of the variance ≈ 1.4e-3 for
    /// N(0, 1); tolerances are 5 standard errors.
    func testNormalMoments() {
        var r = RNG(seed: 2024)
        let t = Tensor.randomNormal([1 << 20], mean: 1.5, std: 2, rng: &r)
        let x = t.scalars.map(Double.init)
        let n = Double(x.count)
        let mean = x.reduce(0, +) / n
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
        let skew = x.reduce(0) { $0 + pow(($1 - mean) / 2, 3) } / n
        let kurt = x.reduce(0) { $0 + pow(($1 - mean) / 2, 4) } / n
        XCTAssertEqual(mean, 1.5, accuracy: 5 * 2e-3)
        XCTAssertEqual(variance, 4, accuracy: 5 * 4 * 1.4e-3)
        XCTAssertEqual(skew, 0, accuracy: 0.015)
        XCTAssertEqual(kurt, 3, accuracy: 0.04)
        XCTAssertTrue(x.allSatisfy(\.isFinite))
    }

    /// U(-1, 3): mean 1, variance 16/12; ~1M samples, 5 standard errors.
    func testUniformMomentsAndRange() {
        var r = RNG(seed: 99)
        let t = Tensor.randomUniform([1 << 20], low: -1, high: 3, rng: &r)
        let x = t.scalars.map(Double.init)
        let n = Double(x.count)
        let mean = x.reduce(0, +) / n
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
        XCTAssertEqual(mean, 1, accuracy: 5 * 1.155 / 1024)
        XCTAssertEqual(variance, 16.0 / 12, accuracy: 5 * 1.2e-3)
        XCTAssertGreaterThanOrEqual(t.min(), -1)
        XCTAssertLessThanOrEqual(t.max(), 3)
        // Roughly uniform over 8 bins (each expects 131072 ± 340).
        var bins = [Int](repeating: 0, count: 8)
        for v in x { bins[min(7, Int((v + 1) * 2))] += 1 }
        for b in bins { XCTAssertEqual(Double(b), n / 8, accuracy: 2000) }
    }

    func testNextIntCoversRange() {
        var r = RNG(seed: 3)
        var seen = Set<Int>()
        for _ in 0..<1000 {
            let v = r.nextInt(below: 7)
            XCTAssertTrue((0..<7).contains(v))
            seen.insert(v)
        }
        XCTAssertEqual(seen.count, 7)
    }
}
