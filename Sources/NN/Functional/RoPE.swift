import Autograd
import Tensor

/// Rotary position embedding applied to every head of `x` (Hugging Face `apply_rotary_pos_emb`):
/// for each head and `i < d/2`, with `c, s` the cos/sin of the row's position,
/// `y[i] = x[i]·c − x[i+d/2]·s`, `y[i+d/2] = x[i+d/2]·c + x[i]·s` (`RotaryKernel`).
///
/// Saves nothing: the backward is the inverse rotation of the gradient (tables are resident).
/// - Parameters:
///   - x: (B·S, heads·d) or (B, S, heads·d); rows in (batch, position) order, heads side by side.
///   - seq: S; row `n` has position `n % seq` (every sequence starts at position 0).
/// - Returns: same shape as `x`.
public func applyRotary(_ x: Variable, _ rope: RotaryEmbedding, heads: Int, seq: Int) -> Variable {
    precondition(x.shape.last == heads * rope.headDim,
                 "applyRotary: \(heads) heads of dimension \(rope.headDim) do not fill the last axis of \(x.shape)")
    let (cos, sin) = (rope.cos, rope.sin)
    let y = RotaryKernel.rotate(x.value, cos: cos, sin: sin, heads: heads, seq: seq, inverse: false)
    return Tape.current.record("rope", inputs: [x], output: y, saved: []) { g, _ in
        [RotaryKernel.rotate(g, cos: cos, sin: sin, heads: heads, seq: seq, inverse: true)]
    }
}
