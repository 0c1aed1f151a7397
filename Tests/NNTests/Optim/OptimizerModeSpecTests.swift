import Autograd
@testable import NN
import Tensor
import XCTest

/// `layerwise:` and `states:` in the optimizer text form.
final class OptimizerModeSpecTests: XCTestCase {
    private func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try OptimizerSpec(parsing: text)
            XCTFail("'\(text)' parsed", file: file, line: line)
        } catch {
            let d = "\(error)"
            XCTAssertFalse(d.contains("\n"), "one line", file: file, line: line)
            return d
        }
        return ""
    }

    func testParsesAndBuildsTheModes() throws {
        let cases: [(String, String)] = [
            ("adamw(layerwise:on)", "adamw(layerwise:on)"),
            ("adamw(states:INT8, layerwise:true)", "adamw(layerwise:on,states:int8)"),
            ("galore(rank:64,layerwise:on,states:int8)", "galore(rank:64,layerwise:on,states:int8)"),
            ("sgd(momentum:0.9,layerwise:off)", "sgd(momentum:0.9,layerwise:off)"),
            ("grassjump(states:fp32)", "grassjump(states:fp32)"),
        ]
        for (text, canonical) in cases {
            let spec = try OptimizerSpec(parsing: text)
            XCTAssertEqual(spec.description, canonical, text)
            XCTAssertEqual(try OptimizerSpec(parsing: spec.description), spec, "the description parses back")
        }
        let lean = try OptimizerSpec(parsing: "galore(rank:64,layerwise:on,states:int8)")
        XCTAssertTrue(lean.updatesDuringBackward)
        XCTAssertEqual(lean.subspaceOptions.states, .int8)
        XCTAssertFalse(try OptimizerSpec(parsing: "sgd(layerwise:off)").updatesDuringBackward)

        let params = [("layers.0.attention.wq.weight", refParameter(refWave(64 * 64, seed: 2), [64, 64])),
                      ("norm.weight", refParameter(refWave(64, seed: 4), [64]))]
        for text in ["adamw", "sgd", "galore(rank:2)", "grasswalk(rank:2)", "grassjump(rank:2)"] {
            let on = text.hasSuffix(")") ? String(text.dropLast()) + ",layerwise:on)" : text + "(layerwise:on)"
            let opt = try OptimizerSpec(parsing: on).make(parameters: params, learningRate: 0.01, weightDecay: 0, seed: 1)
            XCTAssertTrue(opt.updatesDuringBackward && opt is FusedBackwardOptimizer, on)
            XCTAssertTrue(opt.description.contains("layer-wise"), opt.description)
            (opt as! FusedBackwardOptimizer).detach()
            XCTAssertFalse(opt.updatesDuringBackward)
        }
        let adam = try XCTUnwrap(try OptimizerSpec(parsing: "adamw(states:int8)").make(parameters: params, learningRate: 0.01,
                                                                                          weightDecay: 0, seed: 1) as? AdamW)
        XCTAssertEqual(adam.states.map(\.moments.encoding), [.int8, .fp32], "fp32 below 4096 values")
        XCTAssertTrue(adam.description.contains("int8 states"), adam.description)
    }

    func testConflictsAndUnknownKeysNameTheProblem() {
        let sgd = error("sgd(momentum:0.9,states:int8)")
        XCTAssertTrue(sgd.contains("sgd has no states:int8 mode") && sgd.contains("adamw, galore, grasswalk, grassjump"), sgd)
        XCTAssertTrue(error("lomo(states:int8)").contains("lomo has no states:int8 mode"))
        XCTAssertTrue(error("adamw(states:int4)").contains("'int4' is not fp32 or int8"))
        XCTAssertTrue(error("adamw(layerwise:maybe)").contains("'maybe' is not on or off"))
        let unknown = error("adamw(layer_wise:on)")
        XCTAssertTrue(unknown.contains("'layer_wise'") && unknown.contains("layerwise, states"), unknown)
        XCTAssertTrue(error("lomo(layerwise:on)").contains("'layerwise'; it takes none"))
    }
}
