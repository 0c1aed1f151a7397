import Autograd
import Tensor

/// Rotary position embedding applied to every head of `x` (Hugging Face `apply_rotary_pos_emb`):
/// for each head and `i < d/2`, with `c, s` the cos/sin of the row's position,
/// `y[i] = x[i]·c − x[i+d/2]·s`, `y[i+d/2] = x[i+d/2]·c + x[i]·s`.
///
/// Saves nothing: the backward is the inverse rotation of the gradient (tables are resident).
/// - Parameters:
///   - x: (B·S, heads·d) or (B, S, heads·d); rows in (batch, position) order, heads side by side.
///   - seq: S; row `n` has position `n % seq + positionOffset`.
/// - Returns: same shape as `x`.
public func applyRotary(_ x: Variable, _ rope: RotaryEmbedding, heads: Int, seq: Int, positionOffset: Int = 0) -> Variable {
    let width = x.shape.last ?? 0, d = rope.headDim
    precondition(width == heads * d, "applyRotary: \(heads) heads of dimension \(d) do not fill the last axis of \(x.shape)")
    let rows = x.count / Swift.max(width, 1)
    precondition(seq > 0 && rows % seq == 0, "applyRotary: \(rows) rows are not whole sequences of \(seq)")
    precondition(positionOffset >= 0 && positionOffset + seq <= rope.maxPositions,
                 "applyRotary: positions \(positionOffset)..<\(positionOffset + seq) exceed the table's \(rope.maxPositions)")
    let y = rotate(x.value, rope, heads: heads, seq: seq, offset: positionOffset, inverse: false)
    return Tape.current.record("rope", inputs: [x], output: y, saved: []) { g, _ in
        [rotate(g, rope, heads: heads, seq: seq, offset: positionOffset, inverse: true)]
    }
}

/// The rotation kernel; `inverse` turns by the opposite angle (the transpose, used by the backward).
func rotate(_ x: Tensor, _ rope: RotaryEmbedding, heads: Int, seq: Int, offset: Int, inverse: Bool) -> Tensor {
    let d = rope.headDim, half = d / 2, width = heads * d
    let rows = x.count / Swift.max(width, 1)
    let out = Tensor(uninitializedShape: x.shape)
    let xp = x.pointer, op = out.storage.base, cp = rope.cos.pointer, sp = rope.sin.pointer
    let sign: Float = inverse ? -1 : 1
    forEachRowChunk(rows, width: width) { range in
        for row in range {
            let pos = row % seq + offset
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
