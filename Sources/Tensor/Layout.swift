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
        let src = UncheckedSendable(pointer), dst = UncheckedSendable(out.storage.base)
        if out.count == 0 { return out }
        if strides[rank - 1] != 1 {
            // The output's last axis is strided in the input: copy (rows, cols) planes of the two
            // innermost output axes in 32×32 tiles so that reads and writes both stay in cache.
            let rows = outShape[rank - 2], cols = outShape[rank - 1]
            let sr = strides[rank - 2], sc = strides[rank - 1]
            let tile = 32, tileRows = (rows + tile - 1) / tile
            let planes = count / (rows * cols)
            Parallel.forEachChunk(planes * tileRows, minPerThread: Swift.max(1, (1 << 16) / (tile * cols))) { r in
                for item in r {
                    let plane = item / tileRows, i0 = (item % tileRows) * tile
                    // Input offset of this plane (row-major over the leading output axes).
                    var off = 0, rem = plane
                    for d in stride(from: rank - 3, through: 0, by: -1) {
                        off += (rem % outShape[d]) * strides[d]; rem /= outShape[d]
                    }
                    let s = src.value + off, o = dst.value + plane * rows * cols
                    let i1 = Swift.min(i0 + tile, rows), h = i1 - i0
                    if sr == 1 {
                        // A transpose: read each source run of the tile once (contiguous), write
                        // each output row once, through an L1-resident buffer. (Touching a
                        // 32×32 tile directly in both matrices thrashes L1 when the row pitch
                        // is a power of two: all its rows map to the same cache set.)
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: tile * tile) { buf in
                            let b = buf.baseAddress!
                            var j0 = 0
                            while j0 < cols {
                                let w = Swift.min(j0 + tile, cols) - j0
                                for jj in 0..<w {
                                    let from = s + i0 + (j0 + jj) * sc, to = b + jj * tile
                                    for ii in 0..<h { to[ii] = from[ii] }
                                }
                                for ii in 0..<h {
                                    let to = o + (i0 + ii) * cols + j0
                                    for jj in 0..<w { to[jj] = b[jj * tile + ii] }
                                }
                                j0 += w
                            }
                        }
                    } else {
                        var j0 = 0
                        while j0 < cols {
                            let j1 = Swift.min(j0 + tile, cols)
                            for i in i0..<i1 { for j in j0..<j1 { o[i * cols + j] = s[i * sr + j * sc] } }
                            j0 = j1
                        }
                    }
                }
            }
            return out
        }
        // The output's last axis is the input's last axis: copy contiguous runs.
        let run = outShape[rank - 1]
        let outer = count / run
        var idx = [Int](repeating: 0, count: rank - 1)
        var off = 0
        for o in 0..<outer {
            (dst.value + o * run).update(from: src.value + off, count: run)
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
