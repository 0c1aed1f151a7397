extension SyntheticCorpus {
    /// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast generator whose output depends only on
    /// its seed, so the synthetic corpus is the same on every platform and Swift version.
    struct SplitMix64 {
        private var state: UInt64

        init(seed: UInt64) { state = seed }

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        /// Uniform in [0, 1), from the top 53 bits.
        mutating func unit() -> Double {
            Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        }

        /// Uniform in `0..<bound`; the modulo bias (< 2⁻⁵⁰ for small bounds) does not matter here.
        mutating func below(_ bound: Int) -> Int {
            Int(next() % UInt64(bound))
        }

        mutating func chance(_ probability: Double) -> Bool {
            unit() < probability
        }

        /// An element, with early elements more likely (density ∝ 1/√x over the list), so word
        /// frequencies are skewed like those of natural text.
        mutating func skewed<T>(_ items: [T]) -> T {
            let u = unit()
            return items[Int(u * u * Double(items.count))]
        }

        /// An element chosen uniformly.
        mutating func uniform<T>(_ items: [T]) -> T {
            items[below(items.count)]
        }

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
}
