import Autograd
@testable import NN
import Tensor
import XCTest

final class OptimizerSpecTests: XCTestCase {
    private func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try OptimizerSpec(parsing: text)
            XCTFail("'\(text)' parsed", file: file, line: line)
            return ""
        } catch let e as OptimizerSpecError {
            let d = e.description
            XCTAssertFalse(d.contains("\n"), "one line", file: file, line: line)
            return d
        } catch {
            XCTFail("untyped error \(error)", file: file, line: line)
            return ""
        }
    }

    func testParsesEveryDocumentedForm() throws {
        let cases: [(String, String)] = [
            ("adamw", "adamw"),
            ("adamw(beta1:0.9,beta2:0.999,eps:1e-8)", "adamw(beta1:0.9,beta2:0.999,eps:1e-08)"),
            ("sgd(momentum:0.9)", "sgd(momentum:0.9)"),
            ("galore(rank:128,gap:200,scale:0.25)", "galore(rank:128,gap:200,scale:0.25)"),
            ("grasswalk(rank:128, gap:200, scale:0.25, step:0.5)", "grasswalk(rank:128,gap:200,scale:0.25,step:0.5)"),
            ("grassjump(rank:128,gap:200,scale:0.25)", "grassjump(rank:128,gap:200,scale:0.25)"),
            ("lomo", "lomo"), ("lomo()", "lomo"), (" AdaLomo ", "adalomo"),
            ("sgd(nesterov:true,momentum:0.5)", "sgd(momentum:0.5,nesterov:true)"),
        ]
        for (text, canonical) in cases {
            let spec = try OptimizerSpec(parsing: text)
            XCTAssertEqual(spec.description, canonical, text)
            XCTAssertEqual(try OptimizerSpec(parsing: spec.description), spec, "the description parses back")
        }
        XCTAssertEqual(try OptimizerSpec(parsing: "galore(rank:4)").subspaceOptions,
                       SubspaceOptions(rank: 4, gap: 200, scale: 0.25, beta1: 0.9, beta2: 0.999, eps: 1e-6))
        XCTAssertTrue(try OptimizerSpec(parsing: "adalomo").updatesDuringBackward)
        XCTAssertFalse(try OptimizerSpec(parsing: "grassjump").updatesDuringBackward)
    }

    func testErrorsNameTheTokenAndTheChoices() {
        let unknown = error("adam")
        XCTAssertTrue(unknown.contains("'adam'") && unknown.contains("adamw, sgd, galore, grasswalk, grassjump, lomo, adalomo"), unknown)
        let option = error("galore(rank:4,rnk:2)")
        XCTAssertTrue(option.contains("'rnk'") && option.contains("rank, gap, scale, beta1, beta2, eps"), option)
        XCTAssertTrue(error("lomo(lr:1)").contains("'lr'; it takes none"))
        let value = error("galore(rank:abc)")
        XCTAssertTrue(value.contains("'abc'") && value.contains("positive integer"), value)
        XCTAssertTrue(error("sgd(momentum:1.5)").contains("'1.5' is not in [0, 1)"))
        XCTAssertTrue(error("galore(rank=4)").contains("'rank=4'"))
        XCTAssertTrue(error("galore(rank:4").contains("missing ')'"))
        XCTAssertTrue(error("galore(rank:4,rank:8)").contains("'rank' given twice"))
        XCTAssertTrue(error("sgd(nesterov:true)").contains("nesterov"))
        XCTAssertTrue(error("").contains("valid: adamw"))
    }

    func testMakeBuildsTheNamedOptimizerWithTheDefaultGroups() throws {
        let params = [("embedding.weight", refParameter(refWave(12, seed: 1), [4, 3])),
                      ("layers.0.attention.wq.weight", refParameter(refWave(12, seed: 2), [4, 3])),
                      ("layers.0.mlp.experts.1.up.weight", refParameter(refWave(12, seed: 3), [3, 4])),
                      ("layers.0.mlp_norm.weight", refParameter(refWave(3, seed: 4), [3]))]
        let make = { (text: String) throws -> Optimizer in
            try OptimizerSpec(parsing: text).make(parameters: params, learningRate: 0.01, weightDecay: 0, seed: 1)
        }
        XCTAssertTrue(try make("adamw") is AdamW)
        XCTAssertTrue(try make("sgd(momentum:0.9)") is SGD)
        let galore = try XCTUnwrap(try make("galore(rank:2)") as? GaLore)
        XCTAssertEqual(galore.core.states.map(\.slot.path), ["layers.0.attention.wq.weight", "layers.0.mlp.experts.1.up.weight"])
        XCTAssertEqual(galore.core.rest.slots.map(\.path), ["embedding.weight", "layers.0.mlp_norm.weight"])
        let walk = try XCTUnwrap(try make("grasswalk(rank:2,step:0.3)") as? Grass)
        XCTAssertEqual(walk.options.move, .walk(step: 0.3))
        XCTAssertEqual((try make("grassjump") as? Grass)?.options.move, .jump)
        let lomo = try make("lomo")
        XCTAssertTrue(lomo is LOMO && lomo.updatesDuringBackward)
        (lomo as? LOMO)?.detach()
        let ada = try make("adalomo")
        XCTAssertTrue(ada is AdaLomo && ada.updatesDuringBackward)
        (ada as? AdaLomo)?.detach()
    }

    // MARK: layerwise: and states:

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
