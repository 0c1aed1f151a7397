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
        let fail = { (token: String, message: String) -> Error in EstimatorSpecError(token: token, message: message) }
        for (pattern, value) in try parsePathRules(text, rule: "estimator", value: "spec", fail: fail) {
            let spec = try EstimatorSpec(parsing: value)
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

    /// Estimators for a set of layers, where layers that read one input (each array of
    /// `sharedInputs`: q/k/v, gate/up, ...) and get specs that `sharesSketch(with:)` each other
    /// share one sketch (ALGORITHMS.md §11): one basis, one saved z. A group's random stream is
    /// `estimatorStream(forPath:)` of its members' paths joined by `+`; a layer alone keeps the
    /// stream of its own path, as `estimator(forPath:weightShape:seed:)` gives it.
    /// - Parameters:
    ///   - layers: each layer's path and weight shape (m, n)
    ///   - sharedInputs: sets of layer paths fed by the same tensor; paths not in `layers` are ignored
    /// - Returns: an estimator per path of `layers`
    public func estimators(for layers: [(path: String, weightShape: [Int])], sharedInputs: [[String]],
                           seed: UInt64) -> [String: LinearEstimator] {
        let shapes = Dictionary(layers.map { ($0.path, $0.weightShape) }, uniquingKeysWith: { a, _ in a })
        var out: [String: LinearEstimator] = [:]
        for set in sharedInputs {
            var groups: [(spec: EstimatorSpec, paths: [String])] = []
            for path in set where shapes[path] != nil && out[path] == nil {
                let spec = self.spec(forPath: path)
                if let g = groups.firstIndex(where: { $0.spec.sharesSketch(with: spec) && shapes[$0.paths[0]]![1] == shapes[path]![1] }) {
                    groups[g].paths.append(path)
                } else {
                    groups.append((spec, [path]))
                }
            }
            for g in groups where g.paths.count > 1 {
                let name = g.paths.joined(separator: "+")
                let sketch = g.spec.makeSketch(inFeatures: shapes[g.paths[0]]![1], seed: seed, stream: estimatorStream(forPath: name))!
                for path in g.paths { out[path] = spec(forPath: path).make(weightShape: shapes[path]!, sharing: sketch) }
            }
        }
        for (path, shape) in layers where out[path] == nil {
            out[path] = estimator(forPath: path, weightShape: shape, seed: seed)
        }
        return out
    }

    /// The canonical text form; parses back to an equal assignment.
    public var description: String {
        (["default=\(defaultSpec)"] + rules.map { "\($0.pattern)=\($0.spec)" }).joined(separator: "; ")
    }
}
