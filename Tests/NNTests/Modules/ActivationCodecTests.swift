import Autograd
import Estimators
@testable import NN
import Tensor
import TestSupport
import XCTest

/// Saved-tensor codecs per module (ALGORITHMS.md §10): assignment by path, the gradient each
/// codec gives on every op that saves compressible tensors, and the bytes saved.
final class ActivationCodecTests: XCTestCase {
    override func setUp() {
        Tape.current.reset()
        Tape.codecNoise = CodecNoiseKey(seed: 1)
    }

    /// Finite-difference error of each op with its saved tensors in `codec`: fp32 is exact to the
    /// usual tolerance; bf16 and int8 perturb the backward by their rounding (O(2⁻⁸) and O(1/127)
    /// of a row's scale), which the check must see but within a bound.
    func codecErrors(_ modules: Module..., params: [Parameter], _ f: @escaping () -> Variable) -> [TensorCodec: Float] {
        var out: [TensorCodec: Float] = [:]
        for codec in TensorCodec.allCases {
            for module in modules { for (_, m) in module.namedActivationCompressingModules { m.activationCodec = codec } }
            out[codec] = maxGradientError(params, f)
        }
        return out
    }

    func assertBounds(_ e: [TensorCodec: Float], bf16: Float, int8: Float, _ what: String, line: UInt = #line) {
        XCTAssertLessThan(e[.fp32]!, 1e-2, "\(what) fp32 \(e)", line: line)
        XCTAssertLessThan(e[.bf16]!, bf16, "\(what) bf16 \(e)", line: line)
        XCTAssertLessThan(e[.int8]!, int8, "\(what) int8 \(e)", line: line)
        // Measured: fp32 ≈ 2e-5–6e-5, bf16 ≈ 1e-3–3e-3, int8 ≈ 5e-3–1e-2 (so the codecs did act).
        XCTAssertGreaterThan(e[.bf16]!, e[.fp32]! * 5, "\(what): bf16 must change the backward \(e)", line: line)
        XCTAssertGreaterThan(e[.int8]!, e[.fp32]! * 5, "\(what): int8 must change the backward \(e)", line: line)
    }

    /// The gradients of `params` agree to 1e-6 with `recompute` off and on (inputs kept exactly).
    func assertRecomputingChangesNothing(_ params: [Parameter], _ recompute: (Bool) -> Void,
                                         line: UInt = #line, _ loss: () -> Variable) {
        func grads(_ on: Bool) -> [Tensor] {
            recompute(on)
            for p in params { p.grad = nil }
            Tape.current.reset()
            loss().backward()
            return params.map { $0.grad! }
        }
        let saving = grads(false), recomputed = grads(true)
        for (a, b) in zip(recomputed, saving) { XCTAssertLessThan(relativeL2(a, b), 1e-6, line: line) }
    }

    func testLinearGradientUnderEachCodec() {
        var rng = RNG(seed: 1)
        let layer = Linear(12, 6, std: 0.5, rng: &rng)
        let x = randomParameter([5, 12], seed: 2), probe = Variable(randomTensor([5, 6], seed: 3))
        let e = codecErrors(layer, params: layer.parameters + [x]) { (layer(x.variable) * probe).sum() }
        assertBounds(e, bf16: 1e-2, int8: 3e-2, "linear")
    }

    func testRMSNormGradientUnderEachCodec() {
        let norm = RMSNorm(dim: 24)
        norm.weight.value = randomTensor([24], seed: 4)
        let x = randomParameter([4, 24], seed: 5), probe = Variable(randomTensor([4, 24], seed: 6))
        let e = codecErrors(norm, params: norm.parameters + [x]) { (norm(x.variable) * probe).sum() }
        assertBounds(e, bf16: 1e-2, int8: 3e-2, "rms-norm")
    }

    func testSwiGLUGradientUnderEachCodec() {
        var rng = RNG(seed: 7)
        let mlp = SwiGLUMLP(dim: 8, hidden: 20, std: 0.5, rng: &rng)
        let x = randomParameter([4, 8], seed: 8), probe = Variable(randomTensor([4, 8], seed: 9))
        let e = codecErrors(mlp, params: mlp.parameters + [x]) { (mlp(x.variable) * probe).sum() }
        assertBounds(e, bf16: 1e-2, int8: 3e-2, "swiglu mlp")
    }

