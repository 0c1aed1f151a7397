import Autograd
import Estimators

/// Per-path options of a module tree. Learning-rate multipliers and weight decay belong to the
/// optimizer's parameter groups (selected by the same path patterns); estimators and freezing live here.
extension Module {
    /// Every `Linear` below this module with its path, in declaration order.
    public var namedLinears: [(String, Linear)] {
        namedModules().compactMap { path, m in (m as? Linear).map { (path, $0) } }
    }

    /// Sets `Linear.estimator` of every linear layer for which `makeEstimator(path, layer)` returns
    /// an estimator; layers for which it returns nil keep theirs.
    /// - Returns: the paths that were assigned.
    @discardableResult
    public func assignEstimators(_ makeEstimator: (String, Linear) -> LinearEstimator?) -> [String] {
        var assigned: [String] = []
        for (path, layer) in namedLinears {
            if let e = makeEstimator(path, layer) { layer.estimator = e; assigned.append(path) }
        }
        return assigned
    }

    /// Sets `requiresGrad = false` on every parameter whose path, or the path of a module that
    /// contains it, matches the glob `pattern` (`*` any run of characters, `?` one), e.g.
    /// `embed.weight`, `layers.0.*`, `layers.*.attention`.
    /// - Returns: the paths of the parameters frozen.
    @discardableResult
    public func freeze(matching pattern: String) -> [String] { setRequiresGrad(false, matching: pattern) }

    /// The reverse of `freeze(matching:)`.
    @discardableResult
    public func unfreeze(matching pattern: String) -> [String] { setRequiresGrad(true, matching: pattern) }

    private func setRequiresGrad(_ flag: Bool, matching pattern: String) -> [String] {
        var changed: [String] = []
        for (path, p) in namedParameters() where pathOrAncestorMatches(pattern, path) {
            p.requiresGrad = flag
            changed.append(path)
        }
        return changed
    }
}

/// Whether `pattern` matches `path` or one of its dotted prefixes (`layers.0` for `layers.0.mlp.up.weight`).
func pathOrAncestorMatches(_ pattern: String, _ path: String) -> Bool {
    if globMatch(pattern, path) { return true }
    var prefix = Substring(path)
    while let dot = prefix.lastIndex(of: ".") {
        prefix = prefix[..<dot]
        if globMatch(pattern, String(prefix)) { return true }
    }
    return false
}
