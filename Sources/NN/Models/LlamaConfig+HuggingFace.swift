import Foundation

extension LlamaConfig {
    /// Reads a Hugging Face `config.json` of a LLaMA (`model_type` "llama"), Mixtral (`model_type`
    /// "mixtral": `num_local_experts`, `num_experts_per_tok`, `router_aux_loss_coef`) or Qwen2-MoE
    /// (`model_type` "qwen2_moe", in the form Sketchgrad writes: see `qwen2MoE`) model.
    ///
    /// Keys: hidden_size, intermediate_size, num_attention_heads, num_hidden_layers, vocab_size
    /// (required); num_key_value_heads, max_position_embeddings (or GaLore's max_sequence_length),
    /// rms_norm_eps, rope_theta, initializer_range (optional). Rejected with a `ConfigError` naming
    /// the key: tied embeddings, an activation other than SiLU, attention or MLP biases,
    /// `rope_scaling`, a `head_dim` other than hidden_size / num_attention_heads, other model types.
    /// Unknown keys are ignored.
    public init(huggingFaceJSON data: Data) throws {
        let root: [String: JSONValue]
        do {
            root = try JSONDecoder().decode([String: JSONValue].self, from: data)
        } catch {
            throw ConfigError.invalidJSON(Self.jsonProblem(data))
        }
        let json = HFKeys(root)
        let modelType = try json.string("model_type")
        if let type = modelType, !["llama", "mixtral", "qwen2_moe"].contains(type) {
            throw ConfigError.unsupported(key: "model_type", reason: "'\(type)' (only llama, mixtral and qwen2_moe configs are read)")
        }
        if try json.bool("tie_word_embeddings") == true {
            throw ConfigError.unsupported(key: "tie_word_embeddings", reason: "true (the LM head is a separate, untied weight)")
        }
        if let act = try json.string("hidden_act"), act != "silu" {
            throw ConfigError.unsupported(key: "hidden_act", reason: "'\(act)' (LLaMA's MLP uses silu)")
        }
        for key in ["attention_bias", "mlp_bias"] {
            if try json.bool(key) == true { throw ConfigError.unsupported(key: key, reason: "true (layers have no biases)") }
        }
        if let scaling = root["rope_scaling"], scaling != .null {
            throw ConfigError.unsupported(key: "rope_scaling", reason: "only plain rotary embeddings (rope_scaling null)")
        }
        let hidden = try json.requiredInt("hidden_size"), heads = try json.requiredInt("num_attention_heads")
        if let headDim = try json.int("head_dim"), heads > 0, headDim * heads != hidden {
            throw ConfigError.unsupported(key: "head_dim", reason: "\(headDim) ≠ hidden_size / num_attention_heads")
        }
        var moe: MoEConfig? = nil
        if modelType == "qwen2_moe" {
            moe = try Self.qwen2MoE(json, root)
        } else if let experts = try json.int("num_local_experts") ?? json.int("num_experts") {
            moe = MoEConfig(experts: experts, topK: try json.int("num_experts_per_tok") ?? 2,
                            balanceCoefficient: Float(try json.double("router_aux_loss_coef") ?? 0.01))
        }
        self.init(hiddenSize: hidden,
                  intermediateSize: try json.requiredInt("intermediate_size"),
                  numHeads: heads,
                  numKeyValueHeads: try json.int("num_key_value_heads"),
                  numLayers: try json.requiredInt("num_hidden_layers"),
                  vocabSize: try json.requiredInt("vocab_size"),
                  maxSequenceLength: try json.int("max_position_embeddings") ?? json.int("max_sequence_length") ?? 1024,
                  rmsNormEps: Float(try json.double("rms_norm_eps") ?? 1e-6),
                  ropeTheta: Float(try json.double("rope_theta") ?? 10_000),
                  initStd: Float(try json.double("initializer_range") ?? 0.02),
                  moe: moe)
        do { try validate() } catch let error as ConfigError {
            throw error.renamingKeys(LlamaConfig.huggingFaceKeys)
        }
    }

