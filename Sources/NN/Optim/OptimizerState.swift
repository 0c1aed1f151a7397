import Tensor

/// `loadState` got tensors that do not match the optimizer: every problem in one message.
public struct OptimizerStateError: Error, CustomStringConvertible, Equatable {
    public struct Mismatch: Equatable, Sendable {
        public let key: String
        public let expected: [Int]
        public let found: [Int]
    }

    /// The optimizer, as in its `description`.
    public let optimizer: String
    /// Keys the optimizer needs that were absent, with the shape it expected.
    public let missing: [(key: String, shape: [Int])]
    /// Keys present with the wrong shape.
    public let mismatched: [Mismatch]
    /// Keys the optimizer does not know (state of another optimizer or model).
    public let unexpected: [String]
    /// Keys with a right shape but an impossible value (a negative or fractional step count).
    public let invalid: [String]

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing " + missing.map { "\($0.key) \($0.shape)" }.joined(separator: ", ")) }
        if !mismatched.isEmpty {
            parts.append("wrong shape " + mismatched.map { "\($0.key) (expected \($0.expected), found \($0.found))" }.joined(separator: ", "))
        }
        if !unexpected.isEmpty { parts.append("unexpected " + unexpected.joined(separator: ", ")) }
        if !invalid.isEmpty { parts.append("invalid value in " + invalid.joined(separator: ", ")) }
        return "optimizer state does not fit \(optimizer): " + parts.joined(separator: "; ")
    }

    public static func == (a: OptimizerStateError, b: OptimizerStateError) -> Bool { a.description == b.description }
}

/// One named piece of optimizer state with its expected shape and accessors. Optimizers list
/// their state as entries; saving and loading (with validation of every key) is written once here.
struct StateEntry {
    let key: String
    let shape: [Int]
    let get: () -> Tensor
    /// Receives a tensor of `shape` (already an `.optimizer` copy owned by the optimizer).
    let set: (Tensor) -> Void
    /// Extra validation of the value (e.g. a step count must be a non-negative integer).
    var isValid: (Tensor) -> Bool = { _ in true }

    /// A tensor stored in a reference-typed holder.
    static func tensor(_ key: String, _ get: @escaping () -> Tensor, _ set: @escaping (Tensor) -> Void, shape: [Int]) -> StateEntry {
        StateEntry(key: key, shape: shape, get: get, set: set)
    }

    /// A step counter stored as a 0-D float (exact below 2²⁴ steps).
    static func count(_ key: String, _ get: @escaping () -> Int, _ set: @escaping (Int) -> Void) -> StateEntry {
        StateEntry(key: key, shape: [], get: { Memory.withCategory(.optimizer) { Tensor(scalar: Float(get())) } },
                   set: { set(Int($0.item)) },
                   isValid: { t in let v = t.item; return v >= 0 && v == v.rounded() && v < 16_777_216 })
    }

    /// A float scalar stored as a 0-D tensor.
    static func scalar(_ key: String, _ get: @escaping () -> Float, _ set: @escaping (Float) -> Void) -> StateEntry {
        StateEntry(key: key, shape: [], get: { Memory.withCategory(.optimizer) { Tensor(scalar: get()) } }, set: { set($0.item) })
    }
}

extension Array where Element == StateEntry {
    func collect() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for e in self { out[e.key] = e.get() }
        return out
    }

    /// Validates every key first, then assigns; on any problem throws and assigns nothing.
    func load(_ tensors: [String: Tensor], optimizer: String) throws {
        var missing: [(key: String, shape: [Int])] = []
        var mismatched: [OptimizerStateError.Mismatch] = []
        var invalid: [String] = []
        for e in self {
            guard let t = tensors[e.key] else { missing.append((e.key, e.shape)); continue }
            if t.shape != e.shape {
                mismatched.append(.init(key: e.key, expected: e.shape, found: t.shape))
            } else if !e.isValid(t) {
                invalid.append(e.key)
            }
        }
        let known = Set(map(\.key))
        let unexpected = tensors.keys.filter { !known.contains($0) }.sorted()
        guard missing.isEmpty, mismatched.isEmpty, unexpected.isEmpty, invalid.isEmpty else {
            throw OptimizerStateError(optimizer: optimizer, missing: missing, mismatched: mismatched,
                                      unexpected: unexpected, invalid: invalid)
        }
        // A private copy: the caller's tensors (e.g. mapped from a checkpoint) stay untouched and
        // the optimizer's are counted as optimizer memory.
        for e in self { e.set(tensors[e.key]!.copy(category: .optimizer)) }
    }
}
