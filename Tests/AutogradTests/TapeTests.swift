import Autograd
import Tensor
import TestSupport
import XCTest

/// Tape behaviour: what is recorded, what backward visits, saved-memory accounting and release,
/// gradient accumulation, hooks, detach, custom ops.
final class TapeTests: XCTestCase {
    override func setUp() { Tape.current.reset() }

    func testOpsRecordOnlyWhenAGradientIsNeeded() {
        let c = Variable(randomTensor([3, 3], seed: 1))
        _ = (c * c).exp().sum()
        XCTAssertEqual(Tape.current.nodeCount, 0, "constants record nothing")
        let p = randomParameter([3, 3], seed: 2)
        let y = withNoGrad { (p.variable * c).sum() }
        XCTAssertEqual(Tape.current.nodeCount, 0, "nothing inside withNoGrad")
        XCTAssertFalse(y.requiresGrad)
        let frozen = Parameter(randomTensor([3, 3], seed: 3), requiresGrad: false)
        _ = linear(frozen.variable, c)
        XCTAssertEqual(Tape.current.nodeCount, 0, "a frozen parameter is a constant")
        let z = p.variable * c
        XCTAssertEqual(Tape.current.nodeCount, 1)
        XCTAssertTrue(z.requiresGrad)
        // The forward keeps only what the needed gradient uses: d(p∘c)/dp needs c, not p.
        XCTAssertEqual(Tape.current.savedBytes, c.value.bytes)
        _ = z.exp()
        XCTAssertEqual(Tape.current.nodeCount, 2)
        Tape.current.reset()
        XCTAssertEqual(Tape.current.nodeCount, 0)
        XCTAssertEqual(Tape.current.savedBytes, 0)
    }

    func testBackwardClearsTheTape() {
        let p = randomParameter([4], seed: 4)
        (p.variable * p.variable).sum().backward()
        XCTAssertEqual(Tape.current.nodeCount, 0)
        assertClose(p.grad!, p.value * 2, tol: 1e-6)
    }

    func testDetachCutsTheGraph() {
        let p = randomParameter([5], seed: 5)
        let y = p.variable * 2
        XCTAssertFalse(y.detached().requiresGrad)
        // z = Σ stop(y) · y: only the second factor carries gradient → dz/dp = 2y = 4p.
        (y.detached() * y).sum().backward()
        assertClose(p.grad!, p.value * 4, tol: 1e-6)
        p.zeroGrad()
        let y2 = p.variable * 2
        (y2 * y2).sum().backward()
        assertClose(p.grad!, p.value * 8, tol: 1e-6)
    }

    func testGradientsAccumulateOverBackwardPasses() {
        let w = randomParameter([3, 4], seed: 6)
        let x1 = Variable(randomTensor([2, 4], seed: 7)), x2 = Variable(randomTensor([5, 4], seed: 8))
        let loss = { (x: Variable) in linear(x, w.variable).tanh().sum() }
        loss(x1).backward()
        let g1 = w.grad!.copy()
        w.zeroGrad()
        loss(x2).backward()
        let g2 = w.grad!.copy()
        w.zeroGrad()
        loss(x1).backward()
        loss(x2).backward()
        assertClose(w.grad!, g1 + g2, tol: 1e-6)
        XCTAssertNil({ w.zeroGrad(); return w.grad }())
    }

    func testExplicitUpstreamGradient() {
        let p = randomParameter([2, 3], seed: 9)
        let g = randomTensor([2, 3], seed: 10)
        (p.variable * 3).backward(gradient: g)
        assertClose(p.grad!, g * 3, tol: 1e-6)
    }

