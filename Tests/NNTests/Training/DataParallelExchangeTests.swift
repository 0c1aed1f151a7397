import Autograd
import Estimators
import Foundation
@testable import NN
import Tensor
import TestSupport
import XCTest

/// `R` ranks that all hold this process's buffers: a sum is `R ×` the buffer, so a mean
/// all-reduce must leave every gradient as it was. Counts the collectives (bucketing).
private final class MirrorRanks: Collective {
    let worldSize: Int
    var sums: [Int] = []
    init(_ r: Int) { worldSize = r }
    var rank: Int { 0 }
    func sumInPlace(_ buffer: UnsafeMutableBufferPointer<Float>) {
        sums.append(buffer.count)
        for i in buffer.indices { buffer[i] *= Float(worldSize) }
    }
    func minMax(_ value: UInt64) -> (min: UInt64, max: UInt64) { (value, value) }
    func broadcast(_ bytes: [UInt8]) -> [UInt8] { bytes }
    func barrier() {}
    func abort(code: Int32) -> Never { fatalError("abort \(code)") }
}

/// The data-parallel exchange without MPI (the 2-rank equality with one process is
/// scripts/test_mpi.sh's): what travels exact and what as sketches, bytes, buckets, batch shares.
final class DataParallelExchangeTests: XCTestCase {
    override func tearDown() { SketchExchange.collective = nil }

    func trainer(estimators: String, accumulate: Int = 1) throws -> Trainer {
        var rng = RNG(seed: 7)
        let model = LlamaModel(config: tinyLlamaConfig(), rng: &rng)
        _ = model.assignEstimators(try EstimatorAssignment(parsing: estimators), seed: 1, skip: { $0 == "head" })
        var options = TrainingOptions()
        options.batch = 4; options.seq = 8; options.steps = 10; options.warmup = 0; options.clip = 1
        options.gradAccum = accumulate
        let opt = try OptimizerSpec(parsing: "adamw").make(parameters: model.namedParameters(), learningRate: 1e-2,
                                                           weightDecay: 0, seed: 0)
        return Trainer(model: model, optimizer: opt, data: TokenDataset(tokens: randomTokenIDs(2000, vocab: 50, seed: 8)),
                       options: options)
    }

    func testExactGradientsGoInBucketsAndSketchedWeightsSendOnlyP() throws {
        for spec in ["default=exact", "default=haar(rank:4)", "default=gradlite(rank:4,feedback:on)"] {
            let t = try trainer(estimators: spec)
            let ranks = MirrorRanks(2)
            let exchange = DataParallelExchange(collective: ranks, model: t.model, bucketBytes: 4 * 1000)
            t.exchange = exchange
            let m = t.trainStep()
            let sketched = t.model.namedLinears.filter { DataParallelExchange.exchangesSketch($0.1.estimator) }
            let sketchedIDs = Set(sketched.map { ObjectIdentifier($0.1.weight) })
            let exactFloats = t.model.parameters.filter { $0.requiresGrad && !sketchedIDs.contains(ObjectIdentifier($0)) }
                .reduce(0) { $0 + $1.value.count }
            // P is (m, k) per weight, k = 4; the refreshes of gradlite's core basis add (n, k − p) per sketch.
            let pFloats = sketched.reduce(0) { $0 + $1.1.outFeatures * 4 }
            XCTAssertEqual(exchange.sketchedWeightCount, spec == "default=exact" ? 0 : 14, spec)
            XCTAssertEqual(m.exchangeBytes?["exact"], exactFloats * 4, spec)
            XCTAssertEqual(m.exchangeBytes?["norms"], 4, spec)
            if spec.contains("haar") { XCTAssertEqual(m.exchangeBytes?["sketch"], pFloats * 4, spec) }
            if spec.contains("gradlite") { XCTAssertGreaterThan(m.exchangeBytes?["sketch"] ?? 0, pFloats * 4, spec) }
            if spec == "default=exact" { XCTAssertEqual(m.exchangeBytes?["sketch"], 0) }
            // Buckets of at most 1000 floats, except a larger gradient on its own.
            let exactSums = ranks.sums.filter { $0 > 4 * 4 }
            XCTAssertGreaterThan(exactSums.count, 1, spec)
            XCTAssertTrue(m.loss.isFinite && m.gradNorm!.isFinite, spec)
            SketchExchange.collective = nil
        }
    }

