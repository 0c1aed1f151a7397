import Foundation

extension LlamaConfig {
    /// A Hugging Face `config.json` for this configuration, readable back by
    /// `init(huggingFaceJSON:)`: `LlamaForCausalLM`; with experts `MixtralForCausalLM`, or
    /// `Qwen2MoeForCausalLM` when there is a shared expert (see `CheckpointNameMap.huggingFace`).
    /// - Parameters: endOfSequence, beginOfSequence: `eos_token_id` and `bos_token_id` (omitted when nil).
    public func huggingFaceJSON(endOfSequence: Int32? = nil, beginOfSequence: Int32? = nil) throws -> Data {
        let architecture: (name: String, type: String)
        switch moe {
        case nil: architecture = ("LlamaForCausalLM", "llama")
        case let m? where m.sharedExpert: architecture = ("Qwen2MoeForCausalLM", "qwen2_moe")
        default: architecture = ("MixtralForCausalLM", "mixtral")
        }
        var dict: [String: Any] = [
            "architectures": [architecture.name], "model_type": architecture.type,
            "hidden_size": hiddenSize, "intermediate_size": intermediateSize,
            "num_attention_heads": numHeads, "num_key_value_heads": numKeyValueHeads,
            "num_hidden_layers": numLayers, "vocab_size": vocabSize,
            "max_position_embeddings": maxSequenceLength, "rms_norm_eps": shortestDecimal(rmsNormEps),
            "rope_theta": shortestDecimal(ropeTheta), "initializer_range": shortestDecimal(initStd),
            "hidden_act": "silu", "tie_word_embeddings": false, "attention_bias": false, "mlp_bias": false,
            "torch_dtype": "float32",
        ]
        if let endOfSequence { dict["eos_token_id"] = Int(endOfSequence) }
        if let beginOfSequence { dict["bos_token_id"] = Int(beginOfSequence) }
        if let moe {
            let expertSize = moe.expertIntermediateSize ?? intermediateSize
            dict["num_experts_per_tok"] = moe.topK
            dict["router_aux_loss_coef"] = shortestDecimal(moe.balanceCoefficient)
            dict["output_router_logits"] = false
            if moe.sharedExpert {
                // Every layer sparse, gates renormalised over the top k (as Sketchgrad routes), no
                // attention biases; the shared expert is as wide as the others.
                dict["num_experts"] = moe.experts
                dict["moe_intermediate_size"] = expertSize
                dict["shared_expert_intermediate_size"] = expertSize
                dict["norm_topk_prob"] = true
                dict["decoder_sparse_step"] = 1
                dict["mlp_only_layers"] = [Int]()
                dict["qkv_bias"] = false
                dict["use_sliding_window"] = false
            } else {
                // Mixtral's intermediate_size is each expert's.
                dict["num_local_experts"] = moe.experts
                dict["intermediate_size"] = expertSize
            }
        }
        return try JSONSerialization.data(withJSONObject: dict, options: [.prettyPrinted, .sortedKeys])
    }
}

/// The Double nearest to `x`'s shortest decimal form, so JSON shows `0.02`, not the binary
/// float's exact `0.019999999552965164` (reading it back as Float gives `x` again).
func shortestDecimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }
