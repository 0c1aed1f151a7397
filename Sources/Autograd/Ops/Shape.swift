import Tensor

/// Layout ops; gradients undo the layout change.
extension Variable {
    public func reshaped(_ newShape: [Int]) -> Variable {
        let s = shape
        return Tape.current.record("reshape", inputs: [self], output: value.reshaped(newShape), saved: []) { g, _ in [g.reshaped(s)] }
    }

    public func permuted(_ axes: [Int]) -> Variable {
        let out = value.permuted(axes) // validates `axes` (naming the op and shape) before they index anything
        var inverse = [Int](repeating: 0, count: axes.count)
        for (i, a) in axes.enumerated() { inverse[a] = i }
        return Tape.current.record("permute", inputs: [self], output: out, saved: []) { g, _ in [g.permuted(inverse)] }
    }

    /// Swaps two axes (default: the last two).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Variable {
        var axes = Array(0..<rank)
        axes.swapAt(value.normalizeAxis(a, op: "transposed"), value.normalizeAxis(b, op: "transposed"))
        return permuted(axes)
    }

    public func sliced(axis: Int, _ range: Range<Int>) -> Variable {
        let s = shape
        let a = value.normalizeAxis(axis, op: "sliced")
        return Tape.current.record("slice", inputs: [self], output: value.sliced(axis: a, range), saved: []) { g, _ in
            var full = Tensor.zeros(s)
            full.assignSlice(axis: a, from: range.lowerBound, g)
            return [full]
        }
    }

    public static func concatenate(_ parts: [Variable], axis: Int) -> Variable {
        let out = Tensor.concatenate(parts.map(\.value), axis: axis)
        let a = out.normalizeAxis(axis, op: "concatenate")
        let sizes = parts.map { $0.shape[a] }
        return Tape.current.record("concat", inputs: parts, output: out, saved: []) { g, _ in g.split(axis: a, sizes: sizes) }
    }

    public func split(axis: Int, sizes: [Int]) -> [Variable] {
        let a = value.normalizeAxis(axis, op: "split")
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[a],
                     "split: sizes \(sizes) do not sum to \(shape[a]) (axis \(axis) of \(shape))")
        var start = 0
        return sizes.map { n in defer { start += n }; return sliced(axis: axis, start..<start + n) }
    }
}
