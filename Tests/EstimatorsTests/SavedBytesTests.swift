import Autograd
import Estimators
import Tensor
import TestSupport
import XCTest

/// Projection estimators save N·k floats instead of N·n, as counted by the tape.
final class SavedBytesTests: XCTestCase {
    func testTapeCountsProjectedActivations() {
        let rows = 48, n = 32, m = 24, k = 8
        for text in ["exact", "recompute", "lowrank(rank:8)", "gaussian(rank:8)", "haar(rank:8)",
                     "optimal(rank:8)", "gradlite(rank:8)", "gradlite(rank:8,feedback:on)"] {
            let estimator = try! EstimatorSpec(parsing: text).make(weightShape: [m, n], seed: 1, stream: 2)
            Tape.current.reset()
            let w = randomParameter([m, n], seed: 3, name: "w")
            let x = randomParameter([rows, n], seed: 4, name: "x")
            _ = linear(x.variable, w.variable, estimator: estimator)
            let bytes = Tape.current.savedBytes
            let expected = (text == "exact" || text == "recompute" ? n : k) * rows * 4
            XCTAssertEqual(bytes, expected, text)
            XCTAssertEqual(estimator.savedBytes(rows: rows, weightShape: [m, n]), expected, text)
            XCTAssertEqual(Tape.current.savedEntries.map(\.bytes), [expected], text)
            Tape.current.reset()
        }
    }

    /// Only the weight gradient needs saved activations: with a frozen weight nothing is saved,
    /// and the estimator's step does not advance (no-grad forwards do not consume draws).
    func testFrozenWeightSavesNothing() {
        let estimator = GradLiteEstimator(inFeatures: 16, outFeatures: 8, rank: 4, seed: 1, stream: 1)
        Tape.current.reset()
        let w = Parameter(randomTensor([8, 16], seed: 1), name: "w", requiresGrad: false)
        let x = randomParameter([10, 16], seed: 2, name: "x")
        _ = linear(x.variable, w.variable, estimator: estimator)
        XCTAssertEqual(Tape.current.savedBytes, 0)
        XCTAssertEqual(estimator.clock.step, 0)
        Tape.current.reset()
    }

    func testRecomputeAsksForCheckpointing() {
        XCTAssertTrue(RecomputeEstimator().requestsCheckpointing)
        XCTAssertFalse(ExactEstimator().requestsCheckpointing)
        XCTAssertFalse(try EstimatorSpec(parsing: "haar(rank:2)").make(weightShape: [4, 4], seed: 0, stream: 0).requestsCheckpointing)
    }
}
