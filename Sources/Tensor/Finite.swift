extension Tensor {
    /// Whether every element is finite (no NaN, no ±inf). Vectorised: `x − x` is 0 for finite x
    /// and NaN otherwise, and one NaN poisons the sum.
    public var isAllFinite: Bool {
        withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return true }
            var acc = Vec()
            var i = 0
            while i + 16 <= p.count {
                let v = load(base, i)
                acc += v - v
                i += 16
            }
            var s = acc.sum()
            while i < p.count { s += p[i] - p[i]; i += 1 }
            return s == 0
        }
    }

    /// Number of NaN or infinite elements (for messages; `isAllFinite` is the fast test).
    public var nonFiniteCount: Int {
        withUnsafeBufferPointer { p in p.reduce(0) { $0 + ($1.isFinite ? 0 : 1) } }
    }
}
