/// A two-way map between internal parameter paths (`layers.0.attention.wq.weight`) and the names
/// stored in a weights file (`model.layers.0.self_attn.q_proj.weight`).
///
/// Both directions throw `CheckpointError.unknownName` for a name outside the scheme, so that an
/// unexpected parameter is reported instead of silently dropped.
public struct CheckpointNameMap: Sendable {
    /// Internal path → file name.
    public let fileName: @Sendable (String) throws -> String
    /// File name → internal path.
    public let internalPath: @Sendable (String) throws -> String
    /// File entries that are not parameters and are skipped on load (e.g. precomputed RoPE
    /// frequencies that old Hugging Face checkpoints store).
    public let isIgnoredFileEntry: @Sendable (String) -> Bool

    /// File value = scale × parameter, by file name (1 for almost everything).
    public let fileScale: @Sendable (String) -> Float
    /// Tensors without a parameter that the file format needs, by name, with their shape computed
    /// from the parameters' file names and shapes: written as zeros, and required to be zero on load.
    public let fixedEntries: @Sendable ([String: [Int]]) -> [String: [Int]]

    public init(fileName: @escaping @Sendable (String) throws -> String,
                internalPath: @escaping @Sendable (String) throws -> String,
                isIgnoredFileEntry: @escaping @Sendable (String) -> Bool = { _ in false },
                fileScale: @escaping @Sendable (String) -> Float = { _ in 1 },
                fixedEntries: @escaping @Sendable ([String: [Int]]) -> [String: [Int]] = { _ in [:] }) {
        self.fileName = fileName
        self.internalPath = internalPath
        self.isIgnoredFileEntry = isIgnoredFileEntry
        self.fileScale = fileScale
        self.fixedEntries = fixedEntries
    }

    /// Names stored as they are.
    public static let identity = CheckpointNameMap(fileName: { $0 }, internalPath: { $0 })

    /// The names of the Hugging Face architecture that `config` is saved as (see
    /// `LlamaConfig.huggingFaceJSON`): Qwen2-MoE with a shared expert, else LLaMA / Mixtral.
    public static func huggingFace(_ config: LlamaConfig) -> CheckpointNameMap {
        config.moe?.sharedExpert == true ? .qwen2MoE : .llamaHuggingFace
    }

    /// `Qwen2MoeForCausalLM` names, with the zero shared-expert gate and doubled shared down
    /// projection that make its gated shared expert equal to Sketchgrad's ungated one.
    public static let qwen2MoE = CheckpointNameMap(
        fileName: { try HuggingFaceNames.huggingFaceName(for: $0, rules: HuggingFaceNames.qwen2MoERules) },
        internalPath: { try HuggingFaceNames.internalPath(for: $0, rules: HuggingFaceNames.qwen2MoERules) },
        isIgnoredFileEntry: { $0.hasSuffix(".rotary_emb.inv_freq") },
        fileScale: { $0.hasSuffix(".mlp.shared_expert.down_proj.weight") ? 2 : 1 },
        fixedEntries: { shapes in
            // One zero (1, hidden) gate per shared expert, sized from its gate projection (f, hidden).
            var fixed: [String: [Int]] = [:]
            for (name, shape) in shapes where name.hasSuffix(".mlp.shared_expert.gate_proj.weight") && shape.count == 2 {
                fixed[name.replacingOccurrences(of: ".mlp.shared_expert.gate_proj.weight", with: ".mlp.shared_expert_gate.weight")] = [1, shape[1]]
            }
            return fixed
        })

    /// Hugging Face LLaMA names (Mixtral-style names for mixture-of-experts layers).
    public static let llamaHuggingFace = CheckpointNameMap(
        fileName: { try HuggingFaceNames.huggingFaceName(for: $0) },
        internalPath: { try HuggingFaceNames.internalPath(for: $0) },
        isIgnoredFileEntry: { $0.hasSuffix(".rotary_emb.inv_freq") })
}

/// The mapping between Sketchgrad's LLaMA parameter paths and Hugging Face's.
///
/// Dense layers follow `LlamaForCausalLM`. Mixtures of experts follow `MixtralForCausalLM`
/// (`block_sparse_moe.gate`, `experts.E.w1/w3/w2` for gate/up/down), or `Qwen2MoeForCausalLM`
/// (`mlp.gate`, `mlp.experts.E.gate_proj/up_proj/down_proj`, `mlp.shared_expert.*`) when they have
/// a shared expert. Qwen2-MoE gates its shared expert by `sigmoid(shared_expert_gate · x)`, which
/// Sketchgrad's ungated one matches exactly with a zero gate (σ(0) = ½) and a doubled
/// `shared_expert.down_proj`; the map writes both and undoes them on load.
public enum HuggingFaceNames {
    /// (internal, Hugging Face) pattern pairs; `#` stands for a layer or expert index and the
    /// indices appear in the same order on both sides.
    public typealias Rules = [(String, String)]

