import Estimators
import Tensor
import TestSupport
import XCTest

/// Monte-Carlo mean of Ĝ → G (ALGORITHMS.md §3–4).
///
/// Statistic: for conditionally unbiased draws E‖mean(Ĝ) − G‖² = MSE/D exactly (the errors are
/// martingale differences), so `ratio = ‖mean − G‖² / (MSE/D)` has mean 1 whatever D is. We
/// require `ratio < bound` at D = 500 and at D = 2,500, i.e. the relative error is below
/// √(bound·MSE/D)/‖G‖ at both: it shrinks like 1/√D. A bias b adds D·‖b‖²/MSE to the ratio and
/// fails the test at D = 2,500 for biases of about 1–2% of ‖G‖ (see `testLowRankIsDetectedAsBiased`).
/// Bounds: for the isotropic estimators (Gaussian, Haar, GradLite) the error spreads over many
/// directions and the ratio stays within 0.8–1.25 over seeds: bound 2. For the optimal
/// distribution the error lives in the ~12 directions with π < 1, so the ratio behaves like a
/// χ² with few degrees of freedom divided by them (0.3–2.9 over 8 seeds): bound 5.
final class UnbiasednessTests: XCTestCase {
    let m = 16, n = 32, k = 8

    func check(_ estimator: LinearEstimator, gradient g: Tensor, closedFormMSE: Double? = nil, bound: Double,
               warmup: Int = 0, file: StaticString = #filePath, line: UInt = #line) {
        let (x, delta) = inputs(forGradient: g)
        for _ in 0..<warmup { _ = estimate(estimator, x: x, delta: delta) }
        var mc = MonteCarlo(g)
        for draws in [500, 2500] {
            while mc.draws < draws { mc.add(estimate(estimator, x: x, delta: delta)) }
            let mse = closedFormMSE ?? mc.mse
            let ratio = mc.meanError / (mse / Double(draws))
            let relative = (mc.meanError / squaredNorm(g)).squareRoot()
            XCTAssertLessThan(ratio, bound, "\(estimator) D=\(draws): relative error \(relative), ratio \(ratio)", file: file, line: line)
        }
    }

    func make(_ spec: String) -> LinearEstimator {
        try! EstimatorSpec(parsing: spec).make(weightShape: [m, n], seed: 42, stream: 7)
    }

    var flatGradient: Tensor { randomTensor([m, n], seed: 100) }
    var decayingGradient: Tensor {
        matrix(m: m, n: n, singularValues: (0..<m).map { Float(pow(0.8, Double($0))) }, seed: 101)
    }

    func testGaussianIsUnbiased() {
        let g = flatGradient
        check(make("gaussian(rank:8)"), gradient: g, closedFormMSE: Double(n + 1) / Double(k) * squaredNorm(g), bound: 2)
    }

    func testHaarIsUnbiased() {
        let g = flatGradient
        check(make("haar(rank:8)"), gradient: g, closedFormMSE: (Double(n) / Double(k) - 1) * squaredNorm(g), bound: 2)
    }

    func testGradLiteWithoutFeedbackIsUnbiased() {
        check(make("gradlite(rank:8,explore:2,feedback:off)"), gradient: flatGradient, bound: 2)
    }

    /// The optimal distribution with (Q, π) fixed: exercises systematic sampling and the 1/√π scaling.
    func testOptimalWithFixedDistributionIsUnbiased() {
        let g = decayingGradient
        let (estimator, mse) = frozenOptimal(for: g, rank: k, seed: 3)
        check(estimator, gradient: g, closedFormMSE: mse, bound: 5)
    }

    /// The adaptive optimal estimator end to end (Σ, refreshes and all); empirical MSE.
    func testAdaptiveOptimalIsUnbiased() {
        check(make("optimal(rank:8,refresh:10)"), gradient: decayingGradient, bound: 5, warmup: 60)
    }

    /// The low-rank estimator is biased by design: the same statistic must fail (the test can fail).
    func testLowRankIsDetectedAsBiased() {
        let g = flatGradient
        let (x, delta) = inputs(forGradient: g)
        let estimator = make("lowrank(rank:8)")
        var mc = MonteCarlo(g)
        for _ in 0..<200 { mc.add(estimate(estimator, x: x, delta: delta)) }
        XCTAssertGreaterThan(mc.meanError / (mc.mse / 200), 10)
    }
}

import Foundation
