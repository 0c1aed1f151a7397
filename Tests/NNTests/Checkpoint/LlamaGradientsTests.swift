import Autograd
import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// The `llama-gradients` pipeline (`runLlamaGradients`) on a tiny LLaMA, checked against the
/// model's own backward, finite differences and a closed-form loss.
final class LlamaGradientsTests: XCTestCase {
    static let config = LlamaConfig(hiddenSize: 8, intermediateSize: 12, numHeads: 2, numLayers: 2,
                                    vocabSize: 11, maxSequenceLength: 16, initStd: 0.5)

    /// A Hugging Face config.json for `config`.
    static func huggingFaceJSON(_ c: LlamaConfig) -> Data {
        let object: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "hidden_size": c.hiddenSize, "intermediate_size": c.intermediateSize,
            "num_attention_heads": c.numHeads, "num_key_value_heads": c.numKeyValueHeads,
            "num_hidden_layers": c.numLayers, "vocab_size": c.vocabSize,
            "max_position_embeddings": c.maxSequenceLength, "rms_norm_eps": Double(c.rmsNormEps),
            "rope_theta": Double(c.ropeTheta), "hidden_act": "silu", "tie_word_embeddings": false,
            "attention_bias": false, "mlp_bias": false,
        ]
        return try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    /// Weights, config and ids for one run in a fresh directory.
    func prepare(model: LlamaModel, ids: [Int64], shape: [Int]) throws -> (dir: URL, model: URL, config: URL, input: URL) {
        let dir = try makeTemporaryDirectory(self)
        let (m, c, i) = (dir.appendingPathComponent("model.safetensors"), dir.appendingPathComponent("config.json"),
                         dir.appendingPathComponent("ids.safetensors"))
        try saveWeights(of: model, to: m)
        try Self.huggingFaceJSON(model.config).write(to: c)
        var w = SafetensorsWriter()
        w.add("input_ids", int64: ids, shape: shape)
        try w.write(to: i)
        return (dir, m, c, i)
    }