    /// The parameters every scheme shares: embeddings, attention, norms, head, dense MLPs.
    public static let denseRules: Rules = [
        ("embed.weight", "model.embed_tokens.weight"),
        ("layers.#.attentionNorm.weight", "model.layers.#.input_layernorm.weight"),
        ("layers.#.attention.wq.weight", "model.layers.#.self_attn.q_proj.weight"),
        ("layers.#.attention.wk.weight", "model.layers.#.self_attn.k_proj.weight"),
        ("layers.#.attention.wv.weight", "model.layers.#.self_attn.v_proj.weight"),
        ("layers.#.attention.wo.weight", "model.layers.#.self_attn.o_proj.weight"),
        ("layers.#.mlpNorm.weight", "model.layers.#.post_attention_layernorm.weight"),
        ("layers.#.mlp.gate.weight", "model.layers.#.mlp.gate_proj.weight"),
        ("layers.#.mlp.up.weight", "model.layers.#.mlp.up_proj.weight"),
        ("layers.#.mlp.down.weight", "model.layers.#.mlp.down_proj.weight"),
        ("norm.weight", "model.norm.weight"),
        ("head.weight", "lm_head.weight"),
    ]

    /// `LlamaForCausalLM`, and `MixtralForCausalLM` for mixtures without a shared expert.
    public static let rules: Rules = denseRules + [
        ("layers.#.mlp.router.weight", "model.layers.#.block_sparse_moe.gate.weight"),
        ("layers.#.mlp.experts.#.gate.weight", "model.layers.#.block_sparse_moe.experts.#.w1.weight"),
        ("layers.#.mlp.experts.#.up.weight", "model.layers.#.block_sparse_moe.experts.#.w3.weight"),
        ("layers.#.mlp.experts.#.down.weight", "model.layers.#.block_sparse_moe.experts.#.w2.weight"),
    ]

    /// `Qwen2MoeForCausalLM`, for mixtures with a shared expert.
    public static let qwen2MoERules: Rules = denseRules + [
        ("layers.#.mlp.router.weight", "model.layers.#.mlp.gate.weight"),
        ("layers.#.mlp.experts.#.gate.weight", "model.layers.#.mlp.experts.#.gate_proj.weight"),
        ("layers.#.mlp.experts.#.up.weight", "model.layers.#.mlp.experts.#.up_proj.weight"),
        ("layers.#.mlp.experts.#.down.weight", "model.layers.#.mlp.experts.#.down_proj.weight"),
        ("layers.#.mlp.shared.gate.weight", "model.layers.#.mlp.shared_expert.gate_proj.weight"),
        ("layers.#.mlp.shared.up.weight", "model.layers.#.mlp.shared_expert.up_proj.weight"),
        ("layers.#.mlp.shared.down.weight", "model.layers.#.mlp.shared_expert.down_proj.weight"),
    ]

    /// `layers.0.attention.wq.weight` → `model.layers.0.self_attn.q_proj.weight`.
    public static func huggingFaceName(for path: String, rules: Rules = rules) throws -> String {
        for (from, to) in rules {
            if let indices = match(pattern: from, path) { return substitute(to, indices) }
        }
        throw CheckpointError.unknownName(name: path, reason: "not a LLaMA parameter path")
    }

    /// `model.layers.0.self_attn.q_proj.weight` → `layers.0.attention.wq.weight`.
    public static func internalPath(for name: String, rules: Rules = rules) throws -> String {
        for (to, from) in rules {
            if let indices = match(pattern: from, name) { return substitute(to, indices) }
        }
        throw CheckpointError.unknownName(name: name, reason: "not a Hugging Face LLaMA parameter name")
    }

    /// The indices matched by `#` segments, or nil. Only canonical decimals match (`0`, `12`, not
    /// `01` or `-1`), so the map is a bijection.
    static func match(pattern: String, _ name: String) -> [Substring]? {
        let p = pattern.split(separator: ".", omittingEmptySubsequences: false)
        let n = name.split(separator: ".", omittingEmptySubsequences: false)
        guard p.count == n.count else { return nil }
        var indices: [Substring] = []
        for (ps, ns) in zip(p, n) {
            if ps == "#" {
                guard !ns.isEmpty, ns.allSatisfy(\.isASCII), ns.allSatisfy(\.isNumber),
                      ns == "0" || ns.first != "0" else { return nil }
                indices.append(ns)
            } else if ps != ns {
                return nil
            }
        }
        return indices
    }

    static func substitute(_ pattern: String, _ indices: [Substring]) -> String {
        var rest = indices[...]
        return pattern.split(separator: ".", omittingEmptySubsequences: false)
            .map { $0 == "#" ? rest.popFirst()! : $0 }
            .joined(separator: ".")
    }
}
