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
            "max_position_embeddings": maxSequenceLength, "rms_norm_eps": Double(rmsNormEps),
            "rope_theta": Double(ropeTheta), "initializer_range": Double(initStd),
            "hidden_act": "silu", "tie_word_embeddings": false, "attention_bias": false, "mlp_bias": false,
            "torch_dtype": "float32",
        ]
        if let moe {
            dict["num_local_experts"] = moe.experts
            dict["num_experts_per_tok"] = moe.topK
            dict["router_aux_loss_coef"] = Double(moe.balanceCoefficient)
        }
        return try JSONSerialization.data(withJSONObject: dict, options: [.prettyPrinted, .sortedKeys])
    }
}
