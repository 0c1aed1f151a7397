import Autograd
import Estimators
import Tensor
import TestSupport
import XCTest

/// Rank k = n reproduces the exact gradient (ALGORITHMS.md §2–4), through the tape's `linear` op.
/// Tolerance: 1e-4 relative (fp32 rounding of a few extra products).
final class FullRankTests: XCTestCase {
    let n = 12, m = 7, rows = 20

    /// (dx, dW) of sum(y ⊙ c) for y = linear(x, W) under `estimator`.
    func gradients(_ estimator: LinearEstimator, seed: UInt64 = 1) -> (dx: Tensor, dw: Tensor) {
        Tape.current.reset()
        let w = randomParameter([m, n], seed: seed, name: "w")
        let x = randomParameter([4, rows / 4, n], seed: seed + 1, name: "x")
        let c = randomTensor([4, rows / 4, m], seed: seed + 2)
        let y = linear(x.variable, w.variable, estimator: estimator)
        (y * Variable(c)).sum().backward()
        return (x.grad!, w.grad!)
    }

    func testFullRankIsExact() {
        let exact = gradients(ExactEstimator())
        let specs = ["lowrank(rank:12,refresh:1)", "haar(rank:12)",
                     "gradlite(rank:12)", "gradlite(rank:12,explore:0)", "gradlite(rank:12,explore:12)",
                     "gradlite(rank:12,feedback:on)", "gradlite(rank:12,adaptive:off)", "optimal(rank:12)", "recompute"]
        for text in specs {
            let estimator = try! EstimatorSpec(parsing: text).make(weightShape: [m, n], seed: 9, stream: 3)
            // Several steps: refreshes, fresh draws and (for feedback) the memory must all keep it exact.
            for step in 0..<3 {
                let got = gradients(estimator, seed: UInt64(10 * step + 1))
                let want = step == 0 ? exact : gradients(ExactEstimator(), seed: UInt64(10 * step + 1))
                XCTAssertLessThan(relativeError(got.dw, want.dw), 1e-4, "\(text) step \(step)")
                XCTAssertLessThan(relativeError(got.dx, want.dx), 1e-6, "\(text) step \(step): dx must stay exact")
            }
        }
    }

    /// Below full rank the projection estimators are not exact (guards against a test that cannot fail).
    func testReducedRankIsNotExact() {
        let exact = gradients(ExactEstimator())
        let estimator = try! EstimatorSpec(parsing: "haar(rank:4)").make(weightShape: [m, n], seed: 9, stream: 3)
        XCTAssertGreaterThan(relativeError(gradients(estimator).dw, exact.dw), 0.1)
    }
}
