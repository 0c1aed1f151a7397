@testable import NN
import XCTest

final class ScheduleTests: XCTestCase {
    func testWarmupMidpointAndEnd() {
        let s = CosineSchedule(peak: 1e-2, warmup: 10, total: 110)
        XCTAssertEqual(s.learningRate(atStep: 0), 1e-3, accuracy: 1e-9, "first warmup step: peak/warmup")
        XCTAssertEqual(s.learningRate(atStep: 4), 5e-3, accuracy: 1e-9)
        XCTAssertEqual(s.learningRate(atStep: 9), 1e-2, accuracy: 1e-9, "warmup reaches the peak")
        XCTAssertEqual(s.learningRate(atStep: 10), 1e-2, accuracy: 1e-9, "decay starts at the peak")
        // Halfway through the decay: 0.1 + 0.9 · ½ = 0.55 of the peak.
        XCTAssertEqual(s.learningRate(atStep: 60), 5.5e-3, accuracy: 1e-9)
        // A quarter: 0.1 + 0.9 · ½(1 + cos(π/4)).
        XCTAssertEqual(s.learningRate(atStep: 35), Float(1e-2 * (0.1 + 0.45 * (1 + 0.5.squareRoot()))), accuracy: 1e-8)
        XCTAssertEqual(s.learningRate(atStep: 110), 1e-3, accuracy: 1e-9, "ends at 10% of the peak")
        XCTAssertEqual(s.learningRate(atStep: 500), 1e-3, accuracy: 1e-9, "and stays there")
    }

    func testNoWarmupAndCustomFloor() {
        let s = CosineSchedule(peak: 2, warmup: 0, total: 4, minRatio: 0.5)
        XCTAssertEqual(s.learningRate(atStep: 0), 2, accuracy: 1e-6)
        XCTAssertEqual(s.learningRate(atStep: 2), 1.5, accuracy: 1e-6)
        XCTAssertEqual(s.learningRate(atStep: 4), 1, accuracy: 1e-6)
    }
}
