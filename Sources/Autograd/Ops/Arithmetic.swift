import Tensor

/// Broadcasting arithmetic. Gradients are summed back over broadcast dimensions.
extension Variable {
    public static func + (a: Variable, b: Variable) -> Variable {
        let (sa, sb) = (a.shape, b.shape)
        return Tape.current.record("add", inputs: [a, b], output: a.value + b.value, saved: []) { g, _ in
            [g.reduced(toShape: sa), g.reduced(toShape: sb)]
        }
    }

    public static func - (a: Variable, b: Variable) -> Variable {
        let (sa, sb) = (a.shape, b.shape)
        return Tape.current.record("sub", inputs: [a, b], output: a.value - b.value, saved: []) { g, _ in
            [g.reduced(toShape: sa), (-g).reduced(toShape: sb)]
        }
    }

    public static func * (a: Variable, b: Variable) -> Variable {
        let needs = Tape.current.needsGrad([a, b])
        let (sa, sb) = (a.shape, b.shape)
        // d(a·b)/da needs b and vice versa: keep only what a needed gradient uses.
        let saved = [needs[1] ? a.value : nil, needs[0] ? b.value : nil].compactMap { $0 }
        return Tape.current.record("mul", inputs: [a, b], output: a.value * b.value, saved: saved) { g, s in
            var k = 0
            let av = needs[1] ? s[k] : nil
            if needs[1] { k += 1 }
            let bv = needs[0] ? s[k] : nil
            return [bv.map { (g * $0).reduced(toShape: sa) }, av.map { (g * $0).reduced(toShape: sb) }]
        }
    }

    public static func / (a: Variable, b: Variable) -> Variable {
        let (sa, sb) = (a.shape, b.shape)
        let out = a.value / b.value
        let needs = Tape.current.needsGrad([a, b])
        // da = g / b; db = -g · out / b.
        return Tape.current.record("div", inputs: [a, b], output: out, saved: needs[1] ? [b.value, out] : [b.value]) { g, s in
            let gb = g / s[0]
            return [needs[0] ? gb.reduced(toShape: sa) : nil, needs[1] ? (-(gb * s[1])).reduced(toShape: sb) : nil]
        }
    }

    public static prefix func - (a: Variable) -> Variable {
        Tape.current.record("neg", inputs: [a], output: -a.value, saved: []) { g, _ in [-g] }
    }

    public static func * (a: Variable, s: Float) -> Variable {
        Tape.current.record("scale", inputs: [a], output: a.value * s, saved: []) { g, _ in [g * s] }
    }
    public static func * (s: Float, a: Variable) -> Variable { a * s }
    public static func / (a: Variable, s: Float) -> Variable { a * (1 / s) }

    public static func + (a: Variable, s: Float) -> Variable {
        Tape.current.record("add-scalar", inputs: [a], output: a.value + s, saved: []) { g, _ in [g] }
    }
    public static func - (a: Variable, s: Float) -> Variable { a + (-s) }
}
