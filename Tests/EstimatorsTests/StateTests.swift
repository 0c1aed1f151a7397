import Autograd
import Estimators
import Tensor
import TestSupport
import XCTest

/// Estimator state survives a serialise/restore round trip bit for bit, and a restored estimator
/// continues exactly as the original.
final class StateTests: XCTestCase {
    let m = 10, n = 16
    let specs = ["lowrank(rank:4,refresh:2)", "gaussian(rank:4)", "haar(rank:4)", "optimal(rank:4,refresh:3)",
                 "gradlite(rank:4,explore:1,refresh:2)", "gradlite(rank:4,feedback:on)",
                 "gradlite(rank:4,adaptive:off,feedback:on)"]

    func step(_ e: LinearEstimator, _ t: Int) -> Tensor {
        estimate(e, x: randomTensor([12, n], seed: UInt64(500 + t)), delta: randomTensor([12, m], seed: UInt64(600 + t)))
    }

    func testRoundTripIsBitExact() throws {
        for text in specs {
            let spec = try EstimatorSpec(parsing: text)
            let original = spec.make(weightShape: [m, n], seed: 77, stream: 5)
            for t in 0..<7 { _ = step(original, t) }
            let state = original.stateTensors()
            // A copy of the tensors, through their float bits (as a checkpoint file would store them).
            let stored = state.mapValues { Tensor($0.scalars.map { Float(bitPattern: $0.bitPattern) }, shape: $0.shape) }
            let restored = spec.make(weightShape: [m, n], seed: 1, stream: 1)
            try restored.loadState(stored)
            let again = restored.stateTensors()
            XCTAssertEqual(Set(again.keys), Set(state.keys), text)
            for (key, value) in state { assertBitwiseEqual(again[key]!, value, "\(text) \(key)") }
            for t in 7..<12 { assertBitwiseEqual(step(restored, t), step(original, t), "\(text) step \(t)") }
        }
    }

    func testLoadStateRejectsMismatches() throws {
        let e = try EstimatorSpec(parsing: "gradlite(rank:4)").make(weightShape: [m, n], seed: 1, stream: 1)
        var state = e.stateTensors()
        state["basis"] = Tensor.zeros([n, 2])
        XCTAssertThrowsError(try e.loadState(state)) { XCTAssertTrue("\($0)".contains("basis")) }
        XCTAssertThrowsError(try e.loadState(["clock": e.stateTensors()["clock"]!, "basis": e.stateTensors()["basis"]!, "bogus": Tensor.zeros([1])]))
        XCTAssertThrowsError(try ExactEstimator().loadState(["x": Tensor.zeros([1])]))
        XCTAssertNoThrow(try ExactEstimator().loadState([:]))
    }

    /// Inside a checkpointed segment the estimator advances once per training step and the
    /// recomputed forward uses the same projection as an un-checkpointed run at the same step.
    func testCheckpointedSegmentSeesTheSameProjection() {
        let spec = try! EstimatorSpec(parsing: "gradlite(rank:4,explore:2,refresh:1)")
        let plain = spec.make(weightShape: [m, n], seed: 3, stream: 4)
        let checkpointed = spec.make(weightShape: [m, n], seed: 3, stream: 4) as! GradLiteEstimator
        func run(_ e: LinearEstimator, checkpointing: Bool, t: Int) -> Tensor {
            Tape.current.reset()
            let w = randomParameter([m, n], seed: 1, name: "w")
            let x = Variable(randomTensor([6, n], seed: UInt64(700 + t)))
            let c = Variable(randomTensor([6, m], seed: UInt64(800 + t)))
            let y = checkpointing
                ? checkpoint([x]) { linear($0[0], w.variable, estimator: e) }
                : linear(x, w.variable, estimator: e)
            (y * c).sum().backward()
            return w.grad!
        }
        for t in 0..<4 {
            let a = run(plain, checkpointing: false, t: t), b = run(checkpointed, checkpointing: true, t: t)
            XCTAssertLessThan(relativeError(b, a), 1e-6, "step \(t)")
            XCTAssertEqual(checkpointed.clock.step, UInt64(t + 1))
        }
    }
}
