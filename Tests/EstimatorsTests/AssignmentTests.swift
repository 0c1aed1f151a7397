import Estimators
import XCTest

final class AssignmentTests: XCTestCase {
    let text = "default=exact; layers.*.mlp.*=gradlite(rank:64,explore:16,refresh:20); layers.*.attention.wo=haar(rank:32)"

    func testParsesAndSelectsByPath() throws {
        let a = try EstimatorAssignment(parsing: text)
        XCTAssertEqual(a.spec(forPath: "layers.0.mlp.w1").description, "gradlite(rank:64,explore:16,refresh:20,feedback:off,adaptive:on)")
        XCTAssertEqual(a.spec(forPath: "layers.3.attention.wo"), EstimatorSpec(kind: .haar, rank: 32))
        XCTAssertEqual(a.spec(forPath: "layers.3.attention.wq"), .exact)
        XCTAssertEqual(a.spec(forPath: "lm_head"), .exact)
        let e = a.estimator(forPath: "layers.1.mlp.w2", weightShape: [256, 688], seed: 1) as! GradLiteEstimator
        XCTAssertEqual([e.rank, e.sketch.exploration, e.sketch.refreshInterval], [64, 16, 20])
        XCTAssertFalse(e.errorFeedback); XCTAssertTrue(e.sketch.adaptive)
        XCTAssertEqual(e.clock.stream, estimatorStream(forPath: "layers.1.mlp.w2"))
        XCTAssertNotEqual(estimatorStream(forPath: "layers.1.mlp.w2"), estimatorStream(forPath: "layers.1.mlp.w3"))
        // The canonical form parses back to the same assignment.
        XCTAssertEqual(try EstimatorAssignment(parsing: a.description), a)
    }

    func testLaterRulesOverrideAndStarsCrossDots() throws {
        let a = try EstimatorAssignment(parsing: "*=haar(rank:4); layers.*.w?=lowrank(rank:2); default=gaussian(rank:3);")
        XCTAssertEqual(a.spec(forPath: "layers.0.mlp.experts.3.w1").kind, .lowrank)
        XCTAssertEqual(a.spec(forPath: "layers.0.mlp.experts.3.w12").kind, .haar)
        XCTAssertEqual(a.defaultSpec.kind, .gaussian)
        XCTAssertTrue(globMatch("layers.*", "layers.0.attention.wq"))
        XCTAssertFalse(globMatch("layers.*.mlp", "layers.0.mlp.w1"))
        XCTAssertTrue(globMatch("*", ""))
        XCTAssertEqual(try EstimatorAssignment(parsing: "  "), EstimatorAssignment())
    }

    func testDefaultsFromAlgorithms() throws {
        let g = try EstimatorSpec(parsing: "gradlite(rank:64)")
        let e = g.make(weightShape: [10, 100], seed: 0, stream: 0) as! GradLiteEstimator
        XCTAssertEqual([e.sketch.exploration, e.sketch.refreshInterval], [16, 20])
        XCTAssertFalse(e.errorFeedback); XCTAssertTrue(e.sketch.adaptive)
        let o = try EstimatorSpec(parsing: " optimal ( rank : 8 ) ").make(weightShape: [4, 16], seed: 0, stream: 0) as! OptimalProjectionEstimator
        XCTAssertEqual(o.sketch.decay, 0.99); XCTAssertEqual(o.sketch.refreshInterval, 20)
        // Rank above n is clamped to n.
        XCTAssertEqual((try EstimatorSpec(parsing: "haar(rank:99)").make(weightShape: [4, 16], seed: 0, stream: 0) as! RandomProjectionEstimator).rank, 16)
        for text in ["exact", "recompute", "lowrank(rank:3,refresh:7)", "gaussian(rank:2)", "haar(rank:5)",
                     "optimal(rank:4,refresh:5,decay:0.9)", "gradlite(rank:8,explore:0,refresh:3,feedback:on,adaptive:off)"] {
            XCTAssertEqual(try EstimatorSpec(parsing: text).description, text)
        }
    }

    /// Each error is one line naming the offending token and the valid choices.
    func testParseErrorsNameTokenAndChoices() {
        func error(_ text: String) -> EstimatorSpecError? {
            do { _ = try EstimatorAssignment(parsing: text); return nil } catch { return error as? EstimatorSpecError }
        }
        let cases: [(String, String, [String])] = [
            ("default=gradlit(rank:4)", "gradlit", ["exact", "gradlite", "haar", "optimal"]),
            ("a=gradlite(rnk:4)", "rnk", ["rank", "explore", "refresh", "feedback", "adaptive"]),
            ("a=gradlite(rank:4,feedback:maybe)", "maybe", ["on", "off"]),
            ("a=haar(rank:zero)", "zero", ["integer"]),
            ("a=haar(rank:0)", "0", ["integer 1..."]),
            ("a=haar", "haar", ["rank"]),
            ("a=exact(rank:3)", "rank", ["none"]),
            ("layers.*", "layers.*", ["pattern=spec"]),
            ("a=haar(rank:4", "haar(rank:4", [")"]),
            ("a=haar(rank:4,rank:5)", "rank", ["twice"]),
            ("a=optimal(rank:4,decay:1.5)", "1.5", ["[0, 1)"]),
            ("a=gradlite(rank:4,explore:5)", "explore:5", ["0...4"]),
        ]
        for (text, token, mentions) in cases {
            guard let e = error(text) else { XCTFail("\(text) parsed"); continue }
            XCTAssertEqual(e.token, token, text)
            XCTAssertTrue(e.description.contains("'\(token)'"), e.description)
            XCTAssertFalse(e.description.contains("\n"), e.description)
            for word in mentions { XCTAssertTrue(e.description.contains(word), "\(e.description) lacks \(word)") }
        }
    }
}