    func testAttentionGradientUnderEachCodec() {
        var rng = RNG(seed: 10)
        let rope = RotaryEmbedding(headDim: 8, maxPositions: 8)
        let attention = CausalSelfAttention(dim: 16, heads: 2, kvHeads: 1, rotary: rope, std: 0.4, rng: &rng)
        let x = randomParameter([8, 16], seed: 11), probe = Variable(randomTensor([8, 16], seed: 12))
        let e = codecErrors(attention, params: attention.parameters + [x]) { (attention(x.variable, batch: 2, seq: 4) * probe).sum() }
        // The backward's D = rowsum(dO ∘ o) reads the saved output, and dS = P ∘ (dP − D) is a
        // difference of close terms: int8 rounding of o shows more here (≈ 5e-2) than in other ops,
        // which is why the lean configuration keeps attention in bf16.
        assertBounds(e, bf16: 1e-2, int8: 8e-2, "attention")
    }

    /// A lossy attention codec keeps only the block input and recomputes norm, q/k/v, RoPE and
    /// attention in the backward: its gradient stays within the codec's rounding of exact.
    func testAttentionRecomputedFromTheBlockInputUnderEachCodec() {
        var rng = RNG(seed: 18)
        let rope = RotaryEmbedding(headDim: 8, maxPositions: 8)
        let attention = CausalSelfAttention(dim: 16, heads: 2, kvHeads: 1, rotary: rope, std: 0.4, rng: &rng)
        let norm = RMSNorm(dim: 16)
        norm.weight.value = randomTensor([16], seed: 19)
        let x = randomParameter([8, 16], seed: 20), probe = Variable(randomTensor([8, 16], seed: 21))
        let f = { (attention(x.variable, normalizedBy: norm, batch: 2, seq: 4) * probe).sum() }
        let e = codecErrors(attention, norm, params: attention.parameters + norm.parameters + [x], f)
        XCTAssertFalse(attention.recomputesInBackward == (attention.activationCodec == .fp32))
        assertBounds(e, bf16: 1e-2, int8: 8e-2, "recomputed attention")

        // What the tape keeps: the block input alone, in the attention's codec.
        attention.activationCodec = .bf16
        Tape.current.reset()
        let loss = f()
        let ops = Set(Tape.current.savedEntries.map(\.op))
        XCTAssertTrue(ops.isDisjoint(with: ["causal-attention", "rms-norm", "rope"]), "\(ops)")
        XCTAssertEqual(Tape.current.savedEntries.first { $0.op == "attention-recompute" }?.bytes, 8 * 16 * 2)
        loss.backward()
    }

    /// Recomputing from an exactly kept input is the same computation: the gradients agree with
    /// the path that saves q, k, v and o.
    func testRecomputedAttentionWithAnExactInputEqualsTheSavingPath() {
        var rng = RNG(seed: 22)
        let rope = RotaryEmbedding(headDim: 8, maxPositions: 16)
        let attention = CausalSelfAttention(dim: 32, heads: 4, kvHeads: 2, rotary: rope, std: 0.3, rng: &rng)
        let norm = RMSNorm(dim: 32)
        let x = randomParameter([32, 32], seed: 23), probe = Variable(randomTensor([32, 32], seed: 24))
        assertRecomputingChangesNothing(attention.parameters + norm.parameters + [x], { attention.recomputesInBackward = $0 }) {
            (attention(x.variable, normalizedBy: norm, batch: 2, seq: 16) * probe).sum()
        }
    }

    /// An MLP behind a norm with random scales, an input (rows, dim) and the probed loss of
    /// `mlp(x, normalizedBy: norm)`.
    func mlpWithNorm(dim: Int, hidden: Int, rows: Int, std: Float, seed: UInt64)
        -> (mlp: SwiGLUMLP, norm: RMSNorm, x: Parameter, loss: () -> Variable) {
        var rng = RNG(seed: seed)
        let mlp = SwiGLUMLP(dim: dim, hidden: hidden, std: std, rng: &rng)
        let norm = RMSNorm(dim: dim)
        norm.weight.value = randomTensor([dim], seed: seed + 1)
        let x = randomParameter([rows, dim], seed: seed + 2), probe = Variable(randomTensor([rows, dim], seed: seed + 3))
        return (mlp, norm, x, { (mlp(x.variable, normalizedBy: norm) * probe).sum() })
    }

