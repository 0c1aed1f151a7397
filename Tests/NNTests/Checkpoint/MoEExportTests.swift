import Foundation
import NN
import Tensor
import XCTest

/// Mixture-of-experts checkpoints under Hugging Face names: Mixtral without a shared expert,
/// Qwen2-MoE with one (scripts/compare_moe_transformers.py checks that transformers computes the
/// same loss from these files).
final class MoEExportTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-moe-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func config(shared: Bool) -> LlamaConfig {
        LlamaConfig(hiddenSize: 16, intermediateSize: 24, numHeads: 2, numLayers: 2, vocabSize: 40,
                    moe: MoEConfig(experts: 3, topK: 2, sharedExpert: shared, expertIntermediateSize: shared ? 24 : nil))
    }

    private func json(_ data: Data) throws -> [String: Any] { try JSONSerialization.jsonObject(with: data) as! [String: Any] }

    func testConfigJSONNamesTheMatchingArchitectureAndReadsBack() throws {
        let mixtral = try json(config(shared: false).huggingFaceJSON())
        XCTAssertEqual(mixtral["model_type"] as? String, "mixtral")
        XCTAssertEqual(mixtral["num_local_experts"] as? Int, 3)
        let qwen = try json(config(shared: true).huggingFaceJSON(endOfSequence: 39))
        XCTAssertEqual(qwen["model_type"] as? String, "qwen2_moe")
        XCTAssertEqual(qwen["architectures"] as? [String], ["Qwen2MoeForCausalLM"])
        XCTAssertEqual(qwen["num_experts"] as? Int, 3)
        XCTAssertEqual(qwen["shared_expert_intermediate_size"] as? Int, 24)
        XCTAssertEqual(qwen["norm_topk_prob"] as? Bool, true)
        XCTAssertEqual(qwen["qkv_bias"] as? Bool, false)
        XCTAssertEqual(qwen["eos_token_id"] as? Int, 39)
        for shared in [false, true] {
            XCTAssertEqual(try LlamaConfig(huggingFaceJSON: config(shared: shared).huggingFaceJSON()), config(shared: shared))
        }
        var other = qwen
        other["norm_topk_prob"] = false
        XCTAssertThrowsError(try LlamaConfig(huggingFaceJSON: JSONSerialization.data(withJSONObject: other))) {
            XCTAssertTrue("\($0)".contains("norm_topk_prob"), "\($0)")
        }
    }

    func testQwen2MoECheckpointRoundTripsThroughItsZeroGateAndDoubledSharedDown() throws {
        let c = config(shared: true)
        var rng = RNG(seed: 1)
        let model = LlamaModel(config: c, rng: &rng)
        try saveCheckpoint(model: model, to: directory, config: try c.huggingFaceJSON(), nameMap: .huggingFace(c))
        let file = try SafetensorsFile(contentsOf: directory.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(try file.floatTensor("model.layers.1.mlp.shared_expert_gate.weight").scalars, [Float](repeating: 0, count: 16))
        let down = model.namedParameters().first { $0.0 == "layers.1.mlp.shared.down.weight" }!.1
        XCTAssertEqual(try file.floatTensor("model.layers.1.mlp.shared_expert.down_proj.weight").scalars, down.value.scalars.map { 2 * $0 })
        XCTAssertTrue(file.contains("model.layers.0.mlp.experts.2.gate_proj.weight") && file.contains("model.layers.0.mlp.gate.weight"))

        var other = RNG(seed: 2)
        let loaded = LlamaModel(config: c, rng: &other)
        try loadWeights(into: loaded, from: directory, nameMap: .huggingFace(c))
        for ((path, a), (_, b)) in zip(model.namedParameters(), loaded.namedParameters()) {
            XCTAssertEqual(a.value.scalars, b.value.scalars, path)
        }
    }

    func testNonZeroSharedExpertGateIsRejected() throws {
        let c = config(shared: true)
        var rng = RNG(seed: 1)
        let model = LlamaModel(config: c, rng: &rng)
        var writer = SafetensorsWriter()
        for (path, p) in model.namedParameters() {
            let name = try CheckpointNameMap.qwen2MoE.fileName(path)
            writer.add(name, p.value)
        }
        for layer in 0..<2 { writer.add("model.layers.\(layer).mlp.shared_expert_gate.weight", Tensor.ones([1, 16])) }
        let url = directory.appendingPathComponent("gated.safetensors")
        try writer.write(to: url)
        XCTAssertThrowsError(try loadWeights(into: model, from: url, nameMap: .qwen2MoE)) {
            XCTAssertTrue("\($0)".contains("shared_expert_gate.weight must be zero"), "\($0)")
            XCTAssertFalse("\($0)".contains("\n"))
        }
    }
}