    func testHooksFireOncePerBackwardAfterAllContributions() {
        let p = randomParameter([4], seed: 11, name: "p"), q = randomParameter([4], seed: 12, name: "q")
        var calls = 0, qCalls = 0
        var gradAtHook: Tensor?
        p.onGradientComplete { param in calls += 1; gradAtHook = param.grad!.copy() }
        q.onGradientComplete { _ in qCalls += 1 }
        // p is used three times (two nodes); q only in a branch that does not reach the loss.
        _ = (q.variable * 5).exp()
        let loss = (p.variable * p.variable).sum() + p.variable.sum()
        loss.backward()
        XCTAssertEqual(calls, 1)
        XCTAssertEqual(qCalls, 0, "q's branch does not lead to the loss")
        assertClose(gradAtHook!, p.value * 2 + 1, tol: 1e-6, "the hook sees the complete gradient")
        p.zeroGrad()
        (p.variable * p.variable).sum().backward()
        XCTAssertEqual(calls, 2, "once more for the second backward")
        p.removeGradientHooks()
        (p.variable * 2).sum().backward()
        XCTAssertEqual(calls, 2)
    }

    func testHooksFireWhenNoGradientReachesAParameter() {
        // A custom op that returns nil for its input: the node below it gets no gradient, yet
        // p's hook fires (once) and its saved tensor is released.
        let p = randomParameter([3], seed: 31), q = randomParameter([3], seed: 32)
        var calls = 0
        p.onGradientComplete { _ in calls += 1 }
        let y = p.variable * q.variable
        let cut = Tape.current.record("cut", inputs: [y], output: y.value, saved: []) { _, _ in [nil] }
        (cut + q.variable).sum().backward()
        XCTAssertEqual(calls, 1)
        XCTAssertNil(p.grad)
        XCTAssertEqual(q.grad!.scalars, [1, 1, 1])
        XCTAssertEqual(Tape.current.savedBytes, 0)
    }

    func testHookFiresForParameterUsedDirectlyAsOutput() {
        let p = randomParameter([3], seed: 13)
        var calls = 0
        p.onGradientComplete { _ in calls += 1 }
        p.variable.backward(gradient: Tensor.ones([3]))
        XCTAssertEqual(calls, 1)
        XCTAssertEqual(p.grad!.scalars, [1, 1, 1])
    }

    func testBackwardVisitsOnlyNodesLeadingToTheOutput() {
        let p = randomParameter([3], seed: 14)
        var sideCalled = false, mainCalled = false
        let side = Tape.current.record("side", inputs: [p.variable], output: p.value * 3, saved: []) { g, _ in
            sideCalled = true; return [g * 3]
        }
        let main = Tape.current.record("main", inputs: [p.variable], output: p.value * 2, saved: []) { g, _ in
            mainCalled = true; return [g * 2]
        }
        _ = side.exp() // recorded after the output's producer too
        main.sum().backward()
        XCTAssertTrue(mainCalled)
        XCTAssertFalse(sideCalled)
        XCTAssertEqual(p.grad!.scalars, [2, 2, 2])
    }

    func testSavedEntriesReportOpLabelAndBytes() {
        let w = randomParameter([4, 5], seed: 15)
        let x = Variable(randomTensor([3, 5], seed: 16))
        let h = Tape.current.withLabel("layers.0") {
            Tape.current.withLabel("mlp") { linear(x, w.variable) }
        }
        XCTAssertEqual(Tape.current.currentLabel, "")
        _ = h.tanh()
        let entries = Tape.current.savedEntries
        XCTAssertEqual(entries.count, 2)
        XCTAssertEqual(entries[0].op, "matmul")
        XCTAssertEqual(entries[0].label, "layers.0.mlp")
        XCTAssertEqual(entries[0].bytes, 3 * 5 * 4, "linear keeps x (W needs a gradient, x does not)")
        XCTAssertEqual(entries[1].op, "tanh")
        XCTAssertEqual(entries[1].label, "")
        XCTAssertEqual(entries[1].bytes, 3 * 4 * 4)
        XCTAssertEqual(Tape.current.savedBytes, entries.reduce(0) { $0 + $1.bytes })
    }

