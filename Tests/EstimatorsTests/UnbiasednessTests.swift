import Estimators
import Tensor
import TestSupport
import XCTest

/// Monte-Carlo mean of Ĝ → G (ALGORITHMS.md §3–4).
///
/// Test statistic: for conditionally unbiased draws E‖mean(Ĝ) − G‖² = MSE/D exactly (the errors
/// are martingale differences), so `ratio = ‖mean − G‖² / (MSE/D)` concentrates around 1 (here,
/// with m·n = 512 entries, within about ±30%). We require 0.5 < ratio < 1.6 at D = 500 and at
/// D = 2,500: the error then shrinks like 1/√D. A bias b would add D·‖b‖²/MSE to the ratio: a bias
/// of 5% of ‖G‖ would push it above 2 already at D = 500 for these sizes.
final class UnbiasednessTests: XCTestCase {
    let m = 16, n = 32, k = 8

    func check(_ spec: String, gradient g: Tensor, warmup: Int = 0, file: StaticString = #filePath, line: UInt = #line) {
        let estimator = try! EstimatorSpec(parsing: spec).make(weightShape: [m, n], seed: 42, stream: 7)
        let (x, delta) = inputs(forGradient: g)
        for _ in 0..<warmup { _ = estimate(estimator, x: x, delta: delta) }
        var mc = MonteCarlo(g)
        for draws in [500, 2500] {
            while mc.draws < draws { mc.add(estimate(estimator, x: x, delta: delta)) }
            let ratio = mc.meanError / (mc.mse / Double(draws))
            let relative = (mc.meanError / squaredNorm(g)).squareRoot()
            XCTAssertGreaterThan(ratio, 0.5, "\(spec) D=\(draws): rel. error \(relative)", file: file, line: line)
            XCTAssertLessThan(ratio, 1.6, "\(spec) D=\(draws): rel. error \(relative), ratio \(ratio)", file: file, line: line)
        }
    }

    var flatGradient: Tensor { randomTensor([m, n], seed: 100) }
    var decayingGradient: Tensor {
        matrix(m: m, n: n, singularValues: (0..<m).map { Float(pow(0.8, Double($0))) }, seed: 101)
    }

    func testGaussianIsUnbiased() { check("gaussian(rank:8)", gradient: flatGradient) }
    func testHaarIsUnbiased() { check("haar(rank:8)", gradient: flatGradient) }
    func testOptimalIsUnbiased() { check("optimal(rank:8,refresh:10)", gradient: decayingGradient, warmup: 60) }
    func testGradLiteWithoutFeedbackIsUnbiased() {
        check("gradlite(rank:8,explore:2,feedback:off)", gradient: flatGradient)
    }

    /// The low-rank estimator is biased by design: the same statistic must fail (shows the test can fail).
    func testLowRankIsDetectedAsBiased() {
        let g = flatGradient
        let estimator = try! EstimatorSpec(parsing: "lowrank(rank:8)").make(weightShape: [m, n], seed: 42, stream: 7)
        let (x, delta) = inputs(forGradient: g)
        var mc = MonteCarlo(g)
        for _ in 0..<200 { mc.add(estimate(estimator, x: x, delta: delta)) }
        XCTAssertGreaterThan(mc.meanError / (mc.mse / 200), 10)
    }
}

import Foundation