    /// A lossy MLP codec keeps up and the norm's input (stored once with the norm's) and rebuilds
    /// the gate in the backward: its gradient stays within the codec's rounding of exact, and the
    /// tape keeps exactly the gate's bytes less.
    func testMLPGateRecomputedFromTheNormInputUnderEachCodec() {
        let (mlp, norm, x, f) = mlpWithNorm(dim: 8, hidden: 20, rows: 4, std: 0.5, seed: 28)
        let e = codecErrors(mlp, norm, params: mlp.parameters + norm.parameters + [x], f)
        XCTAssertFalse(mlp.recomputesGateInBackward == (mlp.activationCodec == .fp32))
        assertBounds(e, bf16: 1e-2, int8: 3e-2, "mlp with a recomputed gate")

        for (_, m) in mlp.namedActivationCompressingModules { m.activationCodec = .bf16 }
        norm.activationCodec = .bf16
        func savedBytes(recompute: Bool) -> Int {
            mlp.recomputesGateInBackward = recompute
            Tape.current.reset()
            let loss = f()
            defer { loss.backward() }
            XCTAssertTrue(loss.value.scalars.allSatisfy(\.isFinite))
            return Tape.current.savedBytes
        }
        XCTAssertEqual(savedBytes(recompute: false) - savedBytes(recompute: true), 4 * 20 * 2, "the gate, in bf16")
    }

    /// Rebuilding the gate from an exactly kept input is the same computation: the gradients agree
    /// with the path that saves the gate.
    func testRecomputedGateWithAnExactInputEqualsTheSavingPath() {
        let (mlp, norm, x, f) = mlpWithNorm(dim: 16, hidden: 48, rows: 24, std: 0.3, seed: 32)
        assertRecomputingChangesNothing(mlp.parameters + norm.parameters + [x], { mlp.recomputesGateInBackward = $0 }, f)
    }

