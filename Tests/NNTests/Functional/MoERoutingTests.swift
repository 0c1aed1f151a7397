import Autograd
@testable import NN
import Tensor
import TestSupport
import XCTest

final class MoERoutingTests: XCTestCase {
    func testTopKChoosesLargestAndRenormalises() {
        let probs = Tensor([0.1, 0.5, 0.15, 0.25,
                            0.4, 0.1, 0.4, 0.1], shape: [2, 4])
        let (gates, routing) = topKGates(Variable(probs), k: 2)
        XCTAssertEqual(routing.choice, [1, 3, 0, 2]) // ties go to the lower index first
        XCTAssertEqual(gates.value.scalars[0], 0.5 / 0.75, accuracy: 1e-6)
        XCTAssertEqual(gates.value.scalars[1], 0.25 / 0.75, accuracy: 1e-6)
        XCTAssertEqual(gates.value.scalars[2], 0.5, accuracy: 1e-6)
        XCTAssertEqual(routing.tokensPerExpert, [1, 1, 1, 1])
        XCTAssertEqual(routing.tokenIndices[1], [0])
        XCTAssertEqual(routing.gateIndices[2], [3])
    }

    /// Gates through the router softmax: finite differences on the logits (the choice is stable
    /// under ±1e-2 perturbations for these seeds; tolerance 1e-2 of the largest gradient).
    func testGateGradientMatchesFiniteDifferences() {
        let logits = randomParameter([5, 4], seed: 1, std: 2)
        let probe = Variable(randomTensor([5, 2], seed: 2))
        let err = maxGradientError([logits], h: 1e-3) { (topKGates(logits.variable.softmax(), k: 2).gates * probe).sum() }
        XCTAssertLessThan(err, 1e-2)
    }

    func testCombineGradientMatchesFiniteDifferences() {
        let logits = randomParameter([6, 3], seed: 3, std: 2)
        let routing = topKGates(Variable(logits.value.softmax()), k: 2).routing
        let outputs = (0..<3).map { e in randomParameter([routing.tokenIndices[e].count, 5], seed: 10 + UInt64(e)) }
        let probe = Variable(randomTensor([6, 5], seed: 4))
        let err = maxGradientError([logits] + outputs, h: 1e-3) {
            let gates = topKGates(logits.variable.softmax(), k: 2).gates
            let ys: [Variable?] = outputs.map { $0.shape[0] == 0 ? nil : $0.variable }
            return (combineExperts(ys, gates: gates, routing: routing, width: 5) * probe).sum()
        }
        XCTAssertLessThan(err, 1e-2)
    }

    func testBalanceLossIsOneWhenUniformAndHasRouterGradient() {
        let uniform = Variable(Tensor.full([4, 2], 0.5))
        let routing = ExpertRouting(tokens: 4, experts: 2, topK: 1, choice: [0, 1, 0, 1])
        XCTAssertEqual(loadBalancingLoss(uniform, routing: routing).value.item, 1, accuracy: 1e-6)
        let logits = randomParameter([4, 3], seed: 5)
        let fixed = ExpertRouting(tokens: 4, experts: 3, topK: 1, choice: [0, 0, 1, 2])
        let err = maxGradientError([logits]) { loadBalancingLoss(logits.variable.softmax(), routing: fixed) }
        XCTAssertLessThan(err, 1e-2)
    }
}
