import Autograd
import Estimators
import Tensor
import TestSupport
import XCTest

/// Layers reading one input share one sketch (ALGORITHMS.md §11): one basis, one saved z, and
/// each member's estimator keeps its own law.
final class SharedSketchTests: XCTestCase {
    let rows = 24, n = 32, k = 8
    let paths = ["attention.wq", "attention.wk", "attention.wv"]
    let widths = [32, 16, 16]

    override func setUp() { Tape.current.reset() }

    func group(_ text: String, sharing: Bool = true) throws -> [LinearEstimator] {
        let a = try EstimatorAssignment(parsing: text)
        let made = a.estimators(for: zip(paths, widths).map { ($0, [$1, n]) }, sharedInputs: sharing ? [paths] : [], seed: 3)
        return paths.map { made[$0]! }
    }

    /// Forward of the three layers on one x, backward with fixed upstream gradients.
    func run(_ estimators: [LinearEstimator], x: Tensor, seed: UInt64) -> (saved: Int, grads: [Tensor]) {
        Tape.current.reset()
        let weights = zip(widths, estimators.indices).map { randomParameter([$0, n], seed: seed + UInt64($1)) }
        let xv = Variable(x)
        let outs = zip(weights, estimators).map { linear(xv, $0.variable, estimator: $1) }
        let saved = Tape.current.savedBytes
        var loss = (outs[0] * Variable(randomTensor(outs[0].shape, seed: seed + 10))).sum()
        for (i, o) in outs.enumerated().dropFirst() { loss = loss + (o * Variable(randomTensor(o.shape, seed: seed + 10 + UInt64(i)))).sum() }
        loss.backward()
        return (saved, weights.map { $0.grad! })
    }

    func testGroupSavesOneSketchAndLiftsWithTheGroupBasis() throws {
        let estimators = try group("default=haar(rank:8)")
        let sketch = (estimators[0] as! RandomProjectionEstimator).sketch
        XCTAssertTrue(estimators.allSatisfy { ($0 as! RandomProjectionEstimator).sketch === sketch })
        XCTAssertEqual(sketch.memberCount, 3)
        XCTAssertEqual(estimators.map { $0.savedBytes(rows: rows, weightShape: [16, n]) }, [rows * k * 4, 0, 0])
        let x = randomTensor([rows, n], seed: 1)
        let (saved, grads) = run(estimators, x: x, seed: 20)
        XCTAssertEqual(saved, rows * k * 4, "one z for three layers")
        // Each member's Ĝ = δᵀ (x V) Vᵀ with the group's V of step 0.
        let reference = RandomSketch(inFeatures: n, rank: k, distribution: .haar, seed: 3,
                                     stream: estimatorStream(forPath: paths.joined(separator: "+")))
        let v = reference.projection(step: 0)
        let z = Tensor.matmul(x, v)
        for (i, g) in grads.enumerated() {
            let delta = randomTensor([rows, widths[i]], seed: 30 + UInt64(i))
            let expected = Tensor.matmul(Tensor.matmul(delta, z, transposeA: true), v, transposeB: true)
            XCTAssertLessThan(relativeError(g, expected), 1e-5, paths[i])
        }
        XCTAssertEqual(sketch.clock.step, 1, "one step per forward of the group")
    }

    func testUnsharedLayersEachSaveTheirOwn() throws {
        let (saved, _) = run(try group("default=haar(rank:8)", sharing: false), x: randomTensor([rows, n], seed: 2), seed: 40)
        XCTAssertEqual(saved, 3 * rows * k * 4)
    }

