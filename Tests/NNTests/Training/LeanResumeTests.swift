import Foundation
import NN
import Tensor
import XCTest

/// Resume with layer-wise updates and 8-bit states: bit-exact, and a clear error when the saved
/// state has another encoding than the run's optimizer. (The tiny model's embedding and head
/// have 8-bit states; its default `--clip 1` gives every layer-wise step a measuring pass.)
extension PretrainSessionTests {
    func testLayerwiseEightBitResumeIsBitExact() throws {
        var config = try tinyConfiguration(steps: 8)
        config.optimizer = "galore(rank:4,gap:3,layerwise:on,states:int8)"
        config.estimators = "default=exact; layers.*.mlp.*=gradlite(rank:8,feedback:on,refresh:3)"
        config.training.evalEvery = 0
        let fullOut = scratch.appendingPathComponent("full"), partOut = scratch.appendingPathComponent("part")
        _ = try PretrainSession(config, cacheDirectory: scratch).run(outDirectory: fullOut)
        var stepsRun = 0
        _ = try PretrainSession(config, cacheDirectory: scratch).run(outDirectory: partOut, shouldStop: { stepsRun += 1; return stepsRun == 5 })
        let resumed = try PretrainSession.resume(from: partOut, cacheDirectory: scratch)
        XCTAssertEqual(resumed.trainer.step, 5)
        XCTAssertFalse(resumed.optimizer.stateCodes().isEmpty, "the run keeps 8-bit states")
        _ = try resumed.run(outDirectory: partOut)
        let a = try losses(fullOut), b = try losses(partOut)
        XCTAssertEqual(a.count, 8)
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern))
    }

    func testResumeWithAnotherStateEncodingIsAClearError() throws {
        var config = try tinyConfiguration(steps: 2)
        config.optimizer = "adamw(states:int8)"
        let out = scratch.appendingPathComponent("run")
        _ = try PretrainSession(config, cacheDirectory: scratch).run(outDirectory: out, shouldStop: { true })
        // The same run continued with fp32 states: refused, not silently converted.
        let runFile = out.appendingPathComponent(PretrainSession.runFile)
        var run = try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: runFile))
        run.configuration.optimizer = "adamw"
        try JSONEncoder().encode(run).write(to: runFile)
        // The checkpoint's own copy of the run record disagrees first (the optimizer's state
        // encoding itself is checked by `loadState`, EightBitStateTests).
        XCTAssertThrowsError(try PretrainSession.resume(from: out, cacheDirectory: scratch)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("optimizer") && text.contains("adamw(states:int8)"), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
    }
}
