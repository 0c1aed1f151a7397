/// A size computed from user input (flags, a config file, a file header) does not fit in `Int`.
public struct SizeOverflowError: Error, CustomStringConvertible, Equatable {
    /// What was being sized, e.g. "parameters of the model".
    public let what: String
    public let factors: [Int]
    public init(what: String, factors: [Int]) { self.what = what; self.factors = factors }
    public var description: String {
        "\(what): \(factors.map(String.init).joined(separator: " × ")) overflows a 64-bit size"
    }
}

/// Overflow-checked size arithmetic for sizes that come from users: every product and sum throws
/// `SizeOverflowError` instead of trapping.
public enum Size {
    /// `factors` multiplied (1 for none). - Throws: `SizeOverflowError` naming `what`.
    public static func product(_ factors: Int..., what: String) throws -> Int {
        try product(factors, what: what)
    }

    public static func product(_ factors: [Int], what: String) throws -> Int {
        var p = 1
        for f in factors {
            let (r, overflow) = p.multipliedReportingOverflow(by: f)
            if overflow { throw SizeOverflowError(what: what, factors: factors) }
            p = r
        }
        return p
    }

    /// `terms` added. - Throws: `SizeOverflowError` naming `what`.
    public static func sum(_ terms: [Int], what: String) throws -> Int {
        var s = 0
        for t in terms {
            let (r, overflow) = s.addingReportingOverflow(t)
            if overflow { throw SizeOverflowError(what: what, factors: terms) }
            s = r
        }
        return s
    }

    /// The element count of `shape`, or nil when it overflows.
    public static func elementCount(_ shape: [Int]) -> Int? { try? product(shape, what: "") }
}
