import Foundation
import Tensor

/// Mixture-of-experts settings: every layer's MLP becomes a `MixtureOfExperts`.
public struct MoEConfig: Codable, Equatable, Sendable {
    public var experts: Int
    /// Experts per token.
    public var topK: Int
    /// Adds one always-on (ungated) SwiGLU expert per layer.
    public var sharedExpert: Bool
    /// Weight of the load-balancing loss (mean over MoE layers) in `LlamaModel.loss`.
    public var balanceCoefficient: Float
    /// Hidden size of each expert; nil means the model's `intermediateSize`.
    public var expertIntermediateSize: Int?

    public init(experts: Int, topK: Int = 2, sharedExpert: Bool = false, balanceCoefficient: Float = 0.01,
                expertIntermediateSize: Int? = nil) {
        self.experts = experts
        self.topK = topK
        self.sharedExpert = sharedExpert
        self.balanceCoefficient = balanceCoefficient
        self.expertIntermediateSize = expertIntermediateSize
    }

    private enum CodingKeys: String, CodingKey { case experts, topK, sharedExpert, balanceCoefficient, expertIntermediateSize }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(experts: try c.decode(Int.self, forKey: .experts),
                  topK: try c.decodeIfPresent(Int.self, forKey: .topK) ?? 2,
                  sharedExpert: try c.decodeIfPresent(Bool.self, forKey: .sharedExpert) ?? false,
                  balanceCoefficient: try c.decodeIfPresent(Float.self, forKey: .balanceCoefficient) ?? 0.01,
                  expertIntermediateSize: try c.decodeIfPresent(Int.self, forKey: .expertIntermediateSize))
    }
}

