/// Reductions over one axis, viewed as `(outer, n, inner)`. Contiguous rows (`inner == 1`) use
/// SIMD accumulators; other axes accumulate whole `inner` rows at once.
extension Tensor {
    func axisSplit(_ axis: Int, op: String) -> (outer: Int, n: Int, inner: Int, axis: Int) {
        let a = normalizeAxis(axis, op: op)
        return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *), a)
    }

    func reducedShape(_ a: Int, keepDims: Bool) -> [Int] {
        var s = shape
        if keepDims { s[a] = 1 } else { s.remove(at: a) }
        return s
    }

    /// Sum of all elements (blockwise, accumulated in Double).
    public func sum() -> Float {
        withUnsafeBufferPointer { p in
            var total = 0.0
            var i = 0
            while i < count {
                let m = Swift.min(4096, count - i)
                total += Double(rowSum(p.baseAddress! + i, m))
                i += m
            }
            return Float(total)
        }
    }

    public func mean() -> Float { count == 0 ? 0 : sum() / Float(count) }

    /// Sum of squares of all elements.
    public func squaredNorm() -> Float {
        withUnsafeBufferPointer { p in
            var total = 0.0
            var i = 0
            while i < count {
                let m = Swift.min(4096, count - i)
                total += Double(rowDot(p.baseAddress! + i, p.baseAddress! + i, m))
                i += m
            }
            return Float(total)
        }
    }

    /// Frobenius / L2 norm of all elements.
    public func norm() -> Float { squaredNorm().squareRoot() }

    /// Sum along `axis`. Contiguous rows (`inner == 1`) use SIMD row sums (split over cores for
    /// large tensors); other axes add whole `inner`-long rows with SIMD, cascaded in blocks of 64
    /// rows so that rounding error grows with ~64 + n/4096 additions instead of n.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let (outer, n, inner, a) = axisSplit(axis, op: "sum(axis:)")
        let out = Tensor(uninitializedShape: reducedShape(a, keepDims: keepDims))
        let src = UncheckedSendable(pointer), dst = UncheckedSendable(out.storage.base)
        if n == 0 { out.storage.base.update(repeating: 0, count: out.count); return out }
        if inner == 1 {
            Parallel.forEachChunk(outer, minPerThread: Swift.max(1, (1 << 18) / n)) { r in
                for o in r { dst.value[o] = rowSum(src.value + o * n, n) }
            }
            return out
        }
        // Cascade: rows add into t1 in blocks of 64, t1 into t2 in blocks of 64 (4096 rows), t2
        // into the output; each partial sum sees ≤ 64 + n/4096 additions instead of n.
        let block = 64
        let temp = Tensor(uninitializedShape: [n > block ? 2 * inner : 0], category: .workspace)
        let t1 = temp.storage.base, t2 = temp.storage.base + inner
        for o in 0..<outer {
            let d = dst.value + o * inner, s = src.value + o * n * inner
            // Sum of rows j0..<j1 into `into` (overwriting it).
            func rows(_ j0: Int, _ j1: Int, into t: UnsafeMutablePointer<Float>) {
                t.update(from: s + j0 * inner, count: inner)
                for j in (j0 + 1)..<j1 { vaddInPlace(t, s + j * inner, inner) }
            }
            if n <= block { rows(0, n, into: d); continue }
            d.update(repeating: 0, count: inner)
            var j0 = 0
            while j0 < n {
                let j1 = Swift.min(j0 + block * block, n)
                var b0 = j0
                while b0 < j1 {
                    let b1 = Swift.min(b0 + block, j1)
                    if b0 == j0 { rows(b0, b1, into: t2) } else { rows(b0, b1, into: t1); vaddInPlace(t2, t1, inner) }
                    b0 = b1
                }
                vaddInPlace(d, t2, inner)
                j0 = j1
            }
        }
        withExtendedLifetime(temp) {}
        return out
    }

    /// Sum over several axes.
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        var t = self
        for a in axes.map({ normalizeAxis($0, op: "sum(axes:)") }).sorted(by: >) { t = t.sum(axis: a, keepDims: keepDims) }
        return t
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        let n = shape[normalizeAxis(axis, op: "mean(axis:)")]
        return sum(axis: axis, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    /// Maximum along `axis` (SIMD over contiguous rows, or over whole `inner` rows for other axes).
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let (outer, n, inner, a) = axisSplit(axis, op: "max(axis:)")
        precondition(n > 0, "max(axis:): empty axis \(axis) in shape \(shape)")
        let out = Tensor(uninitializedShape: reducedShape(a, keepDims: keepDims))
        let src = pointer, dst = out.storage.base
        if inner == 1 {
            for o in 0..<outer { dst[o] = rowMax(src + o * n, n) }
            return out
        }
        for o in 0..<outer {
            let d = dst + o * inner, s = src + o * n * inner
            d.update(from: s, count: inner)
            for j in 1..<n { vmaxInPlace(d, s + j * inner, inner) }
        }
        return out
    }

    /// Index of the maximum along `axis` (the first one on ties), row-major over the remaining
    /// dimensions.
    public func argmax(axis: Int) -> [Int] {
        let (outer, n, inner, _) = axisSplit(axis, op: "argmax(axis:)")
        precondition(n > 0, "argmax(axis:): empty axis \(axis) in shape \(shape)")
        let src = pointer
        var result = [Int](repeating: 0, count: outer * inner)
        if inner == 1 {
            for o in 0..<outer {
                let row = src + o * n
                let m = rowMax(row, n)
                var j = 0
                while j < n && row[j] != m { j += 1 }
                result[o] = j < n ? j : 0
            }
            return result
        }
        // Running maxima and their indices over whole rows (contiguous, vectorisable).
        var best = [Float](repeating: 0, count: inner)
        var index = [Int32](repeating: 0, count: inner)
        best.withUnsafeMutableBufferPointer { bp in
            index.withUnsafeMutableBufferPointer { ip in
                let b = bp.baseAddress!, ix = ip.baseAddress!
                for o in 0..<outer {
                    let s = src + o * n * inner
                    b.update(from: s, count: inner)
                    ix.update(repeating: 0, count: inner)
                    for j in 1..<n {
                        let row = s + j * inner
                        let jv = SIMD16<Int32>(repeating: Int32(j))
                        var i = 0
                        while i + 16 <= inner {
                            let v = load(row, i)
                            let m = load(b, i)
                            let gt = v .> m
                            store(m.replacing(with: v, where: gt), b, i)
                            let k = UnsafeRawPointer(ix + i).loadUnaligned(as: SIMD16<Int32>.self)
                            UnsafeMutableRawPointer(ix + i).storeBytes(of: k.replacing(with: jv, where: gt), as: SIMD16<Int32>.self)
                            i += 16
                        }
                        while i < inner {
                            if row[i] > b[i] { b[i] = row[i]; ix[i] = Int32(j) }
                            i += 1
                        }
                    }
                    for i in 0..<inner { result[o * inner + i] = Int(ix[i]) }
                }
            }
        }
        return result
    }

    /// Maximum of all elements (-inf when empty).
    public func max() -> Float { count == 0 ? -.infinity : rowMax(pointer, count) }
    /// Minimum of all elements (+inf when empty).
    public func min() -> Float { count == 0 ? .infinity : rowMin(pointer, count) }
}