    func testSavedBytesCountSharedStorageOnce() {
        let p = randomParameter([8], seed: 17)
        let y = p.variable.tanh()      // saves y
        _ = y * y                      // saves y twice (same storage)
        XCTAssertEqual(Tape.current.savedEntries.map(\.bytes), [32, 0], "y counts under the first node that keeps it")
        XCTAssertEqual(Tape.current.savedBytes, 32)
    }

    /// The documented example of `Tape.record` (Tape.swift), verbatim inside a test.
    func testDocumentedCustomOpExample() {
        let p = randomParameter([3, 7], seed: 18)
        let x = p.variable
        // y = x · 2 with a backward that only keeps the sign of the gradient.
        let y = Tape.current.record("signgrad-double", inputs: [x], output: x.value * 2, saved: []) { g, _ in
            [g.map({ $0.replacing(with: 2, where: $0 .> 0).replacing(with: -2, where: $0 .< 0) },
                   { $0 > 0 ? 2 : ($0 < 0 ? -2 : 0) })]
        }
        XCTAssertEqual(y.value.scalars, p.value.scalars.map { $0 * 2 })
        XCTAssertEqual(Tape.current.savedEntries.first?.op, "signgrad-double")
        let r = randomTensor([3, 7], seed: 19)
        (y * Variable(r)).sum().backward()
        XCTAssertEqual(p.grad!.scalars, r.scalars.map { $0 > 0 ? 2 : ($0 < 0 ? -2 : 0) })
        // "If no input needs a gradient (or recording is off) nothing is recorded."
        let c = Variable(Tensor.ones([2]))
        let out = Tape.current.record("signgrad-double", inputs: [c], output: c.value * 2, saved: []) { g, _ in [g] }
        XCTAssertFalse(out.requiresGrad)
        XCTAssertEqual(Tape.current.nodeCount, 0)
    }

    /// Saved tensors are released as soon as their node's backward has run: when the first
    /// layer's gradient completes (the last node processed), the activations saved by every
    /// later layer are already gone, although they were all live before the backward.
    func testSavedTensorsAreFreedDuringBackward() {
        let (rows, width, depth) = (256, 64, 6)
        let ws = (0..<depth).map { randomParameter([width, width], seed: 20 + UInt64($0), std: 0.1, name: "w\($0)") }
        let base = Memory.stats.live(.activation)
        var liveAtHook: [Int] = []
        for w in ws { w.onGradientComplete { _ in liveAtHook.append(Memory.stats.live(.activation) - base) } }
        let loss: Variable = {
            var h = Variable(randomTensor([rows, width], seed: 30))
            for w in ws { h = linear(h, w.variable).tanh() }
            return h.square().mean()
        }()
        let saved = Tape.current.savedBytes
        let liveBefore = Memory.stats.live(.activation) - base
        let layerBytes = rows * width * 4
        // Saved: the input and every tanh output (activations) plus the weights of layers ≥ 1,
        // whose input needs a gradient (parameters, counted under `.parameter`).
        XCTAssertEqual(saved, (depth + 1) * layerBytes + (depth - 1) * width * width * 4)
        XCTAssertGreaterThanOrEqual(liveBefore, (depth + 1) * layerBytes)
        Memory.resetPeak()
        loss.backward()
        XCTAssertEqual(liveAtHook.count, depth)
        // Hooks fire from the last layer to the first; live activations shrink monotonically.
        for (a, b) in zip(liveAtHook, liveAtHook.dropFirst()) { XCTAssertLessThanOrEqual(b, a) }
        XCTAssertLessThan(liveAtHook.last!, layerBytes / 4, "only the loss scalar is left when w0 completes")
        XCTAssertLessThanOrEqual(liveAtHook.first!, liveBefore - layerBytes, "the last layer's saved tensors are freed first")
        XCTAssertLessThanOrEqual(Memory.stats.peak(.activation) - base, liveBefore, "backward never adds activations")
        withExtendedLifetime(loss) {}
        for w in ws { w.removeGradientHooks() }
    }
}
