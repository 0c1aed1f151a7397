import Estimators
import Tensor
import TestSupport
import XCTest

/// Primitives of ALGORITHMS.md §3 and §6 against closed forms. Tolerances in each test.
final class PrimitivesTests: XCTestCase {
    func testHaarIsOrthonormalAndSignFixed() throws {
        var rng = RNG(seed: 1)
        let q = Stiefel.haar(rows: 20, cols: 6, rng: &rng)
        // QᵀQ = I to fp32 rounding (1e-5).
        let qtq = Tensor.matmul(q, q, transposeA: true)
        XCTAssertLessThan(relativeError(qtq, Tensor.eye(6)), 1e-5)
        // orthonormalize of an orthonormal matrix with positive R diagonal is the identity map.
        XCTAssertLessThan(relativeError(Stiefel.orthonormalize(q), q), 1e-5)
    }

    /// Haar on St(n, k): E[Q Qᵀ] = (k/n) I (±0.02) and, thanks to the sign fix, E[Q] = 0 within 4
    /// standard errors (without it LAPACK's Householder QR gives Q_11 = −|Z_11|/‖Z_1‖, mean ≈ −0.28).
    /// 4,000 draws, n = 8, k = 3.
    func testHaarMoments() {
        let n = 8, k = 3, draws = 4000
        var rng = RNG(seed: 2)
        var proj = [Double](repeating: 0, count: n * n), first = [Double](repeating: 0, count: n * k)
        for _ in 0..<draws {
            let q = Stiefel.haar(rows: n, cols: k, rng: &rng)
            let p = Tensor.matmul(q, q, transposeB: true)
            for i in 0..<n * n { proj[i] += Double(p.pointer[i]) }
            for i in 0..<n * k { first[i] += Double(q.pointer[i]) }
        }
        for i in 0..<n { for j in 0..<n {
            let expected = i == j ? Double(k) / Double(n) : 0
            XCTAssertEqual(proj[i * n + j] / Double(draws), expected, accuracy: 0.02)
        } }
        // Each entry of Q has variance 1/n: standard error of the mean √(1/(n·draws)) ≈ 0.0056.
        for v in first { XCTAssertEqual(v / Double(draws), 0, accuracy: 4 * (1 / Double(n * draws)).squareRoot()) }
    }

    /// CholeskyQR returns the sign-fixed Householder Q (1e-5) on a well-conditioned input, and falls
    /// back to Householder (still orthonormal, 1e-5) on a rank-deficient one.
    func testWellConditionedOrthonormalization() throws {
        var rng = RNG(seed: 9)
        let a = Tensor.randomNormal([40, 10], rng: &rng)
        XCTAssertLessThan(relativeError(Stiefel.orthonormalizeWellConditioned(a), try a.qr().q), 1e-5)
        var deficient = a
        for i in 0..<40 { deficient[i, 9] = deficient[i, 0] }
        let q = Stiefel.orthonormalizeWellConditioned(deficient)
        XCTAssertLessThan(relativeError(Tensor.matmul(q, q, transposeA: true), Tensor.eye(10)), 1e-5)
    }

    /// Subspace iteration on x whose covariance has a clear top-k subspace converges to it.
    func testSubspaceIterationFindsDominantSubspace() {
        let n = 24, k = 4
        let x = matrix(m: 64, n: n, singularValues: [10, 9, 8, 7, 0.5, 0.4, 0.3, 0.2], seed: 3)
        let top = try! x.svd().vt.sliced(axis: 0, 0..<k)            // (k, n)
        var rng = RNG(seed: 4)
        var v = Stiefel.haar(rows: n, cols: k, rng: &rng)
        for _ in 0..<8 { v = subspaceIteration(input: x, basis: v) }
        // ‖P_top − V Vᵀ‖ → 0 (gap ratio (0.5/7)² per step); tolerance 1e-3.
        let pTop = Tensor.matmul(top, top, transposeA: true), pV = Tensor.matmul(v, v, transposeB: true)
        XCTAssertLessThan(squaredDistance(pTop, pV).squareRoot(), 1e-3)
    }

    /// Randomized SVD of an exactly rank-5 matrix recovers its singular values (1e-4 relative)
    /// and reconstructs it (1e-4 relative).
    func testRandomizedSVDOnLowRankMatrix() throws {
        let sigma: [Float] = [5, 4, 3, 2, 1]
        let a = matrix(m: 40, n: 30, singularValues: sigma, seed: 5)
        var rng = RNG(seed: 6)
        let (u, s, vt) = try randomizedSVD(a, rank: 5, rng: &rng)
        XCTAssertEqual(u.shape, [40, 5]); XCTAssertEqual(s.shape, [5]); XCTAssertEqual(vt.shape, [5, 30])
        for (got, want) in zip(s.scalars, sigma) { XCTAssertEqual(got, want, accuracy: 1e-4 * want * 5) }
        var us = u
        us.withUnsafeMutableBufferPointer { p in for i in 0..<40 { for j in 0..<5 { p[i * 5 + j] *= s.pointer[j] } } }
        XCTAssertLessThan(relativeError(Tensor.matmul(us, vt), a), 1e-4)
    }