    /// Groups form among members with sharable specs; error feedback stays per member.
    func testGroupFormation() throws {
        let mixed = try group("default=gradlite(rank:8); attention.wk=gradlite(rank:8,feedback:on); attention.wv=haar(rank:8)")
        let q = mixed[0] as! GradLiteEstimator, kk = mixed[1] as! GradLiteEstimator, v = mixed[2] as! RandomProjectionEstimator
        XCTAssertTrue(q.sketch === kk.sketch)
        XCTAssertFalse(q.errorFeedback); XCTAssertTrue(kk.errorFeedback)
        XCTAssertEqual(v.sketch.memberCount, 1)
        XCTAssertEqual(v.clock.stream, estimatorStream(forPath: "attention.wv"), "a layer alone keeps its own stream")
        XCTAssertEqual(q.clock.stream, estimatorStream(forPath: "attention.wq+attention.wk"))
        let (saved, grads) = run(mixed, x: randomTensor([rows, n], seed: 3), seed: 50)
        XCTAssertEqual(saved, 2 * rows * k * 4)
        XCTAssertTrue(grads[1].storage === kk.memory!.storage, "the feedback member returns its own memory")
        XCTAssertNil(q.memory)
        // Ranks that differ do not share.
        let ranks = try group("default=lowrank(rank:8); attention.wv=lowrank(rank:4)")
        XCTAssertTrue((ranks[0] as! LowRankEstimator).sketch === (ranks[1] as! LowRankEstimator).sketch)
        XCTAssertFalse((ranks[0] as! LowRankEstimator).sketch === (ranks[2] as! LowRankEstimator).sketch)
        XCTAssertTrue(try EstimatorSpec(parsing: "gradlite(rank:4,feedback:on)").sharesSketch(with: EstimatorSpec(parsing: "gradlite(rank:4)")))
        XCTAssertFalse(try EstimatorSpec(parsing: "gradlite(rank:4,refresh:5)").sharesSketch(with: EstimatorSpec(parsing: "gradlite(rank:4)")))
        XCTAssertFalse(EstimatorSpec.exact.sharesSketch(with: .exact), "exact layers share x through the tape, not a sketch")
    }

    /// Sharing changes which V a member sees, not its law: a member's Ĝ stays unbiased.
    func testSharedMembersStayUnbiased() throws {
        for text in ["default=haar(rank:8)", "default=gradlite(rank:8,explore:4,adaptive:off)"] {
            let estimators = try group(text)
            let g = matrix(m: 16, n: n, singularValues: [4, 2, 1, 0.5], seed: 9)
            let (x, delta) = inputs(forGradient: g)
            var mc = MonteCarlo(g)
            for _ in 0..<1500 {
                // The first member takes the sketch; the second (checked) shares it.
                _ = estimators[0].save(input: x, weightShape: [32, n])
                mc.add(estimate(estimators[1], x: x, delta: delta))
                _ = estimators[2].save(input: x, weightShape: [16, n])
            }
            XCTAssertLessThan(mc.meanError / squaredNorm(g), 0.02, text)
            XCTAssertGreaterThan(mc.mse / squaredNorm(g), 0.1, "\(text): the estimate is random")
        }
    }

    func testALayerAppliedTwiceStartsANewSketch() throws {
        let estimators = try group("default=haar(rank:8)")
        let x = randomTensor([rows, n], seed: 4)
        let first = estimators[0].save(input: x, weightShape: [32, n])
        let again = estimators[0].save(input: x, weightShape: [32, n])
        XCTAssertEqual([first.step, again.step], [0, 1])
        let shared = estimators[1].save(input: x, weightShape: [16, n])
        XCTAssertEqual(shared.step, 1)
        XCTAssertTrue(shared.activations[0].storage === again.activations[0].storage)
    }

    /// The leader carries the sketch's state, the others only their own; a restored group
    /// continues bit for bit.
    func testGroupStateRoundTrip() throws {
        let text = "default=gradlite(rank:8,refresh:2,feedback:on)"
        let original = try group(text)
        for t in 0..<5 { _ = run(original, x: randomTensor([rows, n], seed: 100 + UInt64(t)), seed: 60) }
        XCTAssertEqual(Set(original[0].stateTensors().keys), ["clock", "basis", "memory"])
        XCTAssertEqual(Set(original[1].stateTensors().keys), ["memory"])
        XCTAssertThrowsError(try original[1].loadState(original[0].stateTensors())) {
            XCTAssertTrue("\($0)".contains("clock"), "\($0)")
        }
        let restored = try group(text)
        for (a, b) in zip(restored, original) { try a.loadState(b.stateTensors()) }
        for t in 5..<8 {
            let x = randomTensor([rows, n], seed: 100 + UInt64(t))
            let (_, a) = run(original, x: x, seed: 60), (_, b) = run(restored, x: x, seed: 60)
            for (ga, gb) in zip(a, b) { assertBitwiseEqual(gb, ga, "step \(t)") }
        }
    }
}
