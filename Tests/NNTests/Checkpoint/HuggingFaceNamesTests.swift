import NN
import XCTest

final class HuggingFaceNamesTests: XCTestCase {
    func testKnownPairsMapBothWays() throws {
        let pairs = [
            ("embed.weight", "model.embed_tokens.weight"),
            ("layers.0.attentionNorm.weight", "model.layers.0.input_layernorm.weight"),
            ("layers.11.attention.wq.weight", "model.layers.11.self_attn.q_proj.weight"),
            ("layers.3.attention.wk.weight", "model.layers.3.self_attn.k_proj.weight"),
            ("layers.3.attention.wv.weight", "model.layers.3.self_attn.v_proj.weight"),
            ("layers.3.attention.wo.weight", "model.layers.3.self_attn.o_proj.weight"),
            ("layers.2.mlpNorm.weight", "model.layers.2.post_attention_layernorm.weight"),
            ("layers.2.mlp.gate.weight", "model.layers.2.mlp.gate_proj.weight"),
            ("layers.2.mlp.up.weight", "model.layers.2.mlp.up_proj.weight"),
            ("layers.2.mlp.down.weight", "model.layers.2.mlp.down_proj.weight"),
            ("layers.1.mlp.router.weight", "model.layers.1.block_sparse_moe.gate.weight"),
            ("layers.1.mlp.experts.7.gate.weight", "model.layers.1.block_sparse_moe.experts.7.w1.weight"),
            ("layers.1.mlp.experts.10.up.weight", "model.layers.1.block_sparse_moe.experts.10.w3.weight"),
            ("layers.4.mlp.experts.0.down.weight", "model.layers.4.block_sparse_moe.experts.0.w2.weight"),
            ("norm.weight", "model.norm.weight"),
            ("head.weight", "lm_head.weight"),
        ]
        for (internalPath, hf) in pairs {
            XCTAssertEqual(try HuggingFaceNames.huggingFaceName(for: internalPath), hf)
            XCTAssertEqual(try HuggingFaceNames.internalPath(for: hf), internalPath)
            let map = CheckpointNameMap.llamaHuggingFace
            XCTAssertEqual(try map.internalPath(map.fileName(internalPath)), internalPath)
        }
    }

    func testQwen2MoENamesForMixturesWithASharedExpert() throws {
        let pairs = [
            ("layers.0.attention.wq.weight", "model.layers.0.self_attn.q_proj.weight"),
            ("layers.1.mlp.router.weight", "model.layers.1.mlp.gate.weight"),
            ("layers.1.mlp.experts.7.gate.weight", "model.layers.1.mlp.experts.7.gate_proj.weight"),
            ("layers.1.mlp.experts.10.up.weight", "model.layers.1.mlp.experts.10.up_proj.weight"),
            ("layers.4.mlp.experts.0.down.weight", "model.layers.4.mlp.experts.0.down_proj.weight"),
            ("layers.1.mlp.shared.gate.weight", "model.layers.1.mlp.shared_expert.gate_proj.weight"),
            ("layers.1.mlp.shared.up.weight", "model.layers.1.mlp.shared_expert.up_proj.weight"),
            ("layers.1.mlp.shared.down.weight", "model.layers.1.mlp.shared_expert.down_proj.weight"),
        ]
        let map = CheckpointNameMap.qwen2MoE
        for (internalPath, hf) in pairs {
            XCTAssertEqual(try map.fileName(internalPath), hf)
            XCTAssertEqual(try map.internalPath(hf), internalPath)
        }
        XCTAssertEqual(map.fileScale("model.layers.1.mlp.shared_expert.down_proj.weight"), 2)
        XCTAssertEqual(map.fileScale("model.layers.1.mlp.experts.0.down_proj.weight"), 1)
        XCTAssertEqual(map.fixedEntries(["model.layers.3.mlp.shared_expert.gate_proj.weight": [64, 32]]),
                       ["model.layers.3.mlp.shared_expert_gate.weight": [1, 32]])
        XCTAssertThrowsError(try CheckpointNameMap.llamaHuggingFace.fileName("layers.1.mlp.shared.gate.weight"),
                             "Mixtral has no shared expert")
    }

    func testUnknownNamesThrowInsteadOfBeingDropped() {
        for bad in ["layers.0.attention.wx.weight", "layers.x.attention.wq.weight", "layers.01.mlp.up.weight",
                    "layers.-1.mlp.up.weight", "layers..mlp.up.weight", "embed.bias", "", "model.embed_tokens.weight"] {
            XCTAssertThrowsError(try HuggingFaceNames.huggingFaceName(for: bad), bad) { error in
                XCTAssertEqual("\(error)", "unknown parameter name '\(bad)' (not a LLaMA parameter path)")
            }
        }
        for bad in ["model.layers.0.self_attn.q_proj.bias", "lm_head.bias", "model.layers.0.mlp.gate.weight", "embed.weight"] {
            XCTAssertThrowsError(try HuggingFaceNames.internalPath(for: bad), bad)
        }
    }

    func testRotaryBuffersAreIgnoredOnlyByTheHuggingFaceMap() {
        XCTAssertTrue(CheckpointNameMap.llamaHuggingFace.isIgnoredFileEntry("model.layers.0.self_attn.rotary_emb.inv_freq"))
        XCTAssertFalse(CheckpointNameMap.llamaHuggingFace.isIgnoredFileEntry("model.layers.0.self_attn.q_proj.weight"))
        XCTAssertFalse(CheckpointNameMap.identity.isIgnoredFileEntry("model.layers.0.self_attn.rotary_emb.inv_freq"))
    }
}
