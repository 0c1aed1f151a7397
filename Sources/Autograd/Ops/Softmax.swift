import Tensor

extension Variable {
    /// Softmax along the last axis. Saves the output: `dx = y ∘ (g − Σ g∘y)`.
    public func softmax() -> Variable {
        let y = value.softmax()
        return Tape.current.record("softmax", inputs: [self], output: y, saved: [y]) { g, s in
            let y = s[0]
            let dot = (g * y).sum(axis: -1, keepDims: true)
            return [y * (g - dot)]
        }
    }

    /// Log-softmax along the last axis. Saves the output: `dx = g − softmax · Σ g`.
    public func logSoftmax() -> Variable {
        let y = value.logSoftmax()
        return Tape.current.record("log-softmax", inputs: [self], output: y, saved: [y]) { g, s in
            [g - s[0].exp() * g.sum(axis: -1, keepDims: true)]
        }
    }
}
