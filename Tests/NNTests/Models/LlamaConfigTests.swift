import Foundation
@testable import NN
import XCTest

final class LlamaConfigTests: XCTestCase {
    func testPresetsMatchGaLoreSizes() throws {
        let expected: [String: [Int]] = [
            "llama-20m": [256, 688, 4, 4, 32000], "llama-60m": [512, 1376, 8, 8, 32000],
            "llama-100m": [640, 1708, 10, 12, 32100], "llama-130m": [768, 2048, 12, 12, 32000],
        ]
        for name in LlamaConfig.presetNames {
            let c = try LlamaConfig.preset(name)
            XCTAssertEqual([c.hiddenSize, c.intermediateSize, c.numHeads, c.numLayers, c.vocabSize], expected[name])
            XCTAssertEqual(c.numKeyValueHeads, c.numHeads)
            XCTAssertEqual(c.rmsNormEps, 1e-6)
            XCTAssertEqual(c.ropeTheta, 10_000)
            XCTAssertEqual(c.initStd, 0.02)
            XCTAssertNil(c.moe)
            XCTAssertNoThrow(try c.validate())
        }
        // 2·32000·256 (embed + head) + 4·(4·256² + 3·256·688 + 2·256) + 256.
        XCTAssertEqual(try LlamaConfig.preset("llama-20m").parameterCount, 19_548_416)
        XCTAssertThrowsError(try LlamaConfig.preset("llama-7b")) { error in
            XCTAssertEqual("\(error)", "unknown model preset 'llama-7b' (available: llama-20m, llama-60m, llama-100m, llama-130m)")
        }
    }

    func testReadsGaLoreStyleHuggingFaceConfig() throws {
        let json = """
        {"architectures": ["LLaMAForCausalLM"], "bos_token_id": 0, "eos_token_id": 1, "hidden_act": "silu",
         "hidden_size": 512, "intermediate_size": 1376, "initializer_range": 0.02, "max_sequence_length": 1024,
         "model_type": "llama", "num_attention_heads": 8, "num_hidden_layers": 8, "pad_token_id": -1,
         "rms_norm_eps": 1e-06, "transformers_version": "4.28.1", "use_cache": true, "vocab_size": 32000}
        """
        XCTAssertEqual(try LlamaConfig(huggingFaceJSON: Data(json.utf8)), try LlamaConfig.preset("llama-60m"))
    }

    func testReadsGroupedQueryAndRopeTheta() throws {
        let json = """
        {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 8, "num_key_value_heads": 2,
         "num_hidden_layers": 2, "vocab_size": 100, "max_position_embeddings": 256, "rope_theta": 500000.0,
         "rms_norm_eps": 1e-5, "tie_word_embeddings": false, "attention_bias": false, "rope_scaling": null}
        """
        let c = try LlamaConfig(huggingFaceJSON: Data(json.utf8))
        XCTAssertEqual(c.numKeyValueHeads, 2)
        XCTAssertEqual(c.maxSequenceLength, 256)
        XCTAssertEqual(c.ropeTheta, 500_000)
        XCTAssertEqual(c.rmsNormEps, 1e-5)
    }

    func testReadsMixtralExperts() throws {
        let json = """
        {"model_type": "mixtral", "hidden_size": 32, "intermediate_size": 48, "num_attention_heads": 4,
         "num_hidden_layers": 2, "vocab_size": 60, "num_local_experts": 8, "num_experts_per_tok": 2,
         "router_aux_loss_coef": 0.02}
        """
        let c = try LlamaConfig(huggingFaceJSON: Data(json.utf8))
        XCTAssertEqual(c.moe, MoEConfig(experts: 8, topK: 2, sharedExpert: false, balanceCoefficient: 0.02))
    }

