import Tensor

extension OptimizerSpec {
    /// Bytes of the state `make(parameters:...)` allocates for parameters of these paths and
    /// shapes (the default `ParameterGroups`), without making it: the optimizer term of the
    /// memory pre-flight. `OptimizerMemoryTests` holds it equal to each optimizer's `stateBytes`.
    /// - Throws: `SizeOverflowError` when a size overflows.
    public func estimatedStateBytes(parameters: [(path: String, shape: [Int])],
                                    groups: ParameterGroups = ParameterGroups()) throws -> Int {
        let what = "optimizer state"
        var floats = 1 // the step counter
        for (path, shape) in parameters {
            let count = try Size.product(shape, what: what)
            let perParameter: Int
            switch kind {
            case .adamw:
                perParameter = try Size.product(2, count, what: what) + 1 // moments and a step count
            case .sgd:
                perParameter = (options["momentum"] ?? 0) > 0 ? count : 0
            case .lomo:
                perParameter = 0
            case .adalomo:
                perParameter = shape.count >= 2 ? count / shape[shape.count - 1] + shape[shape.count - 1] : count
            case .galore, .grassjump, .grasswalk:
                guard groups.usesSubspace(path: path, shape: shape) else {
                    perParameter = try Size.product(2, count, what: what) + 1 // the AdamW group
                    break
                }
                let (m, n) = (shape[0], shape[1])
                let r = Swift.min(subspaceOptions.rank, m, n)
                let side = ProjectionSide.forShape(rows: m, cols: n)
                let basis = try Size.product(side == .left ? m : n, r, what: what)
                let moments = try Size.product(2, side == .left ? n : m, r, what: what)
                perParameter = basis + moments + (kind == .galore ? 1 : 2)
            }
            floats = try Size.sum([floats, perParameter], what: what)
        }
        return try Size.product(floats, 4, what: what)
    }
}
