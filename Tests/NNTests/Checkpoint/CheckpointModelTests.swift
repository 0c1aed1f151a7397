import Autograd
import Estimators
import Foundation
import NN
import Tensor
import TestSupport
import XCTest

// A LLaMA-shaped module tree built from plain parts, so these tests do not depend on the model
// code: its parameter paths are the internal LLaMA paths (`layers.0.attention.wq.weight`, ...).

private final class Weight: Module {
    let weight: Parameter
    init(_ shape: [Int], seed: UInt64) { weight = randomParameter(shape, seed: seed); super.init() }
}

private final class Attention: Module {
    let wq: Linear, wk: Linear, wv: Linear, wo: Linear
    init(dim: Int, rng: inout RNG) {
        wq = Linear(dim, dim, rng: &rng); wk = Linear(dim, dim, rng: &rng)
        wv = Linear(dim, dim, rng: &rng); wo = Linear(dim, dim, rng: &rng)
        super.init()
    }
}

private final class MLP: Module {
    let gate: Linear, up: Linear, down: Linear
    init(dim: Int, hidden: Int, rng: inout RNG) {
        gate = Linear(dim, hidden, rng: &rng); up = Linear(dim, hidden, rng: &rng); down = Linear(hidden, dim, rng: &rng)
        super.init()
    }
}

private final class Block: Module {
    let attentionNorm: Weight, attention: Attention, mlpNorm: Weight, mlp: MLP
    init(dim: Int, hidden: Int, rng: inout RNG) {
        attentionNorm = Weight([dim], seed: rng.seed &+ 100)
        attention = Attention(dim: dim, rng: &rng)
        mlpNorm = Weight([dim], seed: rng.seed &+ 200)
        mlp = MLP(dim: dim, hidden: hidden, rng: &rng)
        super.init()
    }
}

private final class TinyLlama: Module {
    let embed: Weight, layers: [Block], norm: Weight, head: Linear
    init(vocab: Int = 11, dim: Int = 4, hidden: Int = 6, layers count: Int = 2, seed: UInt64) {
        var rng = RNG(seed: seed)
        embed = Weight([vocab, dim], seed: seed &+ 1)
        layers = (0..<count).map { _ in Block(dim: dim, hidden: hidden, rng: &rng) }
        norm = Weight([dim], seed: seed &+ 2)
        head = Linear(dim, vocab, rng: &rng)
        super.init()
    }
}

/// A stateful estimator (exact gradients plus a counter and a tensor it "learns").
private final class CountingEstimator: LinearEstimator {
    var memory: Tensor
    var steps: Float = 0
    init(_ memory: Tensor) { self.memory = memory }
    var description: String { "counting" }
    func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved { EstimatorSaved(activations: [x]) }
    func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
        Tensor.matmul(delta, saved.activations[0], transposeA: true)
    }
    func stateTensors() -> [String: Tensor] { ["memory": memory, "steps": Tensor(scalar: steps)] }
    func loadState(_ tensors: [String: Tensor]) throws {
        guard let m = tensors["memory"], m.shape == memory.shape, let s = tensors["steps"] else {
            throw EstimatorStateError(message: "counting: bad state \(tensors.keys.sorted())")
        }
        memory = m; steps = s.item
    }
}

private func values(_ model: Module) -> [String: Tensor] {
    Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.0, $0.1.value) })
}

final class CheckpointModelTests: XCTestCase {
    func testSaveThenLoadGivesIdenticalTensorsUnderHuggingFaceNames() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("model.safetensors")
        let source = TinyLlama(seed: 1), target = TinyLlama(seed: 2)
        try saveWeights(of: source, to: url)

        let file = try SafetensorsFile(contentsOf: url)
        XCTAssertTrue(file.contains("model.embed_tokens.weight"))
        XCTAssertTrue(file.contains("model.layers.1.self_attn.o_proj.weight"))
        XCTAssertTrue(file.contains("model.layers.0.post_attention_layernorm.weight"))
        XCTAssertTrue(file.contains("lm_head.weight"))
        XCTAssertEqual(file.names.count, source.parameters.count)
        XCTAssertTrue(file.entries.allSatisfy { $0.dtype == .f32 })

