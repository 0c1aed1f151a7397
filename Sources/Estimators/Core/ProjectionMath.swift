import Tensor

/// Products shared by the projection estimators. Shapes in ALGORITHMS.md notation.
enum ProjectionMath {
    /// `z = x V`. - Parameters: x (N, n), v (n, k). - Returns: (N, k).
    static func project(_ x: Tensor, _ v: Tensor) -> Tensor { Tensor.matmul(x, v) }

    /// `P = δᵀ z = G V` (the exact projection of the true gradient). - Returns: (m, k).
    static func projectedGradient(_ delta: Tensor, _ z: Tensor) -> Tensor { Tensor.matmul(delta, z, transposeA: true) }

    /// `Ĝ = P Vᵀ`, associated so the (N, n)-sized product is never formed. - Returns: (m, n).
    static func lift(_ p: Tensor, _ v: Tensor) -> Tensor { Tensor.matmul(p, v, transposeB: true) }

    /// `a − V (Vᵀ a)`: the part of `a` outside span(V). - Parameters: a (n, p), v (n, c).
    static func projectOut(_ a: Tensor, _ v: Tensor) -> Tensor {
        guard v.shape[1] > 0 else { return a }
        var out = a
        out.addMatmul(v, Tensor.matmul(v, a, transposeA: true), alpha: -1, beta: 1)
        return out
    }

    /// Columns `columns` of `a`, column j multiplied by `scales[j]`. - Parameter a: (n, c). - Returns: (n, columns.count).
    static func selectColumns(_ a: Tensor, _ columns: [Int], scales: [Float]) -> Tensor {
        let n = a.shape[0], c = a.shape[1], k = columns.count
        var out = Tensor(uninitializedShape: [n, k])
        out.withUnsafeMutableBufferPointer { o in
            a.withUnsafeBufferPointer { src in
                for i in 0..<n { for (j, col) in columns.enumerated() { o[i * k + j] = src[i * c + col] * scales[j] } }
            }
        }
        return out
    }

    /// Multiplies columns `range` of `a` by `s` in place. - Parameter a: (rows, cols).
    static func scaleColumns(_ a: inout Tensor, _ range: Range<Int>, by s: Float) {
        let rows = a.shape[0], cols = a.shape[1]
        a.withUnsafeMutableBufferPointer { p in
            for i in 0..<rows { for j in range { p[i * cols + j] *= s } }
        }
    }

    /// `[a, b]` side by side, skipping empty parts. - Parameters: a (n, c), b (n, p). - Returns: (n, c + p).
    static func columns(_ a: Tensor, _ b: Tensor) -> Tensor {
        if a.shape[1] == 0 { return b }
        if b.shape[1] == 0 { return a }
        return Tensor.concatenate([a, b], axis: 1)
    }
}