/// Shape and numerics of a LLaMA model (no biases, untied head, RMSNorm, RoPE, SwiGLU).
///
/// Its own Codable form uses these property names (camelCase; keys with defaults may be omitted);
/// `init(huggingFaceJSON:)` reads a Hugging Face `config.json`.
public struct LlamaConfig: Codable, Equatable, Sendable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHeads: Int
    /// Key/value heads (grouped-query attention when fewer than `numHeads`; must divide it).
    public var numKeyValueHeads: Int
    public var numLayers: Int
    public var vocabSize: Int
    /// Longest sequence the rotary tables cover.
    public var maxSequenceLength: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    /// Standard deviation of the N(0, σ²) initialisation of every linear and embedding weight.
    public var initStd: Float
    public var moe: MoEConfig?

    public init(hiddenSize: Int, intermediateSize: Int, numHeads: Int, numKeyValueHeads: Int? = nil,
                numLayers: Int, vocabSize: Int, maxSequenceLength: Int = 1024, rmsNormEps: Float = 1e-6,
                ropeTheta: Float = 10_000, initStd: Float = 0.02, moe: MoEConfig? = nil) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHeads = numHeads
        self.numKeyValueHeads = numKeyValueHeads ?? numHeads
        self.numLayers = numLayers
        self.vocabSize = vocabSize
        self.maxSequenceLength = maxSequenceLength
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.initStd = initStd
        self.moe = moe
    }

    public var headDim: Int { hiddenSize / Swift.max(numHeads, 1) }

    /// Number of scalar parameters of `LlamaModel(config:)`.
    public var parameterCount: Int {
        let d = hiddenSize, kv = numKeyValueHeads * headDim
        let attention = 2 * d * d + 2 * d * kv
        let mlp: Int
        if let moe {
            let f = moe.expertIntermediateSize ?? intermediateSize
            mlp = moe.experts * d + moe.experts * 3 * d * f + (moe.sharedExpert ? 3 * d * f : 0)
        } else {
            mlp = 3 * d * intermediateSize
        }
        return 2 * vocabSize * d + numLayers * (attention + mlp + 2 * d) + d
    }

    /// Largest `numLayers` and `moe.experts` accepted: far beyond any published model, so a larger
    /// value is a typo (and would take hours to build), not a model.
    public static let maxLayers = 10_000
    public static let maxExperts = 10_000

    /// Throws `ConfigError` naming the first value that does not fit: sizes must be positive,
    /// consistent and bounded (`maxLayers`, `maxExperts`, a parameter count that fits in `Int`),
    /// and every float finite.
    public func validate() throws {
        func positive(_ key: String, _ v: Int) throws {
            if v <= 0 { throw ConfigError.invalidValue(key: key, value: "\(v)", reason: "must be positive") }
        }
        try positive("hiddenSize", hiddenSize)
        try positive("intermediateSize", intermediateSize)
        try positive("numHeads", numHeads)
        try positive("numKeyValueHeads", numKeyValueHeads)
        try positive("numLayers", numLayers)
        try positive("vocabSize", vocabSize)
        try positive("maxSequenceLength", maxSequenceLength)
        if hiddenSize % numHeads != 0 {
            throw ConfigError.invalidValue(key: "hiddenSize", value: "\(hiddenSize)", reason: "is not a multiple of numHeads = \(numHeads)")
        }
        if headDim % 2 != 0 {
            throw ConfigError.invalidValue(key: "numHeads", value: "\(numHeads)", reason: "gives an odd head dimension \(headDim) (rotary embeddings need it even)")
        }
        if numHeads % numKeyValueHeads != 0 {
            throw ConfigError.invalidValue(key: "numKeyValueHeads", value: "\(numKeyValueHeads)", reason: "does not divide numHeads = \(numHeads)")
        }
        if numLayers > Self.maxLayers {
            throw ConfigError.invalidValue(key: "numLayers", value: "\(numLayers)", reason: "must be at most \(Self.maxLayers)")
        }
        if !(rmsNormEps > 0 && rmsNormEps.isFinite) { throw ConfigError.invalidValue(key: "rmsNormEps", value: "\(rmsNormEps)", reason: "must be a positive finite number") }
        if !(ropeTheta > 1 && ropeTheta.isFinite) { throw ConfigError.invalidValue(key: "ropeTheta", value: "\(ropeTheta)", reason: "must be a finite number above 1") }
        if !(initStd >= 0 && initStd.isFinite) { throw ConfigError.invalidValue(key: "initStd", value: "\(initStd)", reason: "must be a finite number ≥ 0") }
        if let moe {
            try positive("moe.experts", moe.experts)
            if moe.topK < 1 || moe.topK > moe.experts {
                throw ConfigError.invalidValue(key: "moe.topK", value: "\(moe.topK)", reason: "must be in 1...\(moe.experts) (moe.experts)")
            }
            if moe.experts > Self.maxExperts {
                throw ConfigError.invalidValue(key: "moe.experts", value: "\(moe.experts)", reason: "must be at most \(Self.maxExperts)")
            }
            if let f = moe.expertIntermediateSize { try positive("moe.expertIntermediateSize", f) }
            if !(moe.balanceCoefficient >= 0 && moe.balanceCoefficient.isFinite) {
                throw ConfigError.invalidValue(key: "moe.balanceCoefficient", value: "\(moe.balanceCoefficient)", reason: "must be a finite number ≥ 0")
            }
        }
        do { _ = try checkedParameterCount() } catch {
            throw ConfigError.invalidValue(key: "hiddenSize", value: "\(hiddenSize)", reason: "with these sizes the parameter count overflows a 64-bit integer")
        }
        if (try? Size.product(numLayers, (moe?.experts ?? 0) + 1, what: "")).map({ $0 > 1_000_000 }) ?? true {
            throw ConfigError.invalidValue(key: "numLayers", value: "\(numLayers)", reason: "× moe.experts exceeds a million expert layers")
        }
    }

    // MARK: presets

    /// Preset names, as in GaLore's `configs/llama_*.json`.
    public static let presetNames = ["llama-20m", "llama-60m", "llama-100m", "llama-130m"]

    /// GaLore's LLaMA sizes (hidden/intermediate/heads/layers/vocab): 20M = 256/688/4/4/32000,
    /// 60M = 512/1376/8/8/32000, 100M = 640/1708/10/12/32100, 130M = 768/2048/12/12/32000.
    public static func preset(_ name: String) throws -> LlamaConfig {
        switch name.lowercased() {
        case "llama-20m": return LlamaConfig(hiddenSize: 256, intermediateSize: 688, numHeads: 4, numLayers: 4, vocabSize: 32000)
        case "llama-60m": return LlamaConfig(hiddenSize: 512, intermediateSize: 1376, numHeads: 8, numLayers: 8, vocabSize: 32000)
        case "llama-100m": return LlamaConfig(hiddenSize: 640, intermediateSize: 1708, numHeads: 10, numLayers: 12, vocabSize: 32100)
        case "llama-130m": return LlamaConfig(hiddenSize: 768, intermediateSize: 2048, numHeads: 12, numLayers: 12, vocabSize: 32000)
        default: throw ConfigError.unknownPreset(name, available: presetNames)
        }
    }

    // MARK: Codable (defaults may be omitted)

    private enum CodingKeys: String, CodingKey {
        case hiddenSize, intermediateSize, numHeads, numKeyValueHeads, numLayers, vocabSize, maxSequenceLength
        case rmsNormEps, ropeTheta, initStd, moe
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(hiddenSize: try c.decode(Int.self, forKey: .hiddenSize),
                  intermediateSize: try c.decode(Int.self, forKey: .intermediateSize),
                  numHeads: try c.decode(Int.self, forKey: .numHeads),
                  numKeyValueHeads: try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads),
                  numLayers: try c.decode(Int.self, forKey: .numLayers),
                  vocabSize: try c.decode(Int.self, forKey: .vocabSize),
                  maxSequenceLength: try c.decodeIfPresent(Int.self, forKey: .maxSequenceLength) ?? 1024,
                  rmsNormEps: try c.decodeIfPresent(Float.self, forKey: .rmsNormEps) ?? 1e-6,
                  ropeTheta: try c.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? 10_000,
                  initStd: try c.decodeIfPresent(Float.self, forKey: .initStd) ?? 0.02,
                  moe: try c.decodeIfPresent(MoEConfig.self, forKey: .moe))
    }
}
