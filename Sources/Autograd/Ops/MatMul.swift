import Tensor

/// `op(a) · op(b)` (see `Tensor.matmul`); both backward products are sgemm calls with
/// transpose flags. Saves `b` only if `a` needs a gradient and `a` only if `b` does.
public func matmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) -> Variable {
    let needs = Tape.current.needsGrad([a, b])
    let out = Tensor.matmul(a.value, b.value, transposeA: transposeA, transposeB: transposeB)
    let saved = [needs[1] ? a.value : nil, needs[0] ? b.value : nil].compactMap { $0 }
    let (aShape, bShape) = (a.shape, b.shape)
    return Tape.current.record("matmul", inputs: [a, b], output: out, saved: saved) { g, s in
        var k = 0
        let av = needs[1] ? s[k] : nil
        if needs[1] { k += 1 }
        let bv = needs[0] ? s[k] : nil
        // C = A B: dA = G Bᵀ, dB = Aᵀ G; the transposed cases follow by swapping roles. An operand
        // shared across the other's batch (2-D against batched) gets the sum over the batch.
        let aShared = aShape.count == 2 && bShape.count > 2, bShared = bShape.count == 2 && aShape.count > 2
        var da: Tensor?, db: Tensor?
        if let bv {
            if aShared {
                da = transposeA ? Tensor.matmulSummingBatches(bv, g, transposeA: transposeB, transposeB: true)
                                : Tensor.matmulSummingBatches(g, bv, transposeB: !transposeB)
            } else {
                da = transposeA ? Tensor.matmul(bv, g, transposeA: transposeB, transposeB: true)
                                : Tensor.matmul(g, bv, transposeB: !transposeB)
            }
        }
        if let av {
            if bShared && !transposeA {
                // b was shared across the folded batch: one sgemm over all rows.
                let a2 = av.reshaped([-1, aShape.last!]), g2 = g.reshaped([-1, g.shape.last!])
                db = transposeB ? Tensor.matmul(g2, a2, transposeA: true) : Tensor.matmul(a2, g2, transposeA: true)
            } else if bShared {
                db = transposeB ? Tensor.matmulSummingBatches(g, av, transposeA: true, transposeB: true)
                                : Tensor.matmulSummingBatches(av, g)
            } else {
                db = transposeB ? Tensor.matmul(g, av, transposeA: true, transposeB: transposeA)
                                : Tensor.matmul(av, g, transposeA: !transposeA)
            }
        }
        return [da?.reshaped(aShape), db?.reshaped(bShape)]
    }
}

/// `y = x Wᵀ` with the exact backward (`dx = δ W`, `dW = δᵀ x`).
/// - Parameters:
///   - x: (..., in)
///   - weight: (out, in)
/// - Returns: (..., out)
public func linear(_ x: Variable, _ weight: Variable) -> Variable {
    matmul(x, weight, transposeB: true)
}