    func testRejectsUnsupportedConfigsWithOneLineNamingTheKey() {
        let base = #""hidden_size": 32, "intermediate_size": 48, "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": 60"#
        let cases: [(String, String)] = [
            (#"{\#(base), "tie_word_embeddings": true}"#, "tie_word_embeddings"),
            (#"{\#(base), "hidden_act": "gelu"}"#, "hidden_act"),
            (#"{\#(base), "attention_bias": true}"#, "attention_bias"),
            (#"{\#(base), "rope_scaling": {"type": "linear", "factor": 2.0}}"#, "rope_scaling"),
            (#"{\#(base), "num_key_value_heads": 3}"#, "num_key_value_heads"),
            (#"{\#(base), "model_type": "gpt2"}"#, "model_type"),
            (#"{\#(base), "head_dim": 16}"#, "head_dim"),
            (#"{"intermediate_size": 48, "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": 60}"#, "hidden_size"),
            (#"{\#(base.replacingOccurrences(of: "\"vocab_size\": 60", with: "\"vocab_size\": \"60\""))}"#, "vocab_size"),
            (#"{\#(base.replacingOccurrences(of: "\"hidden_size\": 32", with: "\"hidden_size\": 30"))}"#, "hidden_size"),
            ("not json", "JSON"),
        ]
        for (json, key) in cases {
            XCTAssertThrowsError(try LlamaConfig(huggingFaceJSON: Data(json.utf8)), key) { error in
                let message = "\(error)"
                XCTAssertTrue(error is ConfigError, message)
                XCTAssertTrue(message.contains(key), "'\(message)' does not name \(key)")
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
    }

    func testOwnCodableFormRoundTripsAndFillsDefaults() throws {
        var c = try LlamaConfig.preset("llama-20m")
        c.moe = MoEConfig(experts: 4, sharedExpert: true)
        let data = try JSONEncoder().encode(c)
        XCTAssertEqual(try JSONDecoder().decode(LlamaConfig.self, from: data), c)
        let minimal = #"{"hiddenSize": 16, "intermediateSize": 24, "numHeads": 2, "numLayers": 1, "vocabSize": 50, "moe": {"experts": 3}}"#
        let d = try JSONDecoder().decode(LlamaConfig.self, from: Data(minimal.utf8))
        XCTAssertEqual(d.numKeyValueHeads, 2)
        XCTAssertEqual(d.maxSequenceLength, 1024)
        XCTAssertEqual(d.moe?.topK, 2)
        XCTAssertEqual(d.moe?.balanceCoefficient, 0.01)
    }

    func testValidateNamesTheBadValue() {
        var c = LlamaConfig(hiddenSize: 16, intermediateSize: 24, numHeads: 2, numLayers: 1, vocabSize: 50)
        c.moe = MoEConfig(experts: 2, topK: 3)
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("moe.topK")) }
    }

    /// config.json shows floats as their shortest decimal (`0.02`, not `0.019999999552965164`) and
    /// reads back to the same Float; non-finite and absurd values are refused naming the key.
    func testExportWritesShortestDecimalsAndValidationRefusesNonFiniteValues() throws {
        var c = try LlamaConfig.preset("llama-20m")
        c.moe = MoEConfig(experts: 4, topK: 2, balanceCoefficient: 0.01)
        let text = String(decoding: try c.huggingFaceJSON(), as: UTF8.self)
        for fragment in ["\"initializer_range\" : 0.02", "\"rms_norm_eps\" : 1e-06", "\"router_aux_loss_coef\" : 0.01", "\"rope_theta\" : 10000"] {
            XCTAssertTrue(text.contains(fragment), "\(fragment) in \(text)")
        }
        XCTAssertEqual(try LlamaConfig(huggingFaceJSON: Data(text.utf8)), c)
        for (change, key) in [({ (c: inout LlamaConfig) in c.rmsNormEps = .infinity }, "rmsNormEps"),
                              ({ $0.ropeTheta = .nan }, "ropeTheta"), ({ $0.initStd = .infinity }, "initStd"),
                              ({ $0.numLayers = LlamaConfig.maxLayers + 1 }, "numLayers"),
                              ({ $0.moe = MoEConfig(experts: 2, balanceCoefficient: .infinity) }, "moe.balanceCoefficient"),
                              ({ $0.hiddenSize = 1 << 40; $0.numHeads = 1; $0.numKeyValueHeads = 1 }, "hiddenSize")] as [((inout LlamaConfig) -> Void, String)] {
            var bad = c
            change(&bad)
            XCTAssertThrowsError(try bad.validate(), key) { XCTAssertTrue("\($0)".contains(key), "\($0)") }
        }
    }
}
