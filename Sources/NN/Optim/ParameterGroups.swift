import Autograd
import Estimators
import Tensor

/// Per-parameter optimizer options.
public struct ParameterOptions: Equatable, Sendable {
    /// Multiplies the optimizer's learning rate for this parameter.
    public var learningRateScale: Float
    /// Decoupled weight decay for this parameter; nil takes the optimizer's default.
    public var weightDecay: Float?
    /// Frozen parameters are never updated and get no optimizer state.
    public var frozen: Bool

    public init(learningRateScale: Float = 1, weightDecay: Float? = nil, frozen: Bool = false) {
        self.learningRateScale = learningRateScale; self.weightDecay = weightDecay; self.frozen = frozen
    }
}

/// Which options and which update rule each parameter gets, chosen by glob on its dotted path
/// (`globMatch`: `*` matches any characters, dots included).
///
/// ```swift
/// var groups = ParameterGroups()
/// groups.rules.append(.init("*norm*", weightDecay: 0))
/// groups.rules.append(.init("embedding.*", frozen: true))
/// ```
public struct ParameterGroups: Sendable {
    /// A partial override: the fields it sets replace those of earlier matching rules.
    public struct Rule: Equatable, Sendable {
        public var pattern: String
        public var learningRateScale: Float?
        public var weightDecay: Float?
        public var frozen: Bool?

        public init(_ pattern: String, learningRateScale: Float? = nil, weightDecay: Float? = nil, frozen: Bool? = nil) {
            self.pattern = pattern; self.learningRateScale = learningRateScale
            self.weightDecay = weightDecay; self.frozen = frozen
        }
    }

    /// The weights GaLore-style methods project by default: every 2-D weight of attention and MLP
    /// blocks (mixture-of-experts experts live under `mlp` too). Embeddings, the head and norms
    /// keep plain AdamW, as in GaLore.
    public static let defaultSubspacePatterns = ["layers.*.attention.*", "layers.*.mlp.*"]
    /// Matched paths keep AdamW even when a subspace pattern matches them: the MoE router
    /// (experts × dim, a handful of rows, where a rank-r projection saves nothing and would
    /// distort the routing update).
    public static let defaultSubspaceExclusions = ["layers.*.mlp.router.*"]

    /// Applied in order; later rules win for the fields they set.
    public var rules: [Rule]
    /// Paths of 2-D parameters that get the subspace update (GaLore, Grass); the rest use AdamW.
    public var subspacePatterns: [String]
    /// Paths excluded from the subspace update although a `subspacePatterns` entry matches.
    public var subspaceExclusions: [String]

    public init(rules: [Rule] = [], subspacePatterns: [String] = ParameterGroups.defaultSubspacePatterns,
                subspaceExclusions: [String] = ParameterGroups.defaultSubspaceExclusions) {
        self.rules = rules; self.subspacePatterns = subspacePatterns; self.subspaceExclusions = subspaceExclusions
    }

    public func options(for path: String) -> ParameterOptions {
        var o = ParameterOptions()
        for r in rules where globMatch(r.pattern, path) {
            if let s = r.learningRateScale { o.learningRateScale = s }
            if let w = r.weightDecay { o.weightDecay = w }
            if let f = r.frozen { o.frozen = f }
        }
        return o
    }

    /// Whether a parameter of this path and shape gets the subspace (projected) update.
    public func usesSubspace(path: String, shape: [Int]) -> Bool {
        shape.count == 2 && subspacePatterns.contains { globMatch($0, path) }
            && !subspaceExclusions.contains { globMatch($0, path) }
    }
}

/// One managed parameter with its resolved options.
struct ParameterSlot {
    let path: String
    let parameter: Parameter
    let options: ParameterOptions

    func weightDecay(default d: Float) -> Float { options.weightDecay ?? d }
}

extension ParameterGroups {
    /// The non-frozen parameters as slots, in the given order.
    func slots(_ parameters: [(String, Parameter)]) -> [ParameterSlot] {
        parameters.compactMap { path, p in
            let o = options(for: path)
            return o.frozen ? nil : ParameterSlot(path: path, parameter: p, options: o)
        }
    }
}
