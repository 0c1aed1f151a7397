/// Which estimator each linear layer gets, by module-path pattern, with a default.
///
/// Text form (the CLI's `--estimators` value): rules separated by `;`, each `pattern=spec`;
/// `default=spec` sets the fallback (exact unless given). Patterns are globs over dotted module
/// paths (`globMatch`: `*` crosses dots). For a given path the *last* matching rule wins, so write
/// general rules first:
/// ```
/// default=exact; layers.*.mlp.*=gradlite(rank:64,explore:16,refresh:20); layers.*.attention.wo=haar(rank:32)
/// ```
/// Paths are those of the `Linear` modules (e.g. `layers.0.mlp.gate`), not of their weights.
public struct EstimatorAssignment: CustomStringConvertible, Equatable, Sendable {
    public struct Rule: Equatable, Sendable {
        public var pattern: String
        public var spec: EstimatorSpec
        public init(pattern: String, spec: EstimatorSpec) { self.pattern = pattern; self.spec = spec }
    }

    public var defaultSpec: EstimatorSpec
    public var rules: [Rule]

    public init(default defaultSpec: EstimatorSpec = .exact, rules: [Rule] = []) {
        self.defaultSpec = defaultSpec; self.rules = rules
    }

    /// Parses the text form; empty text means all exact.
    /// - Throws: `EstimatorSpecError` naming the offending token and the valid choices.
    public init(parsing text: String) throws {
        self.init()
        for raw in text.split(separator: ";").map({ String($0).trimmingSpaces }) where !raw.isEmpty {
            guard let eq = raw.firstIndex(of: "=") else {
                throw EstimatorSpecError(token: raw, message: "estimator rule '\(raw)' has no '=' (expected pattern=spec or default=spec)")
            }
            let pattern = String(raw[..<eq]).trimmingSpaces
            let spec = try EstimatorSpec(parsing: String(raw[raw.index(after: eq)...]))
            guard !pattern.isEmpty else {
                throw EstimatorSpecError(token: raw, message: "estimator rule '\(raw)' has an empty pattern (expected pattern=spec or default=spec)")
            }
            if pattern == "default" { defaultSpec = spec } else { rules.append(Rule(pattern: pattern, spec: spec)) }
        }
    }

    /// The spec for the layer at `path`: the last matching rule's, else the default.
    public func spec(forPath path: String) -> EstimatorSpec {
        rules.last { globMatch($0.pattern, path) }?.spec ?? defaultSpec
    }

    /// A fresh estimator for the layer at `path` with a weight of `weightShape` (m, n); its RNG
    /// stream is `estimatorStream(forPath: path)`, so layers draw independently and reproducibly.
    public func estimator(forPath path: String, weightShape: [Int], seed: UInt64) -> LinearEstimator {
        spec(forPath: path).make(weightShape: weightShape, seed: seed, stream: estimatorStream(forPath: path))
    }

    /// The canonical text form; parses back to an equal assignment.
    public var description: String {
        (["default=\(defaultSpec)"] + rules.map { "\($0.pattern)=\($0.spec)" }).joined(separator: "; ")
    }
}