    /// SwiGLU writing its output over the gate's buffer gives what a fresh output gives, bit for
    /// bit (also when `down` saves that buffer's new contents in the codec the gate was saved in),
    /// and the forward holds one (N, F) buffer less.
    func testSwiGLUReusingTheGateBufferChangesNothingButThePeak() {
        var rng = RNG(seed: 25)
        let mlp = SwiGLUMLP(dim: 16, hidden: 64, std: 0.3, rng: &rng)
        for (_, m) in mlp.namedActivationCompressingModules { m.activationCodec = .int8 }
        let x = randomParameter([40, 16], seed: 26), probe = Variable(randomTensor([40, 16], seed: 27))
        func run(reusing: Bool) -> (grads: [Tensor], peak: Int) {
            let params = mlp.parameters + [x]
            for p in params { p.grad = nil }
            Tape.current.reset()
            let (loss, stats) = Memory.measure { () -> Variable in
                let y = Tape.current.withModuleScope(path: mlp.path, codec: mlp.activationCodec) {
                    mlp.down(swiglu(gate: mlp.gate(x.variable), up: mlp.up(x.variable), reusingGate: reusing))
                }
                return (y * probe).sum()
            }
            loss.backward()
            return (params.map { $0.grad! }, stats.peak(.activation))
        }
        let fresh = run(reusing: false), reused = run(reusing: true)
        for (a, b) in zip(reused.grads, fresh.grads) { XCTAssertEqual(a.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern)) }
        XCTAssertLessThanOrEqual(reused.peak, fresh.peak - 40 * 64 * 4, "\(reused.peak) vs \(fresh.peak)")
    }

    func testAssignmentByPathCoversModulesInside() throws {
        var rng = RNG(seed: 13)
        let model = LlamaModel(config: tinyLlamaConfig(), rng: &rng)
        let a = try ActivationCodecAssignment(parsing: "default=int8; layers.*.attention=bf16; norm=fp32")
        let assigned = Dictionary(uniqueKeysWithValues: try model.assignActivationCodecs(a))
        XCTAssertEqual(assigned["layers.0.attention"], .bf16)
        XCTAssertEqual(assigned["layers.1.attention.wq"], .bf16, "a rule covers the modules inside")
        XCTAssertEqual(assigned["layers.0.attentionNorm"], .int8)
        XCTAssertEqual(assigned["layers.0.mlp"], .int8)
        XCTAssertEqual(assigned["layers.0.mlp.down"], .int8)
        XCTAssertEqual(assigned["norm"], .fp32)
        XCTAssertEqual(model.layers[1].attention.wk.activationCodec, .bf16)
        XCTAssertEqual(try ActivationCodecAssignment(parsing: a.description), a)
        XCTAssertEqual(try ActivationCodecAssignment(parsing: ""), ActivationCodecAssignment())
    }

    func testBadAssignmentsNameTheTokenAndTheChoices() throws {
        var rng = RNG(seed: 14)
        let model = LlamaModel(config: tinyLlamaConfig(), rng: &rng)
        XCTAssertThrowsError(try ActivationCodecAssignment(parsing: "default=fp16")) {
            XCTAssertEqual(($0 as? ActivationCodecError)?.token, "fp16")
            XCTAssertTrue("\($0)".contains("valid: fp32, bf16, int8"), "\($0)")
        }
        XCTAssertThrowsError(try ActivationCodecAssignment(parsing: "layers.*.mlp")) { XCTAssertTrue("\($0)".contains("no '='"), "\($0)") }
        XCTAssertThrowsError(try ActivationCodecAssignment(parsing: "=int8")) { XCTAssertTrue("\($0)".contains("empty pattern"), "\($0)") }
        let typo = try ActivationCodecAssignment(parsing: "default=fp32; layers.*.atention=bf16")
        XCTAssertThrowsError(try model.assignActivationCodecs(typo)) {
            XCTAssertEqual(($0 as? ActivationCodecError)?.token, "layers.*.atention")
            XCTAssertTrue("\($0)".contains("layers.*.attention.wq"), "names the valid paths: \($0)")
            XCTAssertFalse("\($0)".contains("layers.1."), "indices are summarised: \($0)")
        }
        XCTAssertThrowsError(try model.assignActivationCodecs(ActivationCodecAssignment(parsing: "embed=int8")),
                             "the embedding saves token ids only")
    }

    /// A whole model under codecs: the tape counts the encoded bytes, gradients stay close to
    /// exact, and checkpointed blocks (recomputed with the same noise key) agree bit for bit.
    func testModelUnderCodecs() throws {
        let config = tinyLlamaConfig()
        let tokens = randomTokenIDs(2 * 12, vocab: 50, seed: 15), targets = randomTokenIDs(2 * 12, vocab: 50, seed: 16)
        func run(_ codecs: String, checkpointing: Bool = false) throws -> (saved: Int, grads: [Tensor]) {
            var rng = RNG(seed: 17)
            let model = LlamaModel(config: config, rng: &rng)
            try model.assignActivationCodecs(ActivationCodecAssignment(parsing: codecs))
            model.checkpointBlocks = checkpointing
            Tape.current.reset()
            let loss = model.loss(tokens: tokens, targets: targets, batch: 2, seq: 12)
            let saved = Tape.current.savedBytes
            loss.backward()
            return (saved, model.parameters.map { $0.grad! })
        }
        let exact = try run("default=fp32")
        let lean = try run("default=int8; layers.*.attention=bf16")
        XCTAssertLessThan(Double(lean.saved), 0.6 * Double(exact.saved), "\(lean.saved) vs \(exact.saved)")
        for (a, b) in zip(lean.grads, exact.grads) {
            XCTAssertLessThan(relativeL2(a, b), 0.1)
            XCTAssertTrue(a.scalars.allSatisfy(\.isFinite))
        }
        let segmented = try run("default=int8; layers.*.attention=bf16", checkpointing: true)
        for (a, b) in zip(segmented.grads, lean.grads) {
            XCTAssertEqual(a.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern))
        }
    }

    func relativeL2(_ a: Tensor, _ b: Tensor) -> Double {
        var d = 0.0, n = 0.0
        for i in 0..<a.count {
            let x = Double(a.pointer[i]), y = Double(b.pointer[i])
            d += (x - y) * (x - y); n += y * y
        }
        return (d / max(n, 1e-30)).squareRoot()
    }
}
