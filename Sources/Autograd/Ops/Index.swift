import Tensor

extension Variable {
    /// Rows `indices` along the first axis (an embedding lookup).
    /// - Returns: `[indices.count] + shape[1...]`.
    public func indexSelect(_ indices: [Int]) -> Variable {
        let s = shape
        // From a parameter (an embedding table) the result is that parameter's gradient: count it
        // as one from the start, not as a table-sized block of the backward's workspace.
        let category: MemoryCategory
        if case .parameter? = origin { category = .gradient } else { category = .workspace }
        return Tape.current.record("index-select", inputs: [self], output: value.indexSelect(indices), saved: []) { g, _ in
            [Memory.withCategory(category) { Tensor.scatterAdd(g, indices: indices, shape: s) }]
        }
    }

    /// A zero tensor of `shape` with this variable's rows added at `indices` (MoE combine).
    /// - Parameter self: `[indices.count] + shape[1...]`.
    public func scatterAdd(indices: [Int], shape: [Int]) -> Variable {
        Tape.current.record("scatter-add", inputs: [self], output: Tensor.scatterAdd(value, indices: indices, shape: shape), saved: []) { g, _ in
            [g.indexSelect(indices)]
        }
    }
}
