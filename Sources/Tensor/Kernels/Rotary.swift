/// The rotation of rotary position embeddings (Hugging Face "rotate half" layout).
package enum RotaryKernel {
    /// For each head and `i < d/2`, with `c, s` the cos/sin of the row's position `row % seq`:
    /// `y[i] = x[i]·c − x[i+d/2]·s`, `y[i+d/2] = x[i+d/2]·c + x[i]·s`. `inverse` turns by the
    /// opposite angle (the transpose, which is the backward).
    /// - Parameters:
    ///   - x: (B·S, heads·d) or (B, S, heads·d); rows in (batch, position) order, heads side by side
    ///   - cos, sin: (positions ≥ seq, d/2) tables
    /// - Returns: same shape as `x`
    package static func rotate(_ x: Tensor, cos: Tensor, sin: Tensor, heads: Int, seq: Int, inverse: Bool) -> Tensor {
        let half = cos.shape.last ?? 0, d = 2 * half, width = heads * d
        precondition(x.shape.last == width, "applyRotary: \(heads) heads of dimension \(d) do not fill the last axis of \(x.shape)")
        let rows = x.count / Swift.max(width, 1)
        precondition(seq > 0 && rows % seq == 0, "applyRotary: \(rows) rows are not whole sequences of \(seq)")
        precondition(sin.shape == cos.shape && cos.rank == 2 && seq <= cos.shape[0],
                     "applyRotary: positions 0..<\(seq) exceed the table's \(cos.shape.first ?? 0)")
        let out = Tensor(uninitializedShape: x.shape)
        let xp = x.pointer, op = out.storage.base, cp = cos.pointer, sp = sin.pointer
        let sign: Float = inverse ? -1 : 1
        forEachRowChunk(rows, width: width) { range in
            for row in range {
                let pos = row % seq
                let c = cp + pos * half, s = sp + pos * half
                for h in 0..<heads {
                    let a = xp + row * width + h * d, b = a + half
                    let ya = op + row * width + h * d, yb = ya + half
                    var i = 0
                    let sv = Vec(repeating: sign)
                    while i + 16 <= half {
                        let av = load(a, i), bv = load(b, i), cv = load(c, i), sn = load(s, i) * sv
                        store(av * cv - bv * sn, ya, i)
                        store(bv * cv + av * sn, yb, i)
                        i += 16
                    }
                    while i < half {
                        let sn = s[i] * sign
                        ya[i] = a[i] * c[i] - b[i] * sn
                        yb[i] = b[i] * c[i] + a[i] * sn
                        i += 1
                    }
                }
            }
        }
        return out
    }
}
