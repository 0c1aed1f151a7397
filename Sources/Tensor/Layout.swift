/// Layout ops. Kernels need contiguous data, so these copy (reshape does not).
extension Tensor {
    /// Dimensions reordered: `out.shape[i] == shape[axes[i]]`.
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.count == rank && Set(axes) == Set(0..<rank),
                     "permuted: \(axes) is not a permutation of the axes of shape \(shape)")
        if axes == Array(0..<rank) { return self }
        let outShape = axes.map { shape[$0] }
        let out = Tensor(uninitializedShape: outShape)
        var inStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
        let strides = axes.map { inStrides[$0] }
        let src = pointer, dst = out.storage.base
        if rank == 2 {
            // Blocked 2-D transpose.
            let r = shape[0], c = shape[1], bs = 32
            for i0 in stride(from: 0, to: r, by: bs) {
                for j0 in stride(from: 0, to: c, by: bs) {
                    for i in i0..<Swift.min(i0 + bs, r) { for j in j0..<Swift.min(j0 + bs, c) { dst[j * r + i] = src[i * c + j] } }
                }
            }
            return out
        }
        // Copy runs of the innermost output axis; contiguous when it is the input's last axis.
        let run = outShape[rank - 1], runStride = strides[rank - 1]
        let outer = count / Swift.max(run, 1)
        var idx = [Int](repeating: 0, count: rank - 1)
        var off = 0
        for o in 0..<outer {
            let d = dst + o * run
            if runStride == 1 { d.update(from: src + off, count: run) } else { for j in 0..<run { d[j] = src[off + j * runStride] } }
            var k = rank - 2
            while k >= 0 {
                idx[k] += 1; off += strides[k]
                if idx[k] < outShape[k] { break }
                off -= strides[k] * idx[k]; idx[k] = 0; k -= 1
            }
        }
        return out
    }

    /// Swaps two axes (default: the last two).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        let x = normalizeAxis(a, op: "transposed"), y = normalizeAxis(b, op: "transposed")
        var axes = Array(0..<rank)
        axes.swapAt(x, y)
        return permuted(axes)
    }

    /// The elements with index in `range` along `axis`.
    public func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
        let (outer, n, inner, a) = axisSplit(axis, op: "sliced")
        precondition(range.lowerBound >= 0 && range.upperBound <= n,
                     "sliced: range \(range) out of bounds for axis \(axis) of shape \(shape)")
        var s = shape
        s[a] = range.count
        let out = Tensor(uninitializedShape: s)
        let len = range.count * inner
        for o in 0..<outer { (out.storage.base + o * len).update(from: pointer + (o * n + range.lowerBound) * inner, count: len) }
        return out
    }

    /// Writes `value` into the elements with index in `range.lowerBound...` along `axis` (in place).
    public mutating func assignSlice(axis: Int, from start: Int, _ value: Tensor) {
        let (outer, n, inner, a) = axisSplit(axis, op: "assignSlice")
        var expected = shape
        expected[a] = value.rank == rank ? value.shape[a] : -1
        precondition(value.shape == expected && start >= 0 && start + value.shape[a] <= n,
                     "assignSlice: value of shape \(value.shape) does not fit shape \(shape) at \(start) on axis \(axis)")
        let len = value.shape[a] * inner
        ensureUnique()
        for o in 0..<outer { (storage.base + (o * n + start) * inner).update(from: value.pointer + o * len, count: len) }
    }

    /// Concatenation along `axis`; all other dimensions must agree.
    public static func concatenate(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concatenate: no tensors")
        let first = parts[0]
        let a = first.normalizeAxis(axis, op: "concatenate")
        for p in parts {
            var s = p.shape, f = first.shape
            precondition(s.count == f.count, "concatenate: shapes \(parts.map(\.shape)) differ in rank")
            s[a] = 0; f[a] = 0
            precondition(s == f, "concatenate: shapes \(parts.map(\.shape)) differ outside axis \(axis)")
        }
        var s = first.shape
        s[a] = parts.reduce(0) { $0 + $1.shape[a] }
        var out = Tensor(uninitializedShape: s)
        var start = 0
        for p in parts { out.assignSlice(axis: a, from: start, p); start += p.shape[a] }
        return out
    }

    /// Splits along `axis` into pieces of the given sizes.
    public func split(axis: Int, sizes: [Int]) -> [Tensor] {
        let a = normalizeAxis(axis, op: "split")
        precondition(sizes.reduce(0, +) == shape[a], "split: sizes \(sizes) do not sum to \(shape[a]) (axis \(axis) of \(shape))")
        var start = 0
        return sizes.map { n in defer { start += n }; return sliced(axis: a, start..<start + n) }
    }
}