    func testRandomizedSVDRejectsNonFiniteInput() {
        var a = Tensor.ones([6, 4]); a[2, 1] = .nan
        var rng = RNG(seed: 0)
        XCTAssertThrowsError(try randomizedSVD(a, rank: 2, rng: &rng)) { XCTAssertTrue($0 is NonFiniteInputError) }
    }

    /// Geodesic: η = 0 is the start; the result is orthonormal; for a rank-1 tangent the largest
    /// principal angle between S and S(η) is η‖Δ‖ (Edelman et al.), to 1e-4.
    func testGrassmannGeodesic() throws {
        var rng = RNG(seed: 7)
        let s = Stiefel.haar(rows: 12, cols: 3, rng: &rng)
        let z = Tensor.randomNormal([12, 3], rng: &rng)
        XCTAssertLessThan(relativeError(try grassmannGeodesic(from: s, tangent: z, step: 0), s), 1e-5)
        let moved = try grassmannGeodesic(from: s, tangent: z, step: 0.3)
        XCTAssertLessThan(relativeError(Tensor.matmul(moved, moved, transposeA: true), Tensor.eye(3)), 1e-5)

        // Rank-1 tangent: Δ = u wᵀ with u ⟂ S, ‖u‖ = 1, w = e_0 · 0.8 → angle 0.8·η.
        var u = Tensor.randomNormal([12, 1], rng: &rng)
        u = Stiefel.orthonormalize(u - Tensor.matmul(s, Tensor.matmul(s, u, transposeA: true)))
        var tangent = Tensor.zeros([12, 3])
        for i in 0..<12 { tangent[i, 0] = 0.8 * u[i, 0] }
        let eta: Float = 0.5
        let t = try grassmannGeodesic(from: s, tangent: tangent, step: eta)
        let cosines = try Tensor.matmul(s, t, transposeA: true).svd().s.scalars   // cos of principal angles
        XCTAssertEqual(Foundation.acos(Double(cosines.min()!)), Double(0.8 * eta), accuracy: 1e-3)
    }

    /// Water-filling: Σπ = k, πᵢ ≤ 1, uncapped πᵢ ∝ √σᵢ; caps the dominant directions.
    func testWaterFilling() {
        let sigma: [Float] = [100, 1, 1, 1, 0.25, 0, -1e-9]
        let pi = waterFillingProbabilities(sigma, k: 3)
        XCTAssertEqual(Double(pi.reduce(0, +)), 3, accuracy: 1e-5)
        XCTAssertEqual(pi[0], 1)
        // Remaining budget 2 over √σ = 1, 1, 1, 0.5, 0, 0 (sum 3.5): 2/3.5 per unit root.
        for i in 1...3 { XCTAssertEqual(pi[i], 2 / 3.5, accuracy: 1e-6) }
        XCTAssertEqual(pi[4], 1 / 3.5, accuracy: 1e-6)
        XCTAssertEqual(pi[5], 0); XCTAssertEqual(pi[6], 0)
        XCTAssertEqual(waterFillingProbabilities([0, 0, 0, 0], k: 2), [0.5, 0.5, 0.5, 0.5])
        XCTAssertEqual(waterFillingProbabilities([3, 2], k: 5), [1, 1])
        // Iterated capping: capping the first makes the second exceed 1 too.
        let cascaded = waterFillingProbabilities([100, 30, 1, 1, 1, 1], k: 3)
        XCTAssertEqual(Array(cascaded.prefix(2)), [1, 1])
        for p in cascaded.dropFirst(2) { XCTAssertEqual(p, 0.25, accuracy: 1e-6) }
    }

    /// Systematic sampling: exactly k distinct indices; marginals match π within 4 standard
    /// errors over 20,000 uniforms.
    func testSystematicSamplingMarginals() {
        let pi: [Float] = [1, 0.7, 0.5, 0.3, 0.25, 0.15, 0.1, 0]
        let k = 3, draws = 20_000
        var counts = [Int](repeating: 0, count: pi.count)
        var rng = RNG(seed: 8)
        for _ in 0..<draws {
            let picked = systematicSample(pi, u: rng.nextUniform())
            XCTAssertEqual(picked.count, k)
            XCTAssertEqual(Set(picked).count, k)
            for i in picked { counts[i] += 1 }
        }
        for (i, p) in pi.enumerated() {
            let se = (Double(p) * (1 - Double(p)) / Double(draws)).squareRoot()
            XCTAssertEqual(Double(counts[i]) / Double(draws), Double(p), accuracy: 4 * se + 1e-9)
        }
        // Rounding in the cumulative sums never loses the last draw.
        XCTAssertEqual(systematicSample([Float](repeating: 0.1, count: 30), u: 0.999_999), [9, 19, 29])
    }
}

import Foundation
