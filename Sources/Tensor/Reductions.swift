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

    /// Sum along `axis`.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let (outer, n, inner, a) = axisSplit(axis, op: "sum(axis:)")
        var out = Tensor(uninitializedShape: reducedShape(a, keepDims: keepDims))
        let src = pointer, dst = out.storage.base
        if inner == 1 {
            for o in 0..<outer { dst[o] = rowSum(src + o * n, n) }
        } else {
            dst.update(repeating: 0, count: outer * inner)
            for o in 0..<outer {
                let d = dst + o * inner
                for j in 0..<n { vaddInPlace(d, src + (o * n + j) * inner, inner) }
            }
        }
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

    /// Maximum along `axis`.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let (outer, n, inner, a) = axisSplit(axis, op: "max(axis:)")
        precondition(n > 0, "max(axis:): empty axis in shape \(shape)")
        var out = Tensor(uninitializedShape: reducedShape(a, keepDims: keepDims))
        let src = pointer, dst = out.storage.base
        for o in 0..<outer {
            for i in 0..<inner {
                var m = -Float.infinity
                for j in 0..<n { m = Swift.max(m, src[(o * n + j) * inner + i]) }
                dst[o * inner + i] = m
            }
        }
        return out
    }

    /// Index of the maximum along `axis`, row-major over the remaining dimensions.
    public func argmax(axis: Int) -> [Int] {
        let (outer, n, inner, _) = axisSplit(axis, op: "argmax(axis:)")
        precondition(n > 0, "argmax(axis:): empty axis in shape \(shape)")
        let src = pointer
        var result = [Int](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0, m = src[o * n * inner + i]
                for j in 1..<n where src[(o * n + j) * inner + i] > m { m = src[(o * n + j) * inner + i]; best = j }
                result[o * inner + i] = best
            }
        }
        return result
    }

    /// Maximum of all elements.
    public func max() -> Float { withUnsafeBufferPointer { $0.max() ?? -.infinity } }
    /// Minimum of all elements.
    public func min() -> Float { withUnsafeBufferPointer { $0.min() ?? .infinity } }
}

/// Σ x[0..<n].
@inline(__always) public func rowSum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = Vec(), acc1 = Vec()
    var i = 0
    while i + 32 <= n {
        acc0 += UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self)
        acc1 += UnsafeRawPointer(x + i + 16).loadUnaligned(as: Vec.self)
        i += 32
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += x[i]; i += 1 }
    return s
}

/// Σ x[i]·y[i].
@inline(__always) public func rowDot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = Vec(), acc1 = Vec()
    var i = 0
    while i + 32 <= n {
        acc0 += UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self) * UnsafeRawPointer(y + i).loadUnaligned(as: Vec.self)
        acc1 += UnsafeRawPointer(x + i + 16).loadUnaligned(as: Vec.self) * UnsafeRawPointer(y + i + 16).loadUnaligned(as: Vec.self)
        i += 32
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += x[i] * y[i]; i += 1 }
    return s
}

/// Maximum of x[0..<n] (n > 0).
@inline(__always) public func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var i = 0
    var m = -Float.infinity
    if n >= 16 {
        var acc = UnsafeRawPointer(x).loadUnaligned(as: Vec.self)
        i = 16
        while i + 16 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self)
            acc = acc.replacing(with: v, where: v .> acc)
            i += 16
        }
        m = acc.max()
    }
    while i < n { m = Swift.max(m, x[i]); i += 1 }
    return m
}

/// d[0..<n] += x[0..<n].
@inline(__always) public func vaddInPlace(_ d: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        let a = UnsafeRawPointer(d + i).loadUnaligned(as: Vec.self)
        let b = UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self)
        UnsafeMutableRawPointer(d + i).storeBytes(of: a + b, as: Vec.self)
        i += 16
    }
    while i < n { d[i] += x[i]; i += 1 }
}
