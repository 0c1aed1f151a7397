/// Inclusion probabilities for drawing k of n directions with variance-optimal marginals
/// (ALGORITHMS.md §3, "water-filling"): `πᵢ = min(1, (k − τ) √σᵢ / Σ_{j: πⱼ<1} √σⱼ)` with τ the
/// number of πᵢ equal to 1, iterated until stable, so that `Σ πᵢ = k`.
///
/// Negative σ (rounding in an eigendecomposition) are clamped to 0 before the square root. When
/// the uncapped directions all have σ = 0 the remaining budget is spread evenly over them (any
/// split is optimal then; even keeps every πᵢ ≤ 1 and the sum exact).
/// - Parameters:
///   - sigma: (n) non-negative weights, e.g. eigenvalues of the gradient covariance; any order.
///   - k: sample size; values ≥ n give all ones, ≤ 0 all zeros.
/// - Returns: (n) probabilities in [0, 1] summing to `min(max(k, 0), n)`.
public func waterFillingProbabilities(_ sigma: [Float], k: Int) -> [Float] {
    let n = sigma.count
    if k <= 0 { return [Float](repeating: 0, count: n) }
    if k >= n { return [Float](repeating: 1, count: n) }
    let root = sigma.map { Double(Swift.max($0, 0)).squareRoot() }
    var capped = [Bool](repeating: false, count: n)
    var pi = [Double](repeating: 0, count: n)
    var tau = 0
    while true {
        let budget = Double(k - tau)
        let free = (0..<n).filter { !capped[$0] }
        let total = free.reduce(0.0) { $0 + root[$1] }
        for i in free { pi[i] = total > 0 ? budget * root[i] / total : budget / Double(free.count) }
        let newlyCapped = free.filter { pi[$0] >= 1 }
        if newlyCapped.isEmpty { break }
        for i in newlyCapped { capped[i] = true; pi[i] = 1 }
        tau += newlyCapped.count
    }
    return pi.map { Float(Swift.min($0, 1)) }
}

/// Systematic sampling (Madow 1949): exactly k = round(Σ πᵢ) distinct indices with marginal
/// inclusion probabilities πᵢ (each πᵢ ≤ 1). Cumulative sums split [0, k) into intervals of
/// length πᵢ; index i is taken when its interval holds one of `u + j`, j = 0..k−1. The last
/// cumulative sum is forced to exactly k so rounding in the sums can never lose the last draw.
/// - Parameters:
///   - probabilities: (n) in [0, 1].
///   - u: one uniform in [0, 1).
/// - Returns: k ascending indices.
public func systematicSample(_ probabilities: [Float], u: Float) -> [Int] {
    precondition(u >= 0 && u < 1, "systematicSample: u = \(u) is not in [0, 1)")
    let total = probabilities.reduce(0.0) { $0 + Double($1) }
    let k = Int(total.rounded())
    var picked: [Int] = []
    picked.reserveCapacity(k)
    var cumulative = 0.0
    for (i, p) in probabilities.enumerated() {
        precondition(p >= 0 && p <= 1.0001, "systematicSample: probability \(p) at index \(i) is not in [0, 1]")
        cumulative += Double(p)
        if i == probabilities.count - 1 { cumulative = Double(k) }
        while picked.count < k && Double(u) + Double(picked.count) < cumulative { picked.append(i) }
    }
    return picked
}
