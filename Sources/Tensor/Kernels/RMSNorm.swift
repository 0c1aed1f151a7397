/// Kernels of RMS normalisation over the last axis (Hugging Face `LlamaRMSNorm` in fp32):
/// `y = w ∘ (x · r)` with `r = rsqrt(mean(x²) + eps)` per row.
package enum RMSNormKernel {
    /// - Parameters:
    ///   - x: (..., D)
    ///   - weight: (D)
    /// - Returns: y (..., D) and the inverse RMS `r` of every row (rows)
    package static func forward(_ x: Tensor, weight: Tensor, eps: Float) -> (y: Tensor, inverseRMS: Tensor) {
        let d = x.shape.last ?? 0, rows = x.count / Swift.max(d, 1)
        precondition(weight.shape == [d], "rmsNorm: weight of shape \(weight.shape) for input of shape \(x.shape)")
        let y = Tensor(uninitializedShape: x.shape), inv = Tensor(uninitializedShape: [rows])
        let xp = x.pointer, wp = weight.pointer, yp = y.storage.base, ip = inv.storage.base
        forEachRowChunk(rows, width: d) { range in
            for row in range {
                let xr = xp + row * d, yr = yp + row * d
                let r = 1 / (rowDot(xr, xr, d) / Float(d) + eps).squareRoot()
                ip[row] = r
                let rv = Vec(repeating: r)
                var i = 0
                // (x · r) · w in this order, as Hugging Face does.
                while i + 16 <= d { store(load(xr, i) * rv * load(wp, i), yr, i); i += 16 }
                while i < d { yr[i] = xr[i] * r * wp[i]; i += 1 }
            }
        }
        return (y, inv)
    }

    /// `dx = r · (g∘w − x̂ · mean(g∘w∘x̂))` with `x̂ = x · r` recomputed.
    /// - Parameters:
    ///   - g: (..., D) upstream gradient
    ///   - x: (..., D) the forward's input
    ///   - inverseRMS: (rows) from `forward`
    ///   - weight: (D)
    /// - Returns: (..., D)
    package static func inputGradient(_ g: Tensor, x: Tensor, inverseRMS: Tensor, weight: Tensor) -> Tensor {
        let d = x.shape.last ?? 0, rows = x.count / Swift.max(d, 1)
        let out = Tensor(uninitializedShape: x.shape)
        let xp = x.pointer, ip = inverseRMS.pointer, gp = g.pointer, wp = weight.pointer, op = out.storage.base
        forEachRowChunk(rows, width: d) { range in
            for row in range {
                let xr = xp + row * d, gr = gp + row * d, dr = op + row * d
                let r = ip[row], rv = Vec(repeating: r)
                // Σ (g∘w)·x̂ with x̂ = x·r.
                var acc = Vec()
                var i = 0
                while i + 16 <= d { acc += load(gr, i) * load(wp, i) * load(xr, i); i += 16 }
                var dot = acc.sum()
                while i < d { dot += gr[i] * wp[i] * xr[i]; i += 1 }
                let c = dot * r * r / Float(d) // mean((g∘w)∘x̂) · r, applied to x (x̂ = x·r)
                let cv = Vec(repeating: c)
                i = 0
                while i + 16 <= d { store(rv * (load(gr, i) * load(wp, i) - load(xr, i) * cv), dr, i); i += 16 }
                while i < d { dr[i] = r * (gr[i] * wp[i] - xr[i] * c); i += 1 }
            }
        }
        return out
    }

    /// `dw = Σ_rows g ∘ x̂`.
    /// - Parameters:
    ///   - g: (..., D) upstream gradient
    ///   - x: (..., D) the forward's input
    ///   - inverseRMS: (rows) from `forward`
    /// - Returns: (D)
    package static func weightGradient(_ g: Tensor, x: Tensor, inverseRMS: Tensor) -> Tensor {
        let d = x.shape.last ?? 0, rows = x.count / Swift.max(d, 1)
        let acc = Tensor.zeros([d])
        let ap = acc.storage.base, xp = x.pointer, gp = g.pointer, ip = inverseRMS.pointer
        // Serial over rows: D-wide accumulations are cheap next to the matmuls around them.
        for row in 0..<rows {
            let xr = xp + row * d, gr = gp + row * d
            let rv = Vec(repeating: ip[row])
            var i = 0
            while i + 16 <= d { store(load(ap, i) + load(gr, i) * load(xr, i) * rv, ap, i); i += 16 }
            while i < d { ap[i] += gr[i] * xr[i] * ip[row]; i += 1 }
        }
        return acc
    }
}