    let ids: [Int64] = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3] // (3, 6)

    func testGradientsMatchTheModelsBackwardAndFiniteDifferences() throws {
        var rng = RNG(seed: 21)
        let model = LlamaModel(config: Self.config, rng: &rng)
        let files = try prepare(model: model, ids: ids, shape: [3, 6])
        let output = files.dir.appendingPathComponent("grads.safetensors")
        let dump = try runLlamaGradients(model: files.model, config: files.config, input: files.input, output: output)

        let out = try SafetensorsFile(contentsOf: output)
        XCTAssertEqual(out.entry("loss")?.shape, [])
        XCTAssertEqual(try out.floatTensor("loss").item, dump.loss)
        let params = model.namedParameters()
        XCTAssertEqual(out.names.count, params.count + 1)

        // The model's own backward on the same batch, with the shift built by hand.
        let tokens = ids.map { Int32($0) }
        var targets = [Int32](repeating: -100, count: 18)
        for b in 0..<3 { for s in 0..<5 { targets[b * 6 + s] = tokens[b * 6 + s + 1] } }
        model.zeroGrad()
        let loss = model.loss(tokens: tokens, targets: targets, batch: 3, seq: 6)
        XCTAssertEqual(loss.value.item, dump.loss)
        loss.backward()
        for (path, p) in params {
            let name = try HuggingFaceNames.huggingFaceName(for: path)
            assertBitIdentical(try out.floatTensor("grad.\(name)"), p.grad!, name)
        }

        // Central differences on the largest-gradient entry of a few parameters (fp32 loss, h = 1e-2:
        // agreement to ~1% of the entry).
        let f = { withNoGrad { Double(model.loss(tokens: tokens, targets: targets, batch: 3, seq: 6).value.item) } }
        for path in ["embed.weight", "layers.0.attention.wq.weight", "layers.1.attention.wk.weight",
                     "layers.0.mlp.down.weight", "layers.1.mlpNorm.weight", "norm.weight", "head.weight"] {
            let p = params.first { $0.0 == path }!.1
            let g = p.grad!.scalars
            let i = g.indices.max { abs(g[$0]) < abs(g[$1]) }!
            let h: Float = 1e-2, original = p.value.scalars[i]
            p.value.withUnsafeMutableBufferPointer { $0[i] = original + h }
            let up = f()
            p.value.withUnsafeMutableBufferPointer { $0[i] = original - h }
            let down = f()
            p.value.withUnsafeMutableBufferPointer { $0[i] = original }
            let numeric = Float((up - down) / (2 * Double(h)))
            XCTAssertEqual(numeric, g[i], accuracy: 0.02 * abs(g[i]) + 1e-4, "\(path)[\(i)]")
        }
    }

    func testLossIsTheMeanOverShiftedTargetsOnly() throws {
        // All-zero weights give uniform logits: every counted target costs exactly ln(vocab), so the
        // mean is ln(vocab) only if the B ignored last positions are left out of the denominator.
        var config = Self.config
        config.initStd = 0
        var rng = RNG(seed: 1)
        let model = LlamaModel(config: config, rng: &rng)
        for p in model.parameters { p.value = Tensor.zeros(p.shape) }
        let files = try prepare(model: model, ids: ids, shape: [2, 9])
        let dump = try runLlamaGradients(model: files.model, config: files.config, input: files.input,
                                         output: files.dir.appendingPathComponent("g.safetensors"))
        XCTAssertEqual(dump.loss, Float(log(11.0)), accuracy: 1e-6)
        XCTAssertEqual(dump.batch, 2)
        XCTAssertEqual(dump.seq, 9)
    }

    func testBadInputsAreOneLineErrors() throws {
        var rng = RNG(seed: 3)
        let model = LlamaModel(config: Self.config, rng: &rng)
        let files = try prepare(model: model, ids: ids, shape: [3, 6])
        let out = files.dir.appendingPathComponent("out.safetensors")
        /// Runs with the given replacements and expects a one-line `CheckpointError` and no output.
        func expectError(input: ((inout SafetensorsWriter) -> Void)? = nil, model modelURL: URL? = nil,
                         config: URL? = nil, _ fragment: String, line: UInt = #line) throws {
            var inputURL = files.input
            if let input {
                inputURL = files.dir.appendingPathComponent("bad-ids.safetensors")
                var w = SafetensorsWriter()
                input(&w)
                try w.write(to: inputURL)
            }
            XCTAssertThrowsError(try runLlamaGradients(model: modelURL ?? files.model, config: config ?? files.config,
                                                       input: inputURL, output: out), line: line) { error in
                XCTAssertTrue(error is CheckpointError, "\(error)", line: line)
                XCTAssertTrue("\(error)".contains(fragment), "'\(error)' should contain '\(fragment)'", line: line)
                XCTAssertFalse("\(error)".contains("\n"), line: line)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), line: line)
        }
        try expectError(input: { $0.add("input_ids", int64: [1, 2, 11, 3], shape: [2, 2]) },
                        "holds token 11 at [1, 0], outside the vocabulary 0..<11")
        try expectError(input: { $0.add("input_ids", int32: [1, -1], shape: [1, 2]) }, "holds token -1")
        try expectError(input: { $0.add("tokens", int64: [1, 2], shape: [1, 2]) }, "no tensor named 'input_ids'")
        try expectError(input: { $0.add("input_ids", int64: [1, 2], shape: [2]) }, "has shape [2], expected [batch, seq]")
        try expectError(input: { $0.add("input_ids", int64: [1, 2], shape: [2, 1]) }, "need batch ≥ 1 and seq ≥ 2")
        try expectError(input: { $0.add("input_ids", Tensor([1, 2], shape: [1, 2])) }, "has dtype F32, expected I32 or I64")
        try expectError(input: { $0.add("input_ids", int64: [Int64](repeating: 1, count: 17), shape: [1, 17]) },
                        "17 positions, more than the model's 16")
        try expectError(model: files.dir.appendingPathComponent("nope.safetensors"), "nope.safetensors: file not found")
        try expectError(config: files.dir.appendingPathComponent("nope.json"), "nope.json: file not found")
        let badConfig = files.dir.appendingPathComponent("bad.json")
        try Data("{\"hidden_size\": 8".utf8).write(to: badConfig)
        try expectError(config: badConfig, "bad.json: ")
        // Weights of another shape: every mismatch listed.
        let other = files.dir.appendingPathComponent("other.safetensors")
        var wide = Self.config
        wide.vocabSize = 12
        var rng2 = RNG(seed: 4)
        try saveWeights(of: LlamaModel(config: wide, rng: &rng2), to: other)
        try expectError(model: other, "2 mismatches with the model: model.embed_tokens.weight has shape [12, 8], model expects [11, 8]; "
                        + "lm_head.weight has shape [12, 8], model expects [11, 8]")
        // A truncated weights file.
        let truncated = files.dir.appendingPathComponent("cut.safetensors")
        try Data(contentsOf: files.model).dropLast(10).write(to: truncated)
        try expectError(model: truncated, "cut.safetensors: not a valid safetensors file")
    }
}
