import Foundation

extension LlamaConfig {
    /// A Hugging Face `config.json` for this configuration (`LlamaForCausalLM`, or Mixtral-style
    /// keys when it has experts), readable back by `init(huggingFaceJSON:)`.
    public func huggingFaceJSON() throws -> Data {
        var dict: [String: Any] = [
            "architectures": [moe == nil ? "LlamaForCausalLM" : "MixtralForCausalLM"],
            "model_type": moe == nil ? "llama" : "mixtral",
            "hidden_size": hiddenSize, "intermediate_size": intermediateSize,
            "num_attention_heads": numHeads, "num_key_value_heads": numKeyValueHeads,
            "num_hidden_layers": numLayers, "vocab_size": vocabSize,
            "max_position_embeddings": maxSequenceLength, "rms_norm_eps": shortestDecimal(rmsNormEps),
            "rope_theta": shortestDecimal(ropeTheta), "initializer_range": shortestDecimal(initStd),
            "hidden_act": "silu", "tie_word_embeddings": false, "attention_bias": false, "mlp_bias": false,
            "torch_dtype": "float32",
        ]
        if let moe {
            dict["num_local_experts"] = moe.experts
            dict["num_experts_per_tok"] = moe.topK
            dict["router_aux_loss_coef"] = shortestDecimal(moe.balanceCoefficient)
        }
        return try JSONSerialization.data(withJSONObject: dict, options: [.prettyPrinted, .sortedKeys])
    }
}

/// The Double nearest to `x`'s shortest decimal form, so JSON shows `0.02`, not the binary
/// float's exact `0.019999999552965164` (reading it back as Float gives `x` again).
func shortestDecimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }
