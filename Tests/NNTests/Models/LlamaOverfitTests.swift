import Autograd
import Estimators
@testable import NN
import Tensor
import TestSupport
import XCTest

/// A tiny model must memorise one fixed batch with AdamW (lr 1e-2): the loss starts near
/// log(50) ≈ 3.9 and must fall below the stated bound within the stated number of steps, with the
/// exact backward and with every estimator on every block linear layer (rank 8 of n = 16 or 24).
final class LlamaOverfitTests: XCTestCase {
    /// - Parameter override: when given, the estimator of every block linear layer instead of `estimators`.
    func overfit(_ config: LlamaConfig, estimators: String = "default=exact", override: (() -> LinearEstimator)? = nil,
                 steps: Int) throws -> (first: Float, last: Float) {
        var rng = RNG(seed: 21)
        let model = LlamaModel(config: config, rng: &rng)
        let assignment = try EstimatorAssignment(parsing: estimators)
        model.assignEstimators { path, layer in
            if path == "head" { return nil }
            if let override, path.hasPrefix("layers.") { return override() }
            return assignment.estimator(forPath: path, weightShape: layer.weight.shape, seed: 3)
        }
        model.checkpointBlocks = model.namedLinears.contains { $0.1.estimator.requestsCheckpointing }
        let (batch, seq) = (2, 16)
        let stream = randomTokenIDs(batch * (seq + 1), vocab: config.vocabSize, seed: 22)
        var tokens: [Int32] = [], targets: [Int32] = []
        for b in 0..<batch {
            let row = stream[(b * (seq + 1))..<((b + 1) * (seq + 1))]
            tokens += row.dropLast()
            targets += row.dropFirst()
        }
        let adam = AdamW(parameters: model.namedParameters(), learningRate: 1e-2)
        var first: Float = 0, last: Float = 0
        for step in 0..<steps {
            let loss = model.loss(tokens: tokens, targets: targets, batch: batch, seq: seq)
            loss.backward()
            adam.step()
            adam.zeroGrad()
            if step == 0 { first = model.lastCrossEntropy! }
            last = model.lastCrossEntropy!
        }
        return (first, last)
    }

    /// Bound: cross-entropy < 0.3 after 40 steps.
    func testTinyLlamaOverfitsFixedBatch() throws {
        let (first, last) = try overfit(tinyLlamaConfig(), steps: 40)
        XCTAssertGreaterThan(first, 3.5)
        XCTAssertLessThan(last, 0.3)
    }

    /// Bound: cross-entropy < 0.3 after 40 steps (4 experts, top-2, shared expert, balance 0.01).
    func testTinyMoELlamaOverfitsFixedBatch() throws {
        let (first, last) = try overfit(tinyLlamaConfig(moe: MoEConfig(experts: 4, topK: 2, sharedExpert: true)), steps: 40)
        XCTAssertGreaterThan(first, 3.5)
        XCTAssertLessThan(last, 0.3)
    }

    /// Negative control: with dW = 0 in every block layer only the embedding and head learn, and
    /// that must fail the bound every real estimator meets (otherwise the bound tests nothing).
    func testZeroGradientEstimatorFailsTheBound() throws {
        for moe in [nil, MoEConfig(experts: 4, topK: 2)] {
            let (_, last) = try overfit(tinyLlamaConfig(moe: moe), override: { ZeroGradientEstimator() }, steps: 80)
            if ProcessInfo.processInfo.environment["OVERFIT_PRINT"] != nil { print("OVERFIT zero: \(last)") }
            XCTAssertGreaterThan(last, 2 * Self.estimatorBound, moe == nil ? "dense" : "MoE")
        }
    }

    static let everyEstimator = ["recompute", "lowrank(rank:8,refresh:5)", "gaussian(rank:8)", "haar(rank:8)",
                                 "optimal(rank:8,refresh:5)", "gradlite(rank:8)", "gradlite(rank:8,feedback:on)",
                                 "gradlite(rank:8,adaptive:off)"]

    /// Bound: cross-entropy < `estimatorBound` after 80 steps for every estimator, dense and MoE
    /// (measured 0.0097–0.012). The embedding and head stay exact and carry part of the
    /// memorisation: with dW = 0 in every block layer the loss stops at 0.11–0.17
    /// (`testZeroGradientEstimatorFailsTheBound`), so the bound sits well between the two.
    static let estimatorBound: Float = 0.03

    func testEveryEstimatorOverfitsFixedBatch() throws {
        for moe in [nil, MoEConfig(experts: 4, topK: 2)] {
            for spec in Self.everyEstimator {
                let (first, last) = try overfit(tinyLlamaConfig(moe: moe), estimators: "default=exact; layers.*=\(spec)", steps: 80)
                if ProcessInfo.processInfo.environment["OVERFIT_PRINT"] != nil { print("OVERFIT \(spec): \(last)") }
                XCTAssertGreaterThan(first, 3.5, spec)
                XCTAssertLessThan(last, Self.estimatorBound, "\(spec)\(moe == nil ? "" : " (MoE)")")
            }
        }
    }
}

/// Returns a zero weight gradient: the negative control of the overfit test.
final class ZeroGradientEstimator: LinearEstimator {
    var description: String { "zero" }
    func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved { EstimatorSaved(activations: []) }
    func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
        Tensor.zeros(weightShape)
    }
    func savedBytes(rows: Int, weightShape: [Int]) -> Int { 0 }
}
