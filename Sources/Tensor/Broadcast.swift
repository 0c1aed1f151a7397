/// NumPy broadcasting of two shapes; stops naming `op` and both shapes when they do not broadcast.
public func broadcastShape(_ a: [Int], _ b: [Int], op: String) -> [Int] {
    let n = max(a.count, b.count)
    var out = [Int](repeating: 1, count: n)
    for i in 0..<n {
        let da = i < n - a.count ? 1 : a[i - (n - a.count)]
        let db = i < n - b.count ? 1 : b[i - (n - b.count)]
        precondition(da == db || da == 1 || db == 1, "\(op): shapes \(a) and \(b) do not broadcast")
        out[i] = da == 1 ? db : da
    }
    return out
}

/// Row-major strides of `shape` aligned to `outShape`, with 0 on broadcast dimensions.
func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
    let n = outShape.count, off = n - shape.count
    var strides = [Int](repeating: 0, count: n)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i + off] = shape[i] == 1 ? 0 : s
        s *= shape[i]
    }
    return strides
}

/// Drops size-1 dimensions of `dims` and merges neighbours that are contiguous in every operand,
/// so broadcasting kernels walk as few, as long runs as possible. Never returns empty arrays.
func coalescedStrides(_ dims: [Int], _ s1: [Int], _ s2: [Int]) -> (dims: [Int], s1: [Int], s2: [Int]) {
    var d: [Int] = [], a: [Int] = [], b: [Int] = []
    for i in dims.indices where dims[i] != 1 {
        if let last = d.indices.last, a[last] == s1[i] * dims[i], b[last] == s2[i] * dims[i] {
            d[last] *= dims[i]; a[last] = s1[i]; b[last] = s2[i]
        } else {
            d.append(dims[i]); a.append(s1[i]); b.append(s2[i])
        }
    }
    if d.isEmpty { return ([1], [0], [0]) }
    return (d, a, b)
}

/// Offsets into a broadcast operand for each element of `outShape`, walked in row-major order.
/// Used only by the general (slow) broadcasting path.
func broadcastOffsets(_ shape: [Int], to outShape: [Int]) -> [Int] {
    let strides = broadcastStrides(shape, to: outShape)
    let total = outShape.reduce(1, *)
    var offsets = [Int](repeating: 0, count: total)
    var idx = [Int](repeating: 0, count: outShape.count)
    var off = 0
    for k in 0..<total {
        offsets[k] = off
        var d = outShape.count - 1
        while d >= 0 {
            idx[d] += 1; off += strides[d]
            if idx[d] < outShape[d] { break }
            off -= strides[d] * idx[d]; idx[d] = 0; d -= 1
        }
    }
    return offsets
}

extension Tensor {
    /// Sums a broadcast result back to `shape` (the reverse of broadcasting; used by gradients).
    public func reduced(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(broadcastShape(target, shape, op: "reduced(toShape:)") == shape,
                     "reduced(toShape:): \(target) does not broadcast to \(shape)")
        var t = self
        // Sum the leading dims in one pass (folded into one axis), then dims where target has 1.
        let lead = rank - target.count
        if lead > 0 { t = t.reshaped([shape[..<lead].reduce(1, *)] + shape[lead...]).sum(axis: 0) }
        for (i, d) in target.enumerated() where d == 1 && t.shape[i] != 1 {
            t = t.sum(axis: i, keepDims: true)
        }
        return t.reshaped(target)
    }
}
