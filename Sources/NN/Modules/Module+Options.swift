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

    /// Gives every linear layer below this module its estimator from `assignment`; layers that
    /// read one input (`linearsSharingInput`) and get sharable specs share one sketch
    /// (`EstimatorAssignment.estimators(for:sharedInputs:seed:)`). Layers for which `skip(path)`
    /// is true keep theirs (the fused output head, say).
    /// - Returns: the paths that were assigned.
    @discardableResult
    public func assignEstimators(_ assignment: EstimatorAssignment, seed: UInt64,
                                 skip: (String) -> Bool = { _ in false }) -> [String] {
        let linears = namedLinears.filter { !skip($0.0) }
        let shared = namedModules().flatMap { path, m in m.linearsSharingInput.map { $0.map { join(path, $0) } } }
        let made = assignment.estimators(for: linears.map { ($0.0, $0.1.weight.shape) }, sharedInputs: shared, seed: seed)
        for (path, layer) in linears { layer.estimator = made[path]! }
        return linears.map(\.0)
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
        for (path, p) in namedParameters() where globMatchesPathOrAncestor(pattern, path) {
            p.requiresGrad = flag
            changed.append(path)
        }
        return changed
    }
}

