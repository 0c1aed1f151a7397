import Autograd
@testable import NN
import Tensor
import XCTest

/// Save → load → continue must reproduce an uninterrupted run bit for bit, for every optimizer.
final class OptimStateTests: XCTestCase {
    private let specs = ["adamw", "sgd(momentum:0.9)", "galore(rank:2,gap:2)", "grasswalk(rank:2,gap:2)",
                         "grassjump(rank:2,gap:2)", "lomo", "adalomo"]

    private func makeParams() -> [(String, Parameter)] {
        [("layers.0.attention.wq.weight", refParameter(refWave(48, seed: 1), [6, 8])),
         ("layers.0.mlp.down.weight", refParameter(refWave(48, seed: 2), [8, 6])),
         ("norm.weight", refParameter(refWave(6, seed: 3), [6]))]
    }

    /// One step from fixed gradients: through the hooks (loss `Σ W∘C`) for the fused optimizers.
    private func step(_ opt: Optimizer, _ ps: [(String, Parameter)], _ k: Int) {
        let grads = ps.enumerated().map { i, p in refTensor(refWave(p.1.value.count, seed: Double(10 * k + i)), p.1.shape) }
        if opt.updatesDuringBackward {
            var loss: Variable?
            for (p, g) in zip(ps, grads) {
                let term = (p.1.variable * Variable(g)).sum()
                loss = loss.map { $0 + term } ?? term
            }
            loss!.backward()
        } else {
            for (p, g) in zip(ps, grads) { p.1.grad = g }
        }
        opt.step()
        opt.zeroGrad()
    }

    func testRoundTripContinuesBitForBit() throws {
        for text in specs {
            let spec = try OptimizerSpec(parsing: text)
            let a = makeParams(), b = makeParams()
            let optA = spec.make(parameters: a, learningRate: 0.01, weightDecay: 0.1, seed: 7)
            for k in 1...3 { step(optA, a, k) } // crosses a basis refresh (gap 2)
            let saved = optA.stateTensors()
            XCTAssertEqual(saved["step"]?.item, 3, text)
            let optB = spec.make(parameters: b, learningRate: 0.01, weightDecay: 0.1, seed: 7)
            for (pa, pb) in zip(a, b) { pb.1.value = pa.1.value.copy() }
            try optB.loadState(saved)
            assertSameStateRef(optB.stateTensors(), saved)
            XCTAssertEqual(optB.stepCount, 3, text)
            let storages = a.map { ObjectIdentifier($0.1.value.storage) }
            for k in 4...5 { step(optA, a, k); step(optB, b, k) }
            XCTAssertEqual(a.map { ObjectIdentifier($0.1.value.storage) }, storages, "\(text): updates in place")
            for (pa, pb) in zip(a, b) { XCTAssertEqual(refBits(pa.1.value), refBits(pb.1.value), "\(text) \(pa.0)") }
            assertSameStateRef(optA.stateTensors(), optB.stateTensors())
        }
    }

    func testStateIsCountedAsOptimizerMemoryAfterLoading() throws {
        let ps = makeParams()
        let opt = GaLore(parameters: ps, learningRate: 0.01, options: SubspaceOptions(rank: 2))
        // Tensors from a checkpoint are workspace here; the loaded copies are optimizer memory.
        let copies = opt.stateTensors().mapValues { t in Memory.withCategory(.workspace) { t.copy() } }
        let before = Memory.stats.live(.optimizer)
        try opt.loadState(copies)
        XCTAssertEqual(Memory.stats.live(.optimizer), before)
    }

    func testLoadErrorListsEveryProblemAndChangesNothing() {
        let ps = makeParams()
        let opt = AdamW(parameters: ps, learningRate: 0.01)
        var state = opt.stateTensors()
        let original = state
        state["layers.0.attention.wq.weight.exp_avg"] = nil
        state["norm.weight.exp_avg_sq"] = Tensor.ones([7])
        state["norm.weight.exp_avg"] = Tensor.ones([6])
        state["layers.9.extra"] = Tensor.zeros([1])
        state["step"] = Tensor(scalar: 1.5)
        XCTAssertThrowsError(try opt.loadState(state)) { e in
            let d = String(describing: e)
            XCTAssertTrue(e is OptimizerStateError)
            XCTAssertTrue(d.contains("missing layers.0.attention.wq.weight.exp_avg [6, 8]"), d)
            XCTAssertTrue(d.contains("norm.weight.exp_avg_sq (expected [6], found [7])"), d)
            XCTAssertTrue(d.contains("unexpected layers.9.extra"), d)
            XCTAssertTrue(d.contains("invalid value in step"), d)
            XCTAssertFalse(d.contains("\n"))
        }
        assertSameStateRef(opt.stateTensors(), original)
    }
}
