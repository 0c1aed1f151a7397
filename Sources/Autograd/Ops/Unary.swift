import Tensor

/// Elementwise functions. Each saves the one tensor its derivative needs (input or output).
extension Variable {
    private func unary(_ op: String, _ out: Tensor, saveOutput: Bool, _ derivative: @escaping (Tensor, Tensor) -> Tensor) -> Variable {
        let keep = saveOutput ? out : value
        return Tape.current.record(op, inputs: [self], output: out, saved: [keep]) { g, s in [derivative(g, s[0])] }
    }

    /// Derivative from the output: d exp = exp.
    public func exp() -> Variable { unary("exp", value.exp(), saveOutput: true) { g, y in g * y } }
    public func log() -> Variable { unary("log", value.log(), saveOutput: false) { g, x in g / x } }
    public func sqrt() -> Variable { unary("sqrt", value.sqrt(), saveOutput: true) { g, y in g / (y * 2) } }
    /// d x^(-1/2) = -½ y³.
    public func rsqrt() -> Variable { unary("rsqrt", value.rsqrt(), saveOutput: true) { g, y in g * (y * y * y) * -0.5 } }
    public func square() -> Variable { unary("square", value.square(), saveOutput: false) { g, x in g * x * 2 } }
    public func tanh() -> Variable { unary("tanh", value.tanh(), saveOutput: true) { g, y in g * (1 - y * y) } }
    public func sigmoid() -> Variable { unary("sigmoid", value.sigmoid(), saveOutput: true) { g, y in g * y * (1 - y) } }
    public func relu() -> Variable {
        unary("relu", value.relu(), saveOutput: true) { g, y in
            Tensor.combine(g, y, { $0.replacing(with: 0, where: $1 .<= 0) }, { $1 > 0 ? $0 : 0 })
        }
    }
    /// d silu = σ(x)(1 + x(1 − σ(x))).
    public func silu() -> Variable {
        unary("silu", value.silu(), saveOutput: false) { g, x in
            Tensor.combine(g, x, { g, x in let s = vsigmoid(x); return g * s * (1 + x * (1 - s)) },
                                { g, x in let s = vsigmoid(Vec(repeating: x))[0]; return g * s * (1 + x * (1 - s)) })
        }
    }
    /// GELU (tanh approximation), derivative of the same formula.
    public func gelu() -> Variable {
        unary("gelu", value.gelu(), saveOutput: false) { g, x in
            Tensor.combine(g, x, geluGrad, { geluGrad(Vec(repeating: $0), Vec(repeating: $1))[0] })
        }
    }
    /// x^p.
    public func pow(_ p: Float) -> Variable {
        unary("pow", value.pow(p), saveOutput: false) { g, x in g * x.pow(p - 1) * p }
    }
}

/// d/dx of `x · ½(1 + tanh u)` = `½(1 + t) + ½ x (1 − t²) u′`, written with `s = σ(2u)`
/// (`½(1 + t) = s`, `1 − t² = 4 s (1 − s)`) to avoid cancellation for negative x.
@inline(__always) func geluGrad(_ g: Vec, _ x: Vec) -> Vec {
    let c: Float = 0.797_884_56
    let inner = c * (x + 0.044715 * x * x * x)
    let s = vsigmoid(2 * inner)
    let dinner = c * (1 + 3 * 0.044715 * x * x)
    return g * (s + 2 * x * s * (1 - s) * dinner)
}
