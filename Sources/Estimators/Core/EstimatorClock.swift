import Tensor

/// An estimator's step counter and the key of its random stream.
///
/// Every random draw of an estimator is a pure function of `(seed, stream, step, purpose)`, so the
/// backward regenerates the projection the forward used (it is never stored) and a resumed run
/// draws exactly what the uninterrupted run would have. `stream` separates layers (derived from
/// the module path, see `estimatorStream(forPath:)`); `purpose` separates the draws of one step.
public struct EstimatorClock: Equatable, Sendable {
    public var seed: UInt64
    public var stream: UInt64
    /// Forward calls so far (the step the next forward runs at).
    public var step: UInt64

    public init(seed: UInt64, stream: UInt64, step: UInt64 = 0) {
        self.seed = seed; self.stream = stream; self.step = step
    }

    /// Which draw of a step a generator is for.
    public enum Purpose: UInt64, Sendable {
        case initialBasis = 0, projection = 1, exploration = 2, sampling = 3
    }

    /// The generator for `purpose` at `step`. The Philox counter is split as
    /// `purpose (4 bits) | step (32 bits) | block (28 bits)`: one draw may use 2²⁸ blocks
    /// (2³⁰ floats) and steps wrap after 2³² (far beyond any run here).
    public func rng(step: UInt64, _ purpose: Purpose) -> RNG {
        RNG(seed: seed, stream: stream, counter: (purpose.rawValue << 60) | ((step & 0xFFFF_FFFF) << 28))
    }

    // MARK: serialisation

    /// `[seed, stream, step]` as 12 floats holding 16-bit pieces (exact in fp32, so the state
    /// survives any checkpoint format that stores floats, bit for bit).
    public var encoded: Tensor { StateCoding.encode([seed, stream, step]) }

    public init(decoding t: Tensor, owner: String) throws {
        let v = try StateCoding.decode(t, count: 3, name: "\(owner).clock")
        self.init(seed: v[0], stream: v[1], step: v[2])
    }
}

/// Integers in state tensors: each `UInt64` as four 16-bit pieces, most significant first.
enum StateCoding {
    static func encode(_ values: [UInt64]) -> Tensor {
        var out: [Float] = []
        for v in values { for shift in stride(from: 48, through: 0, by: -16) { out.append(Float((v >> UInt64(shift)) & 0xFFFF)) } }
        return Tensor(out, shape: [out.count])
    }

    static func decode(_ t: Tensor, count: Int, name: String) throws -> [UInt64] {
        guard t.shape == [4 * count] else {
            throw EstimatorStateError(message: "\(name): expected shape [\(4 * count)], got \(t.shape)")
        }
        let s = t.scalars
        guard s.allSatisfy({ $0 >= 0 && $0 < 65536 && $0 == $0.rounded() }) else {
            throw EstimatorStateError(message: "\(name): entries are not 16-bit integers")
        }
        return (0..<count).map { i in (0..<4).reduce(UInt64(0)) { ($0 << 16) | UInt64(s[4 * i + $1]) } }
    }
}

/// Checks that a state tensor exists with the expected shape.
func requireState(_ tensors: [String: Tensor], _ key: String, shape: [Int], owner: String) throws -> Tensor {
    guard let t = tensors[key] else {
        throw EstimatorStateError(message: "\(owner): state has no '\(key)' (has \(tensors.keys.sorted()))")
    }
    guard t.shape == shape else {
        throw EstimatorStateError(message: "\(owner): state '\(key)' has shape \(t.shape), expected \(shape)")
    }
    return t
}

/// Rejects state keys an estimator does not know (a checkpoint from a different estimator).
func rejectUnknownState(_ tensors: [String: Tensor], known: Set<String>, owner: String) throws {
    let unknown = Set(tensors.keys).subtracting(known)
    guard unknown.isEmpty else {
        throw EstimatorStateError(message: "\(owner): unknown state \(unknown.sorted()) (expected \(known.sorted()))")
    }
}

/// A private deep copy of `t` counted under `category` (restored state must not alias the caller's tensors).
func persistentCopy(_ t: Tensor, _ category: MemoryCategory) -> Tensor { t.copy(category: category) }

/// Counts a freshly made tensor under `category` (estimator state lives beyond the call that made it).
@discardableResult
func keep(_ t: Tensor, as category: MemoryCategory) -> Tensor {
    t.storage.recategorize(category)
    return t
}
