import Autograd
import Tensor

/// Root-mean-square normalisation over the last axis, exactly as Hugging Face `LlamaRMSNorm` in fp32:
/// `y = w ∘ (x · rsqrt(mean(x²) + eps))`.
///
/// One fused op. It saves `x` (when `x` needs a gradient or `w` does) and one inverse RMS per row;
/// the normalised `x̂ = x · r` is recomputed in the backward instead of stored.
/// Backward: `dw = Σ_rows g ∘ x̂`, `dx = r · (g∘w − x̂ · mean(g∘w∘x̂))`.
/// - Parameters:
///   - x: (..., D)
///   - weight: (D)
///   - eps: added to the mean square (1e-6 in LLaMA)
/// - Returns: (..., D)
public func rmsNorm(_ x: Variable, weight: Variable, eps: Float) -> Variable {
    let d = x.shape.last ?? 0, rows = x.count / Swift.max(d, 1)
    precondition(weight.shape == [d], "rmsNorm: weight of shape \(weight.shape) for input of shape \(x.shape)")
    let needs = Tape.current.needsGrad([x, weight])
    let y = Tensor(uninitializedShape: x.shape)
    let inv = Tensor(uninitializedShape: [rows])
    let xp = x.value.pointer, wp = weight.value.pointer
    let yp = y.storage.base, ip = inv.storage.base
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
    guard needs.contains(true) else { return Variable(y) }
    let w = weight.value // resident parameter: read in the backward, not counted as saved
    let xv = x.value
    return Tape.current.record("rms-norm", inputs: [x, weight], output: y, saving: [.compressible(xv), .exact(inv)]) { g, saved in
        let x = saved[0], inv = saved[1]
        let xp = x.pointer, ip = inv.pointer, gp = g.pointer, wp = w.pointer
        var dx: Tensor? = nil
        if needs[0] {
            let out = Tensor(uninitializedShape: x.shape)
            let op = out.storage.base
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
            dx = out
        }
        var dw: Tensor? = nil
        if needs[1] {
            let acc = Tensor.zeros([d])
            let ap = acc.storage.base
            // Serial over rows: D-wide accumulations are cheap next to the matmuls around them.
            for row in 0..<rows {
                let xr = xp + row * d, gr = gp + row * d
                let rv = Vec(repeating: ip[row])
                var i = 0
                while i + 16 <= d { store(load(ap, i) + load(gr, i) * load(xr, i) * rv, ap, i); i += 16 }
                while i < d { ap[i] += gr[i] * xr[i] * ip[row]; i += 1 }
            }
            dw = acc
        }
        return [dx, dw]
    }
}
