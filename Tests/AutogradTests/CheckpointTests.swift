import Autograd
import Tensor
import TestSupport
import XCTest

/// A forward-mutated object (like an estimator's step counter or a dropout RNG): each forward
/// uses the next scale. Checkpointed recomputation must see the same scale as the original pass.
final class ScaleSchedule: RecomputeStateful {
    var step = 0
    var recomputedSteps: [Int] = []

    func next() -> Float {
        Checkpointing.willMutate(self)
        step += 1
        if Checkpointing.isRecomputing { recomputedSteps.append(step) }
        return 1 + 0.5 * Float(step)
    }

    func captureRecomputeState() -> Any { step }
    func restoreRecomputeState(_ state: Any) { step = state as! Int }
}

/// Checkpointed segments: same gradients as the plain graph (to 1e-5 absolute), fewer saved
/// bytes before the backward, hooks fire once, stateful objects are rewound for the recompute.
final class CheckpointTests: XCTestCase {
    override func setUp() { Tape.current.reset() }

    let w1 = randomParameter([16, 8], seed: 1, std: 0.3, name: "w1")
    let w2 = randomParameter([8, 16], seed: 2, std: 0.3, name: "w2")
    let x = randomParameter([32, 8], seed: 3, name: "x")

    func block(_ v: Variable) -> Variable {
        linear(linear(v, w1.variable).tanh(), w2.variable).silu() + v
    }

    func gradients(checkpointed: Bool) -> (grads: [Tensor], saved: Int) {
        for p in [w1, w2, x] { p.zeroGrad() }
        let h = checkpointed ? checkpoint([x.variable]) { self.block($0[0]) } : block(x.variable)
        let loss = (h * h).sum()
        let saved = Tape.current.savedBytes
        loss.backward()
        return ([w1.grad!, w2.grad!, x.grad!], saved)
    }

    func testCheckpointMatchesPlainGradientsWithLessSavedMemory() {
        let plain = gradients(checkpointed: false)
        let ckpt = gradients(checkpointed: true)
        for (a, b) in zip(plain.grads, ckpt.grads) { XCTAssertLessThanOrEqual(maxAbsDifference(a, b), 1e-5) }
        // Checkpointed: x (input) and h (saved twice by h∘h, one storage) only; plain also keeps
        // the hidden activations and the weights the input gradients need.
        XCTAssertEqual(ckpt.saved, x.value.bytes + 32 * 8 * 4)
        XCTAssertLessThan(ckpt.saved, plain.saved)
        XCTAssertEqual(Tape.current.nodeCount, 0)
    }

    func testCheckpointNodeIsLabelledAndHooksFireOnce() {
        var calls: [String: Int] = [:]
        for p in [w1, w2, x] { p.onGradientComplete { calls[$0.name, default: 0] += 1 } }
        defer { for p in [w1, w2, x] { p.removeGradientHooks() } }
        let h = Tape.current.withLabel("layers.3") { checkpoint([x.variable], label: "ckpt") { self.block($0[0]) } }
        XCTAssertEqual(Tape.current.savedEntries.first?.op, "ckpt")
        XCTAssertEqual(Tape.current.savedEntries.first?.label, "layers.3")
        h.sum().backward()
        XCTAssertEqual(calls, ["w1": 1, "w2": 1, "x": 1])
    }

    func testCheckpointWithConstantInputStillTrainsParameters() {
        let c = Variable(randomTensor([4, 8], seed: 4))
        let plainLoss = { self.block(c).sum() }
        w1.zeroGrad()
        plainLoss().backward()
        let g = w1.grad!.copy()
        w1.zeroGrad()
        checkpoint([c]) { self.block($0[0]) }.sum().backward()
        XCTAssertLessThanOrEqual(maxAbsDifference(w1.grad!, g), 1e-5)
    }

    func testParameterCategoryIsPreservedWhenPassedAsInput() {
        // A parameter's value passed as a segment input must stay counted under `.parameter`.
        let before = Memory.stats.live(.parameter)
        checkpoint([x.variable]) { self.block($0[0]) }.sum().backward()
        XCTAssertEqual(x.value.storage.category, .parameter)
        XCTAssertEqual(Memory.stats.live(.parameter), before)
    }

    func testRecomputeStatefulIsRewound() {
        let schedule = ScaleSchedule()
        func scaled(_ v: Variable) -> Variable { (v * schedule.next()).tanh() * w1.variable.sum() }
        // Plain reference at step 1.
        x.zeroGrad(); w1.zeroGrad()
        (scaled(x.variable).square()).sum().backward()
        let gx = x.grad!.copy(), gw = w1.grad!.copy()
        XCTAssertEqual(schedule.step, 1)
        // Checkpointed from the same state: forward at step 1, recompute must also use step 1.
        schedule.step = 0
        x.zeroGrad(); w1.zeroGrad()
        let h = checkpoint([x.variable]) { scaled($0[0]) }
        XCTAssertEqual(schedule.step, 1)
        h.square().sum().backward()
        XCTAssertEqual(schedule.recomputedSteps, [1], "the recompute saw the original step")
        XCTAssertEqual(schedule.step, 1, "state after the backward is the state after the forward")
        XCTAssertLessThanOrEqual(maxAbsDifference(x.grad!, gx), 1e-5)
        XCTAssertLessThanOrEqual(maxAbsDifference(w1.grad!, gw), 1e-5)
        XCTAssertFalse(Checkpointing.isRecomputing)
    }

    func testCheckpointGradientCheck() {
        let err = maxGradientError([w1, x]) {
            checkpoint([x.variable]) { self.block($0[0]) }.square().mean()
        }
        XCTAssertLessThan(err, 5e-3)
    }
}
