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
    /// States stored in another encoding than the optimizer keeps (`states:int8` against fp32):
    /// the state keys concerned (their missing and unexpected parts are not listed again).
    public let encodingMismatch: (stored: StateEncoding, expected: StateEncoding, keys: [String])?

    init(optimizer: String, missing: [(key: String, shape: [Int])], mismatched: [Mismatch], unexpected: [String],
         invalid: [String], encodingMismatch: (stored: StateEncoding, expected: StateEncoding, keys: [String])? = nil) {
        self.optimizer = optimizer; self.missing = missing; self.mismatched = mismatched
        self.unexpected = unexpected; self.invalid = invalid; self.encodingMismatch = encodingMismatch
    }

    public var description: String {
        var parts: [String] = []
        if let e = encodingMismatch {
            let shown = e.keys.prefix(3).joined(separator: ", ") + (e.keys.count > 3 ? " and \(e.keys.count - 3) more" : "")
            parts.append("states are stored as \(e.stored) but the optimizer keeps \(e.expected) (\(shown)); "
                         + "resume with the optimizer the checkpoint was saved with (states:\(e.stored))")
        }
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
/// Most entries are fp32 tensors; the codes of 8-bit states are byte tensors.
struct StateEntry {
    enum Accessor {
        /// `set` receives a tensor of `shape` (already an `.optimizer` copy owned by the optimizer);
        /// `isValid` checks the value (e.g. a step count must be a non-negative integer).
        case float(get: () -> Tensor, set: (Tensor) -> Void, isValid: (Tensor) -> Bool)
        case codes(get: () -> ByteTensor, set: (ByteTensor) -> Void)
    }

    let key: String
    let shape: [Int]
    let accessor: Accessor

    /// A tensor stored in a reference-typed holder.
    static func tensor(_ key: String, _ get: @escaping () -> Tensor, _ set: @escaping (Tensor) -> Void, shape: [Int]) -> StateEntry {
        StateEntry(key: key, shape: shape, accessor: .float(get: get, set: set, isValid: { _ in true }))
    }

    /// The byte codes of a quantized state.
    static func codes(_ key: String, _ get: @escaping () -> ByteTensor, _ set: @escaping (ByteTensor) -> Void, shape: [Int]) -> StateEntry {
        StateEntry(key: key, shape: shape, accessor: .codes(get: get, set: set))
    }

    /// A step counter stored as a 0-D float (exact below 2²⁴ steps).
    static func count(_ key: String, _ get: @escaping () -> Int, _ set: @escaping (Int) -> Void) -> StateEntry {
        StateEntry(key: key, shape: [], accessor: .float(
            get: { Memory.withCategory(.optimizer) { Tensor(scalar: Float(get())) } }, set: { set(Int($0.item)) },
            isValid: { t in let v = t.item; return v >= 0 && v == v.rounded() && v < 16_777_216 }))
    }

    /// A float scalar stored as a 0-D tensor.
    static func scalar(_ key: String, _ get: @escaping () -> Float, _ set: @escaping (Float) -> Void) -> StateEntry {
        .tensor(key, { Memory.withCategory(.optimizer) { Tensor(scalar: get()) } }, { set($0.item) }, shape: [])
    }
}

extension Array where Element == StateEntry {
    /// The fp32 entries by key.
    func collect() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for e in self { if case .float(let get, _, _) = e.accessor { out[e.key] = get() } }
        return out
    }

    /// The byte entries (codes of 8-bit states) by key.
    func collectCodes() -> [String: ByteTensor] {
        var out: [String: ByteTensor] = [:]
        for e in self { if case .codes(let get, _) = e.accessor { out[e.key] = get() } }
        return out
    }

    /// Validates every key first, then assigns; on any problem throws and assigns nothing.
    func load(_ tensors: [String: Tensor], codes: [String: ByteTensor], optimizer: String) throws {
        var missing: [(key: String, shape: [Int])] = []
        var mismatched: [OptimizerStateError.Mismatch] = []
        var invalid: [String] = []
        for e in self {
            let found: [Int]?
            switch e.accessor {
            case .float(_, _, let isValid):
                found = tensors[e.key]?.shape
                if let t = tensors[e.key], t.shape == e.shape, !isValid(t) { invalid.append(e.key) }
            case .codes:
                found = codes[e.key]?.shape
            }
            guard let shape = found else { missing.append((e.key, e.shape)); continue }
            if shape != e.shape { mismatched.append(.init(key: e.key, expected: e.shape, found: shape)) }
        }
        let known = Set(map(\.key))
        var unexpected = ([String](tensors.keys) + [String](codes.keys)).filter { !known.contains($0) }.sorted()
        let encoding = QuantizedStateKeys.mismatch(missing: missing.map(\.key), unexpected: unexpected)
        if let encoding {
            let explained = Set(encoding.explainedKeys)
            missing.removeAll { explained.contains($0.key) }
            unexpected.removeAll { explained.contains($0) }
        }
        guard missing.isEmpty, mismatched.isEmpty, unexpected.isEmpty, invalid.isEmpty, encoding == nil else {
            throw OptimizerStateError(optimizer: optimizer, missing: missing, mismatched: mismatched, unexpected: unexpected,
                                      invalid: invalid, encodingMismatch: encoding.map { ($0.stored, $0.expected, $0.states) })
        }
        // A private copy: the caller's tensors (e.g. mapped from a checkpoint) stay untouched and
        // the optimizer's are counted as optimizer memory.
        for e in self {
            switch e.accessor {
            case .float(_, let set, _): set(tensors[e.key]!.copy(category: .optimizer))
            case .codes(_, let set): set(codes[e.key]!.copy(category: .optimizer))
            }
        }
    }
}
