import Tensor

extension Variable {
    /// Sum of all elements, as a scalar of shape [].
    public func sum() -> Variable {
        let s = shape
        return Tape.current.record("sum", inputs: [self], output: Tensor(scalar: value.sum()), saved: []) { g, _ in
            [Tensor.full(s, g.item)]
        }
    }

    /// Mean of all elements, as a scalar of shape [].
    public func mean() -> Variable { sum() * (1 / Float(Swift.max(count, 1))) }

    /// Sum along `axis`.
    public func sum(axis: Int, keepDims: Bool = false) -> Variable {
        let s = shape
        let a = value.normalizeAxis(axis, op: "sum(axis:)")
        return Tape.current.record("sum-axis", inputs: [self], output: value.sum(axis: a, keepDims: keepDims), saved: []) { g, _ in
            var kept = s
            kept[a] = 1
            return [g.reshaped(kept).broadcasted(to: s)]
        }
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Variable {
        let n = shape[value.normalizeAxis(axis, op: "mean(axis:)")]
        return sum(axis: axis, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }
}
