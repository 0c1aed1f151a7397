import Estimators
import Foundation
import Tensor
import TestSupport
import XCTest

/// The probability floor of ALGORITHMS.md §3: π' = (1 − ε)·π + ε·k/n, ε = 0.1.
final class OptimalFloorTests: XCTestCase {
    let m = 8, n = 16, k = 4

    /// An optimal estimator whose next forward refreshes from Σ = `covariance`, and never again.
    func refreshed(from covariance: Tensor) throws -> OptimalProjectionEstimator {
        let interval = 100_000
        let e = OptimalProjectionEstimator(inFeatures: n, rank: k, refresh: interval, seed: 3, stream: 4)
        try e.loadState(["clock": EstimatorClock(seed: 3, stream: 4, step: UInt64(interval)).encoded, "covariance": covariance])
        _ = estimate(e, x: Tensor.eye(n), delta: Tensor.zeros([n, m])) // the refresh
        return e
    }

    /// A gradient in k = 4 of the 16 input directions.
    var g1: Tensor { matrix(m: m, n: n, singularValues: [1, 0.9, 0.8, 0.7], seed: 40) }

    /// Σ of G₁ is rank 4 = k: water-filling gives those directions π = 1 and the other 12 (σ = 0
    /// up to rounding) π ≈ 0. With the floor every π' ≥ ε·k/n, the sum stays k and none exceeds 1.
    func testRankDeficientCovarianceKeepsEveryDirection() throws {
        let e = try refreshed(from: Tensor.matmul(g1, g1, transposeA: true))
        let pi = try XCTUnwrap(e.sketch.probabilities).scalars
        let floor = OptimalSketch.probabilityFloor * Float(k) / Float(n)
        XCTAssertEqual(pi.count, n)
        XCTAssertGreaterThanOrEqual(pi.min()!, floor * (1 - 1e-5))
        XCTAssertLessThanOrEqual(pi.max()!, 1)
        XCTAssertEqual(Double(pi.reduce(0, +)), Double(k), accuracy: 1e-4)
    }

    /// After Σ saw only G₁'s four directions, a gradient G₂ in the other twelve is still
    /// estimated without bias: 4,000 draws give ‖mean(Ĝ) − G₂‖ / ‖G₂‖ < 0.35 (its standard error
    /// is about √((1/π' − 1)/4000) ≈ 0.1 at π' = ε·k/n). Without the floor those directions are
    /// (almost) never drawn and the mean misses G₂: relative error about 1.
    func testNewDirectionsStayUnbiasedAfterARefresh() throws {
        let g1 = self.g1
        let e = try refreshed(from: Tensor.matmul(g1, g1, transposeA: true))
        // G₂ = G (I − P₁): the part of a random gradient outside G₁'s row space.
        let (_, q) = try Tensor.matmul(g1, g1, transposeA: true).symmetricEigen()
        let support = q.sliced(axis: 1, 0..<k)
        let g = randomTensor([m, n], seed: 41)
        let g2 = g - Tensor.matmul(Tensor.matmul(g, support), support, transposeB: true)
        var mc = MonteCarlo(g2)
        let (x, delta) = inputs(forGradient: g2)
        for _ in 0..<4000 { mc.add(estimate(e, x: x, delta: delta)) }
        let error = (mc.meanError / squaredNorm(g2)).squareRoot()
        if ProcessInfo.processInfo.environment["FLOOR_PRINT"] != nil { print("FLOOR relative error \(error)") }
        XCTAssertLessThan(error, 0.35)
    }
}
