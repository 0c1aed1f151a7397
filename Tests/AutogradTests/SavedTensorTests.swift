@testable import Autograd
import Tensor
import TestSupport
import XCTest

/// Saved-tensor codecs on the tape: module scopes choose the codec of compressible saves, the tape
/// counts and frees encoded bytes, one tensor saved twice is encoded once, and the rounding noise
/// is keyed so a recomputation encodes what the first forward did.
final class SavedTensorTests: XCTestCase {
    override func setUp() {
        Tape.current.reset()
        Tape.codecNoise = CodecNoiseKey()
    }

    /// y = x ∘ w with the backward reading the saved x (compressible) and w (exact).
    func scaled(_ x: Variable, _ w: Parameter, op: String = "scaled") -> Variable {
        Tape.current.record(op, inputs: [x, w.variable], output: x.value * w.value,
                            saving: [.compressible(x.value), .exact(w.value)]) { g, saved in
            [g * saved[1], g * saved[0]]
        }
    }

    func testScopeCodecCompressesOnlyCompressibleTensors() {
        let x = Variable(randomTensor([8, 32], seed: 1))
        let w = randomParameter([8, 32], seed: 2, name: "w")
        for (codec, xBytes) in [(TensorCodec.fp32, 8 * 32 * 4), (.bf16, 8 * 32 * 2), (.int8, 8 * 32 + 8 * 4)] {
            Tape.current.reset()
            let y = Tape.current.withModuleScope(path: "layers.0.mlp", codec: codec) { scaled(x, w) }
            XCTAssertEqual(Tape.current.savedEntries.map(\.label), ["layers.0.mlp"])
            XCTAssertEqual(Tape.current.savedBytes, xBytes + w.value.bytes, "\(codec)")
            w.zeroGrad()
            y.sum().backward()
            // dL/dw = x as the backward saw it: x itself for fp32, its decoding otherwise.
            let expected = codec == .fp32 ? x.value : x.value.encoded(codec, noise: Tape.codecNoise.rng(path: "layers.0.mlp", op: "scaled", slot: 0)).decoded()
            XCTAssertEqual(w.grad!.scalars.map(\.bitPattern), expected.scalars.map(\.bitPattern), "\(codec)")
            if codec != .fp32 { XCTAssertNotEqual(w.grad!.scalars, x.value.scalars, "\(codec) changes what is saved") }
        }
    }

    func testLabelsNestAndKeepTheEnclosingCodec() {
        let x = Variable(randomTensor([4, 16], seed: 3))
        let w = randomParameter([4, 16], seed: 4)
        Tape.current.withModuleScope(path: "layers.1.attention", codec: .bf16) {
            _ = Tape.current.withLabel("inner") { scaled(x, w) }
            _ = Tape.current.withModuleScope(path: "", codec: .int8) { scaled(x, w) }
        }
        XCTAssertEqual(Tape.current.savedEntries.map(\.label), ["layers.1.attention.inner", "layers.1.attention"])
        XCTAssertEqual(Tape.current.savedEntries.map(\.bytes), [4 * 16 * 2 + w.value.bytes, 4 * 16 + 16],
                       "w, kept by both nodes, counts under the first")
        XCTAssertEqual(Tape.current.currentCodec, .fp32)
    }

    /// The input of q, k and v is saved by three nodes: one encoding, counted once.
    func testOneTensorSavedTwiceIsEncodedOnce() {
        let x = Variable(randomTensor([16, 64], seed: 5))
        let w1 = randomParameter([16, 64], seed: 6), w2 = randomParameter([16, 64], seed: 7)
        Tape.current.withModuleScope(path: "block", codec: .int8) {
            _ = scaled(x, w1, op: "a")
            _ = scaled(x, w2, op: "b")
        }
        XCTAssertEqual(Tape.current.savedBytes, (16 * 64 + 16 * 4) + 2 * w1.value.bytes)
        XCTAssertEqual(Tape.current.savedEntries.map(\.bytes), [(16 * 64 + 16 * 4) + w1.value.bytes, w2.value.bytes],
                       "the shared encoding counts under the first node that keeps it")
    }

    func testEncodedTensorsAreFreedByTheBackward() {
        let x = Variable(randomTensor([32, 128], seed: 8))
        let w = randomParameter([32, 128], seed: 9)
        let before = Memory.stats.live(.activation)
        let y = Tape.current.withModuleScope(path: "m", codec: .bf16) { scaled(x, w) }
        XCTAssertGreaterThanOrEqual(Memory.stats.live(.activation) - before, 32 * 128 * 2)
        y.sum().backward()
        withExtendedLifetime(y) {}
        XCTAssertEqual(Tape.current.savedBytes, 0)
    }

    /// The rounding of a compressible save is a pure function of (seed, step, micro-batch, path, op, slot).
    func testNoiseIsKeyedBySeedStepAndPath() {
        let x = Variable(randomTensor([4, 64], seed: 10))
        let w = randomParameter([4, 64], seed: 11)
        func gradient(_ key: CodecNoiseKey, path: String = "p") -> [Float] {
            Tape.codecNoise = key
            w.zeroGrad()
            Tape.current.withModuleScope(path: path, codec: .int8) { scaled(x, w) }.sum().backward()
            return w.grad!.scalars
        }
        let base = gradient(CodecNoiseKey(seed: 1, step: 3, microBatch: 0))
        XCTAssertEqual(base, gradient(CodecNoiseKey(seed: 1, step: 3, microBatch: 0)), "same key, same rounding")
        for other in [CodecNoiseKey(seed: 2, step: 3), CodecNoiseKey(seed: 1, step: 4), CodecNoiseKey(seed: 1, step: 3, microBatch: 1)] {
            XCTAssertNotEqual(base, gradient(other), "\(other)")
        }
        XCTAssertNotEqual(base, gradient(CodecNoiseKey(seed: 1, step: 3), path: "q"))
    }

    /// A checkpointed segment recomputes its forward in the backward: with the same noise key it
    /// encodes exactly what an unsegmented forward does, so gradients agree bit for bit.
    func testCheckpointedSegmentEncodesLikeThePlainForward() {
        let x = randomParameter([8, 32], seed: 12, name: "x")
        let w = randomParameter([8, 32], seed: 13, name: "w")
        Tape.codecNoise = CodecNoiseKey(seed: 5, step: 2)
        let body = { (v: Variable) in Tape.current.withModuleScope(path: "seg", codec: .int8) { self.scaled(v, w).tanh() } }
        body(x.variable).sum().backward()
        let plain = (w.grad!, x.grad!)
        w.zeroGrad(); x.zeroGrad()
        checkpoint([x.variable]) { body($0[0]) }.sum().backward()
        XCTAssertEqual(w.grad!.scalars.map(\.bitPattern), plain.0.scalars.map(\.bitPattern))
        XCTAssertEqual(x.grad!.scalars.map(\.bitPattern), plain.1.scalars.map(\.bitPattern))
    }
}