    /// The mixture of a `qwen2_moe` config, which must be what Sketchgrad's MoE computes: every
    /// layer sparse, top-k gates renormalised, no attention biases, the shared expert as wide as
    /// the others.
    private static func qwen2MoE(_ json: HFKeys, _ root: [String: JSONValue]) throws -> MoEConfig {
        guard let experts = try json.int("num_experts") else { throw ConfigError.missingKey("num_experts") }
        let expertSize = try json.int("moe_intermediate_size") ?? 1408
        if try json.int("shared_expert_intermediate_size") ?? 5632 != expertSize {
            throw ConfigError.unsupported(key: "shared_expert_intermediate_size", reason: "differs from moe_intermediate_size (Sketchgrad's shared expert is as wide as the others)")
        }
        if try json.bool("norm_topk_prob") != true {
            throw ConfigError.unsupported(key: "norm_topk_prob", reason: "false (Sketchgrad renormalises the top-k gates)")
        }
        if try json.bool("qkv_bias") ?? true {
            throw ConfigError.unsupported(key: "qkv_bias", reason: "true (layers have no biases)")
        }
        if try json.int("decoder_sparse_step") ?? 1 != 1 {
            throw ConfigError.unsupported(key: "decoder_sparse_step", reason: "other than 1 (every layer is a mixture)")
        }
        if let dense = root["mlp_only_layers"], dense != .null, dense != .array([]) {
            throw ConfigError.unsupported(key: "mlp_only_layers", reason: "not empty (every layer is a mixture)")
        }
        return MoEConfig(experts: experts, topK: try json.int("num_experts_per_tok") ?? 4, sharedExpert: true,
                         balanceCoefficient: Float(try json.double("router_aux_loss_coef") ?? 0.001),
                         expertIntermediateSize: expertSize)
    }

    /// What is wrong with a config.json the decoder refused: JSONSerialization names it ("Number
    /// 1e999 is not representable in Swift."), the decoder does not.
    static func jsonProblem(_ data: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data)
            return "not a JSON object of keys and values"
        } catch {
            return ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? "not valid JSON"
        }
    }

    /// Hugging Face key for each property, for error messages about a config.json.
    static let huggingFaceKeys: [String: String] = [
        "hiddenSize": "hidden_size", "intermediateSize": "intermediate_size", "numHeads": "num_attention_heads",
        "numKeyValueHeads": "num_key_value_heads", "numLayers": "num_hidden_layers", "vocabSize": "vocab_size",
        "maxSequenceLength": "max_position_embeddings", "rmsNormEps": "rms_norm_eps", "ropeTheta": "rope_theta",
        "initStd": "initializer_range", "moe.experts": "num_local_experts", "moe.topK": "num_experts_per_tok",
        "moe.balanceCoefficient": "router_aux_loss_coef",
    ]
}

extension ConfigError {
    func renamingKeys(_ names: [String: String]) -> ConfigError {
        func rename(_ s: String) -> String {
            var out = s
            // Longest names first so that `numKeyValueHeads` is not rewritten through `numHeads`.
            for (from, to) in names.sorted(by: { $0.key.count > $1.key.count }) { out = out.replacingOccurrences(of: from, with: to) }
            return out
        }
        switch self {
        case let .invalidValue(key, value, reason): return .invalidValue(key: names[key] ?? key, value: value, reason: rename(reason))
        case let .unsupported(key, reason): return .unsupported(key: names[key] ?? key, reason: rename(reason))
        case let .missingKey(key): return .missingKey(names[key] ?? key)
        default: return self
        }
    }
}

/// Any JSON value (for reading config files whose keys vary by model family).
enum JSONValue: Decodable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }
}

/// Typed access to a config.json's top-level keys; a present value of the wrong type throws
/// `ConfigError.invalidValue` naming the key, a null value counts as absent.
struct HFKeys {
    let values: [String: JSONValue]
    init(_ values: [String: JSONValue]) { self.values = values }

    func int(_ key: String) throws -> Int? {
        switch values[key] {
        case nil, .null?: return nil
        case .number(let d)? where d == d.rounded() && Swift.abs(d) < 1e15: return Int(d)
        case let v?: throw ConfigError.invalidValue(key: key, value: describe(v), reason: "must be an integer")
        }
    }

    func requiredInt(_ key: String) throws -> Int {
        guard let v = try int(key) else { throw ConfigError.missingKey(key) }
        return v
    }

    func double(_ key: String) throws -> Double? {
        switch values[key] {
        case nil, .null?: return nil
        case .number(let d)?: return d
        case let v?: throw ConfigError.invalidValue(key: key, value: describe(v), reason: "must be a number")
        }
    }

    func bool(_ key: String) throws -> Bool? {
        switch values[key] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case let v?: throw ConfigError.invalidValue(key: key, value: describe(v), reason: "must be true or false")
        }
    }

    func string(_ key: String) throws -> String? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let v?: throw ConfigError.invalidValue(key: key, value: describe(v), reason: "must be a string")
        }
    }

    private func describe(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return "\(b)"
        case .number(let d): return d == d.rounded() && Swift.abs(d) < 1e15 ? "\(Int(d))" : "\(d)"
        case .string(let s): return "\"\(s)\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
