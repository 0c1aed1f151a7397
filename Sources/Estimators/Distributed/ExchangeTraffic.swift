/// What a data-parallel step sends, by category (ALGORITHMS.md §14, "bytes sent per step").
public enum ExchangeCategory: String, CaseIterable, Sendable {
    /// Exact gradients (embeddings, norms, the head, layers with an exact estimator).
    case exact
    /// Projection estimators' `P = δᵀ z` (m×k) and adaptive refreshes' `xᵀ(x V)` (n×k).
    case sketch
    /// PowerSGD's factors P (m×r) and Q (n×r) of exact matrices.
    case powerSGD = "powersgd"
    /// Scalars: the step's loss and skip decision.
    case norms
}

/// Bytes this rank contributed to all-reduces, by category. A bucket of b floats counts 4·b
/// bytes: the payload, not the transport's internal traffic (a ring all-reduce moves about
/// 2·(R − 1)/R times the payload per rank).
public final class ExchangeTraffic {
    public private(set) var bytes: [ExchangeCategory: Int] = [:]

    public init() {}

    public func add(_ count: Int, _ category: ExchangeCategory) { bytes[category, default: 0] += count }

    public func reset() { bytes = [:] }

    /// Keyed by the category's name, with every category present (0 when nothing was sent).
    public var report: [String: Int] {
        Dictionary(uniqueKeysWithValues: ExchangeCategory.allCases.map { ($0.rawValue, bytes[$0] ?? 0) })
    }
}
