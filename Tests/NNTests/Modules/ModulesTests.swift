import Autograd
import Estimators
@testable import NN
import Tensor
import TestSupport
import XCTest

final class ModulesTests: XCTestCase {
    func makeMoE(shared: Bool) -> MixtureOfExperts {
        var rng = RNG(seed: 1)
        return MixtureOfExperts(dim: 4, hidden: 6, experts: 3, topK: 2, sharedExpert: shared, rng: &rng)
    }

    func testMoEPathsIncludeOptionalSharedExpertInDeclarationOrder() {
        let paths = makeMoE(shared: true).namedParameters().map(\.0)
        XCTAssertEqual(paths, ["router.weight"]
            + (0..<3).flatMap { e in ["gate", "up", "down"].map { "experts.\(e).\($0).weight" } }
            + ["shared.gate.weight", "shared.up.weight", "shared.down.weight"])
        XCTAssertEqual(makeMoE(shared: false).namedParameters().count, 10)
    }

    func testAssignEstimatorsByPath() {
        let moe = makeMoE(shared: false)
        let assigned = moe.assignEstimators { path, _ in globMatch("experts.*", path) ? TaggedEstimator(path) : nil }
        XCTAssertEqual(assigned.count, 9)
        XCTAssertEqual(moe.experts[2].up.estimator.description, "tagged(experts.2.up)")
        XCTAssertTrue(moe.router.estimator is ExactEstimator)
    }

    func testFreezeByParameterOrModulePath() {
        let moe = makeMoE(shared: true)
        XCTAssertEqual(moe.freeze(matching: "experts.1").count, 3)
        XCTAssertEqual(moe.freeze(matching: "*.down.weight").count, 4) // 3 experts + shared; one was frozen already
        XCTAssertFalse(moe.experts[1].gate.weight.requiresGrad)
        XCTAssertFalse(moe.shared!.down.weight.requiresGrad)
        XCTAssertTrue(moe.experts[0].up.weight.requiresGrad)
        moe.zeroGrad()
        moe.forward(Variable(randomTensor([5, 4], seed: 2))).output.sum().backward()
        XCTAssertNil(moe.experts[1].gate.weight.grad)
        XCTAssertNotNil(moe.router.weight.grad)
        moe.unfreeze(matching: "*")
        XCTAssertTrue(moe.parameters.allSatisfy(\.requiresGrad))
    }

    func testTrainEvalPropagates() {
        let moe = makeMoE(shared: true)
        moe.eval()
        XCTAssertTrue(moe.namedModules().allSatisfy { !$0.1.isTraining })
        moe.train()
        XCTAssertTrue(moe.shared!.gate.isTraining)
    }

    func testLinearGradientWithDefaultAndAssignedEstimator() {
        var rng = RNG(seed: 12)
        let layer = Linear(4, 3, std: 0.5, rng: &rng)
        let x = randomParameter([2, 5, 4], seed: 13), probe = Variable(randomTensor([2, 5, 3], seed: 14))
        XCTAssertLessThan(maxGradientError(layer.parameters + [x]) { (layer(x.variable) * probe).sum() }, 1e-2)
        layer.estimator = TaggedEstimator("linear")
        XCTAssertLessThan(maxGradientError(layer.parameters + [x]) { (layer(x.variable) * probe).sum() }, 1e-2)
    }

    func testSwiGLUMLPGradient() {
        var rng = RNG(seed: 3)
        let mlp = SwiGLUMLP(dim: 5, hidden: 7, std: 0.5, rng: &rng)
        let x = randomParameter([3, 5], seed: 4), probe = Variable(randomTensor([3, 5], seed: 5))
        let err = maxGradientError(mlp.parameters + [x]) { (mlp(x.variable) * probe).sum() }
        XCTAssertLessThan(err, 1e-2)
    }

    func testAttentionLayerGradient() {
        var rng = RNG(seed: 6)
        let rope = RotaryEmbedding(headDim: 4, maxPositions: 8)
        let attention = CausalSelfAttention(dim: 8, heads: 2, kvHeads: 1, rotary: rope, std: 0.5, rng: &rng)
        let x = randomParameter([6, 8], seed: 7), probe = Variable(randomTensor([6, 8], seed: 8))
        let err = maxGradientError(attention.parameters + [x]) { (attention(x.variable, batch: 2, seq: 3) * probe).sum() }
        XCTAssertLessThan(err, 1e-2)
    }

    func testTransformerBlockGradient() {
        var rng = RNG(seed: 9)
        let rope = RotaryEmbedding(headDim: 4, maxPositions: 8)
        let block = TransformerBlock(attentionNorm: RMSNorm(dim: 8),
                                     attention: CausalSelfAttention(dim: 8, heads: 2, kvHeads: 2, rotary: rope, std: 0.4, rng: &rng),
                                     mlpNorm: RMSNorm(dim: 8), mlp: SwiGLUMLP(dim: 8, hidden: 12, std: 0.4, rng: &rng))
        XCTAssertEqual(block.namedParameters().map(\.0), [
            "attentionNorm.weight", "attention.wq.weight", "attention.wk.weight", "attention.wv.weight", "attention.wo.weight",
            "mlpNorm.weight", "mlp.gate.weight", "mlp.up.weight", "mlp.down.weight",
        ])
        let x = randomParameter([6, 8], seed: 10), probe = Variable(randomTensor([6, 8], seed: 11))
        let err = maxGradientError(block.parameters + [x]) { (block.forward(x.variable, batch: 2, seq: 3).output * probe).sum() }
        XCTAssertLessThan(err, 1e-2)
    }
}