    /// Identical ranks: each projection estimator's Ĝ formed from the mean P (and a refresh from
    /// the summed `xᵀ(x V)`) must be the one-process Ĝ, over a few steps (bases, H and Σ carry over).
    func testSketchExchangeOverIdenticalRanksIsTheOneProcessEstimate() throws {
        let n = 24, m = 10
        var rng = RNG(seed: 3)
        let xs = (0..<3).map { _ in Tensor.randomNormal([32, n], rng: &rng) }
        let deltas = (0..<3).map { _ in Tensor.randomNormal([32, m], rng: &rng) }
        for spec in ["lowrank(rank:6,refresh:2)", "haar(rank:6)", "gaussian(rank:6)", "optimal(rank:6,refresh:2)",
                     "gradlite(rank:8,refresh:2)", "gradlite(rank:8,refresh:2,feedback:on)"] {
            func estimates(_ collective: Collective?) throws -> [[Float]] {
                let e = try EstimatorAssignment(parsing: "default=\(spec)").estimator(forPath: "w", weightShape: [m, n], seed: 5)
                SketchExchange.collective = collective
                defer { SketchExchange.collective = nil }
                return zip(xs, deltas).map { x, d in
                    let saved = e.save(input: x, weightShape: [m, n])
                    return e.weightGradient(outputGradient: d, saved: saved, weightShape: [m, n]).scalars
                }
            }
            let one = try estimates(nil), two = try estimates(MirrorRanks(2))
            for (step, (a, b)) in zip(one, two).enumerated() {
                let diff = zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }, norm = a.reduce(0) { $0 + $1 * $1 }
                XCTAssertLessThan((diff / norm).squareRoot(), 1e-5, "\(spec) step \(step)")
            }
        }
    }

    /// A world of one through the whole exchange path (hooks filling buckets during the backward,
    /// the rest after, the means written back) must leave the one-process run bit for bit, with
    /// and without accumulation over micro-batches.
    func testBucketsFilledFromHooksWriteBackEveryGradient() throws {
        for accumulate in [1, 2] {
            let one = try trainer(estimators: "default=exact", accumulate: accumulate)
            let world = try trainer(estimators: "default=exact", accumulate: accumulate)
            let ranks = MirrorRanks(1)
            world.exchange = DataParallelExchange(collective: ranks, model: world.model, bucketBytes: 4 * 700)
            for _ in 0..<3 { XCTAssertEqual(one.trainStep().loss, world.trainStep().loss, "accumulate \(accumulate)") }
            XCTAssertGreaterThan(ranks.sums.count, 3 * 2)
            let a = one.model.namedParameters().map { $0.1.value.scalars }, b = world.model.namedParameters().map { $0.1.value.scalars }
            XCTAssertEqual(a, b, "accumulate \(accumulate)")
            SketchExchange.collective = nil
        }
    }

    /// PowerSGD after its plain steps: each compressible matrix sends (m + n)·r floats, the rest
    /// stays exact, and the step still trains on finite gradients.
    func testPowerSGDSendsTheFactorsOfEachMatrix() throws {
        let t = try trainer(estimators: "default=exact")
        let power = PowerSGDCompression(rank: 2, plainSteps: 1, seed: 3)
        let exchange = DataParallelExchange(collective: MirrorRanks(2), model: t.model, powerSGD: power)
        t.exchange = exchange
        let plain = t.trainStep()
        XCTAssertEqual(plain.exchangeBytes?["powersgd"], 0)
        let compressed = t.trainStep()
        let matrices = t.model.parameters.filter { $0.requiresGrad && power.compresses($0) }
        XCTAssertFalse(matrices.isEmpty)
        XCTAssertEqual(compressed.exchangeBytes?["powersgd"], matrices.reduce(0) { $0 + ($1.shape[0] + $1.shape[1]) * 2 * 4 })
        let rest = t.model.parameters.filter { $0.requiresGrad && !power.compresses($0) }.reduce(0) { $0 + $1.value.count }
        XCTAssertEqual(compressed.exchangeBytes?["exact"], rest * 4)
        XCTAssertTrue(compressed.loss.isFinite && compressed.gradNorm!.isFinite)
        let resumed = PowerSGDCompression(rank: 2, plainSteps: 10, seed: 3, startingStep: 12)
        XCTAssertTrue(resumed.isCompressing, "a resumed run does not repeat the plain steps")
        XCTAssertEqual(resumed.step, 12)
        XCTAssertThrowsError(try PretrainSession.parseCompression("powersgd(rank:0)"))
        XCTAssertEqual(try PretrainSession.parseCompression("powersgd"), 4)
        XCTAssertNil(try PretrainSession.parseCompression("none"))
    }

    func testSharesAreContiguousInRankOrder() {
        final class Rank: GradientExchange {
            let rank: Int, worldSize: Int
            init(_ r: Int, of w: Int) { rank = r; worldSize = w }
            func beginStep() {}
            func willRunBackward(isLast: Bool) {}
            func exchangeGradients(_ parameters: [Parameter]) {}
            func meanOverRanks(_ value: Float) -> Float { value }
            var bytesThisStep: [String: Int]? { nil }
        }
        XCTAssertEqual((0..<4).map { Rank($0, of: 4).share(of: 8) }, [0..<2, 2..<4, 4..<6, 6..<8])
        XCTAssertEqual(SingleProcessExchange().share(of: 8), 0..<8)
    }
}
