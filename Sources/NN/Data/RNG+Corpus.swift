import Tensor

/// The draws the synthetic corpus's grammar makes, on the project's one generator (Philox, keyed
/// by the corpus seed), so the corpus is the same on every platform and Swift version.
extension RNG {
    /// Uniform in (0, 1), 24 bits (ample for choosing words).
    mutating func unit() -> Double { Double(nextUniform()) }

    /// Uniform in `0..<bound`.
    mutating func below(_ bound: Int) -> Int { nextInt(below: bound) }

    mutating func chance(_ probability: Double) -> Bool { unit() < probability }

    /// An element, with early elements more likely (density ∝ 1/√x over the list), so word
    /// frequencies are skewed like those of natural text.
    mutating func skewed<T>(_ items: [T]) -> T {
        let u = unit()
        return items[Swift.min(Int(u * u * Double(items.count)), items.count - 1)]
    }

    /// An element chosen uniformly.
    mutating func uniform<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// An index drawn with the given relative weights.
    mutating func weighted(_ weights: [Double]) -> Int {
        var r = unit() * weights.reduce(0, +)
        for (i, w) in weights.enumerated() {
            r -= w
            if r < 0 { return i }
        }
        return weights.count - 1
    }
}
