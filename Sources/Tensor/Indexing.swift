/// Gather and scatter-add along the first axis: the kernels of embeddings and MoE dispatch.
extension Tensor {
    /// Rows `indices` of a tensor viewed as `(shape[0], rest)`.
    /// - Returns: `[indices.count] + shape[1...]`.
    public func indexSelect(_ indices: [Int]) -> Tensor {
        precondition(rank >= 1, "indexSelect: needs rank ≥ 1, got shape \(shape)")
        let rows = shape[0], width = count / Swift.max(rows, 1)
        let out = Tensor(uninitializedShape: [indices.count] + shape.dropFirst())
        for (k, i) in indices.enumerated() {
            precondition(i >= 0 && i < rows, "indexSelect: index \(i) out of range for shape \(shape)")
            (out.storage.base + k * width).update(from: pointer + i * width, count: width)
        }
        return out
    }

    /// `self[indices[k]] += source[k]` for each k (repeated indices accumulate), in place.
    /// - Parameter source: `[indices.count] + shape[1...]`.
    public mutating func indexAdd(_ indices: [Int], _ source: Tensor) {
        precondition(rank >= 1, "indexAdd: needs rank ≥ 1, got shape \(shape)")
        let rows = shape[0], width = count / Swift.max(rows, 1)
        precondition(source.shape == [indices.count] + shape.dropFirst(),
                     "indexAdd: source shape \(source.shape) does not match \(indices.count) rows of shape \(shape)")
        ensureUnique()
        for (k, i) in indices.enumerated() {
            precondition(i >= 0 && i < rows, "indexAdd: index \(i) out of range for shape \(shape)")
            vaddInPlace(storage.base + i * width, source.pointer + k * width, width)
        }
    }

    /// A zero tensor of `shape` with `source` rows added at `indices` (the adjoint of `indexSelect`).
    public static func scatterAdd(_ source: Tensor, indices: [Int], shape: [Int]) -> Tensor {
        var out = Tensor.zeros(shape)
        out.indexAdd(indices, source)
        return out
    }
}