        XCTAssertNotEqual(values(target)["head.weight"]!.scalars, values(source)["head.weight"]!.scalars)
        try loadWeights(into: target, from: url)
        let expected = values(source)
        for (path, t) in values(target) { assertBitIdentical(t, expected[path]!, path) }
        // Loaded values are parameters in the memory accounting, like any other.
        XCTAssertEqual(target.head.weight.value.storage.category, .parameter)
        // The directory form finds model.safetensors.
        try loadWeights(into: TinyLlama(seed: 3), from: dir)
    }

    func testLoadReportsEveryMismatchAtOnceAndLeavesTheModelUnchanged() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("other.safetensors")
        // A file from a model with a wider vocabulary and 3 layers, minus its final norm, plus junk.
        let other = TinyLlama(vocab: 13, layers: 3, seed: 4)
        var w = SafetensorsWriter()
        for (path, p) in other.namedParameters() where path != "norm.weight" {
            w.add(try HuggingFaceNames.huggingFaceName(for: path), p.value)
        }
        w.add("model.layers.0.self_attn.q_proj.bias", Tensor([1, 2, 3, 4]))
        w.add("model.layers.0.self_attn.rotary_emb.inv_freq", Tensor([1, 2])) // an old HF buffer: ignored
        w.add("model.layers.1.mlp.up_proj.weight_ids", int64: [1], shape: [1])
        try w.write(to: url)
        // Replace one weight with an integer tensor of the right shape: a dtype mismatch.
        let file = try SafetensorsFile(contentsOf: url)
        var w2 = SafetensorsWriter()
        for name in file.names {
            if name == "model.layers.1.mlp.gate_proj.weight" { w2.add(name, int32: [Int32](repeating: 0, count: 24), shape: [6, 4]) }
            else if name == "model.layers.1.mlp.up_proj.weight_ids" { w2.add(name, int64: [1], shape: [1]) }
            else { w2.add(name, try file.floatTensor(name)) }
        }
        try w2.write(to: url)

        let model = TinyLlama(seed: 5)
        let before = values(model)
        XCTAssertThrowsError(try loadWeights(into: model, from: url)) { error in
            guard case CheckpointError.mismatches(let path, let list) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, url.path)
            XCTAssertEqual(Set(list.map(\.description)), Set([
                "model.embed_tokens.weight has shape [13, 4], model expects [11, 4]",
                "model.layers.1.mlp.gate_proj.weight has dtype I32, expected F32, F16 or BF16",
                "missing model.norm.weight [4]",
                "lm_head.weight has shape [13, 4], model expects [11, 4]",
                "unexpected model.layers.0.self_attn.q_proj.bias",
                "unexpected model.layers.1.mlp.up_proj.weight_ids",
            ] + ["input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                 "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
                .map { "unexpected model.layers.2.\($0).weight" }))
            let line = "\(error)"
            XCTAssertFalse(line.contains("\n"))
            XCTAssertTrue(line.hasPrefix("\(url.path): 15 mismatches with the model: "), line)
        }
        for (path, t) in values(model) { assertBitIdentical(t, before[path]!, "\(path) must be untouched") }
    }

    func testParameterOutsideTheNamingSchemeIsAnErrorNotDropped() throws {
        final class Odd: Module { let extra = Parameter(Tensor([1, 2])) }
        let dir = try makeTemporaryDirectory(self)
        XCTAssertThrowsError(try saveWeights(of: Odd(), to: dir.appendingPathComponent("odd.safetensors"))) {
            XCTAssertEqual("\($0)", "unknown parameter name 'extra' (not a LLaMA parameter path)")
        }
        try saveWeights(of: Odd(), to: dir.appendingPathComponent("odd.safetensors"), nameMap: .identity)
        XCTAssertThrowsError(try loadWeights(into: Odd(), from: dir.appendingPathComponent("odd.safetensors"))) {
            XCTAssertTrue("\($0)".contains("model parameter extra has no file name"), "\($0)")
        }
        try loadWeights(into: Odd(), from: dir.appendingPathComponent("odd.safetensors"), nameMap: .identity)
    }

    func testShardedHuggingFaceDirectoryLoads() throws {
        let dir = try makeTemporaryDirectory(self)
        let source = TinyLlama(seed: 6)
        var a = SafetensorsWriter(), b = SafetensorsWriter()
        var map: [String: String] = [:]
        for (i, (path, p)) in source.namedParameters().enumerated() {
            let name = try HuggingFaceNames.huggingFaceName(for: path)
            if i % 2 == 0 { a.add(name, p.value); map[name] = "model-00001-of-00002.safetensors" }
            else { b.add(name, p.value); map[name] = "model-00002-of-00002.safetensors" }
        }
        try a.write(to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        try b.write(to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map])
            .write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let target = TinyLlama(seed: 7)
        try loadWeights(into: target, from: dir)
        let expected = values(source)
        for (path, t) in values(target) { assertBitIdentical(t, expected[path]!, path) }
    }

    func testCheckpointDirectoryRoundTripsWeightsAndTrainingState() throws {
        let dir = try makeTemporaryDirectory(self).appendingPathComponent("step-100")
        let source = TinyLlama(seed: 8)
        source.layers[1].mlp.up.estimator = CountingEstimator(randomTensor([6, 2], seed: 9))
        (source.layers[1].mlp.up.estimator as! CountingEstimator).steps = 41
        var state = TrainingState(
            step: 100,
            rngs: ["data": RNG(seed: .max, stream: .max - 1, counter: 1 << 63 + 5), "init": RNG(seed: 7)],
            config: #"{"hidden": 4}"#, estimatorSpec: "layers.1.mlp.up=counting", optimizerSpec: "adamw(lr: 1e-3)",
            optimizerState: ["head.weight.m": randomTensor([11, 4], seed: 10), "step": Tensor(scalar: 100)])
        state.estimatorState = TrainingState.estimatorState(of: source)
        XCTAssertEqual(Array(state.estimatorState.keys), ["layers.1.mlp.up"])
        try saveCheckpoint(model: source, to: dir, trainingState: state, config: Data(#"{"hidden": 4}"#.utf8))
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)),
                       ["model.safetensors", "training_state.safetensors", "config.json"])

        let target = TinyLlama(seed: 9)
        let estimator = CountingEstimator(Tensor.zeros([6, 2]))
        target.layers[1].mlp.up.estimator = estimator
        let loaded = try XCTUnwrap(try loadCheckpoint(into: target, from: dir))
        XCTAssertEqual(loaded, state) // bit-exact tensors, exact 64-bit RNG counters
        XCTAssertEqual(loaded.rngs["data"], RNG(seed: .max, stream: .max - 1, counter: 1 << 63 + 5))
        assertBitIdentical(estimator.memory, randomTensor([6, 2], seed: 9))
        XCTAssertEqual(estimator.steps, 41)
        let expected = values(source)
        for (path, t) in values(target) { assertBitIdentical(t, expected[path]!, path) }
    }

    func testEstimatorStateMismatchesAreReportedTogether() throws {
        let model = TinyLlama(seed: 11)
        model.layers[0].mlp.up.estimator = CountingEstimator(Tensor.zeros([6, 2]))
        let state = TrainingState(estimatorState: [
            "layers.0.mlp.up": ["memory": Tensor.zeros([3, 3])],
            "layers.0.mlp.down": ["memory": Tensor.zeros([1])],
            "layers.9.mlp.up": ["memory": Tensor.zeros([1])],
        ])
        XCTAssertThrowsError(try state.restoreEstimatorState(into: model, path: "ts")) { error in
            let line = "\(error)"
            XCTAssertTrue(line.hasPrefix("ts: estimator state does not fit the model: "), line)
            XCTAssertTrue(line.contains("layers.0.mlp.up: counting: bad state [\"memory\"]"), line)
            XCTAssertTrue(line.contains("layers.0.mlp.down: exact is stateless"), line)
            XCTAssertTrue(line.contains("state for layers.9.mlp.up, which has no estimator in the model"), line)
        }
    }

    func testWeightsAndStateFromDifferentSavesAreDetected() throws {
        let root = try makeTemporaryDirectory(self)
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        let model = TinyLlama(seed: 12)
        try saveCheckpoint(model: model, to: a, trainingState: TrainingState(step: 1))
        try saveCheckpoint(model: model, to: b, trainingState: TrainingState(step: 2))
        // Simulate a crash after the weights of save `b` were written over save `a`.
        try FileManager.default.removeItem(at: a.appendingPathComponent("model.safetensors"))
        try FileManager.default.copyItem(at: b.appendingPathComponent("model.safetensors"), to: a.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try loadCheckpoint(into: model, from: a)) {
            XCTAssertTrue("\($0)".contains("come from different saves"), "\($0)")
        }
        XCTAssertEqual(try loadCheckpoint(into: model, from: b)?.step, 2)
    }

    func testTrainingStateRejectsBadMetadata() throws {
        var w = TrainingState(step: 3).writer()
        w.metadata["step"] = "three"
        XCTAssertThrowsError(try TrainingState(file: SafetensorsFile(data: w.encoded(), path: "ts"))) {
            XCTAssertEqual("\($0)", "ts: metadata 'step' is not a non-negative integer")
        }
        w.metadata["step"] = "3"
        w.metadata["rng"] = "{"
        XCTAssertThrowsError(try TrainingState(file: SafetensorsFile(data: w.encoded(), path: "ts"))) {
            XCTAssertEqual("\($0)", "ts: metadata 'rng' is not valid JSON of the expected form")
        }
        XCTAssertThrowsError(try TrainingState(file: SafetensorsFile(data: SafetensorsWriter().encoded(), path: "ts"))) {
            XCTAssertEqual("\($0)", "ts: metadata 'format' is missing")
        }
    }
}
