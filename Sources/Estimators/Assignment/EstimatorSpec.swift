import Tensor

/// One estimator choice in text form, e.g. `exact`, `haar(rank:32)`,
/// `gradlite(rank:64,explore:16,refresh:20,feedback:on,adaptive:off)`.
///
/// Names and options (defaults from ALGORITHMS.md; `rank` is required where listed):
/// - `exact`, `recompute`: no options.
/// - `lowrank(rank:K,refresh:T)`: T = 20.
/// - `gaussian(rank:K)`, `haar(rank:K)`.
/// - `optimal(rank:K,refresh:T,decay:D)`: T = 20, D = 0.99.
/// - `gradlite(rank:K,explore:P,refresh:T,feedback:on|off,adaptive:on|off)`: P = K/4, T = 20,
///   feedback off, adaptive on.
/// Whitespace around tokens is ignored; `description` prints the canonical form, which parses back
/// to an equal spec.
public struct EstimatorSpec: Equatable, CustomStringConvertible, Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        case exact, recompute, lowrank, gaussian, haar, optimal, gradlite

        /// Options each kind accepts, in canonical order.
        public var options: [String] {
            switch self {
            case .exact, .recompute: return []
            case .lowrank: return ["rank", "refresh"]
            case .gaussian, .haar: return ["rank"]
            case .optimal: return ["rank", "refresh", "decay"]
            case .gradlite: return ["rank", "explore", "refresh", "feedback", "adaptive"]
            }
        }
    }

    public var kind: Kind
    /// k; nil only for `exact` and `recompute`.
    public var rank: Int?
    /// GradLite's p; nil means k/4.
    public var explore: Int?
    public var refresh: Int = 20
    public var decay: Float = 0.99
    public var feedback = false
    public var adaptive = true

    public static let exact = EstimatorSpec(kind: .exact)

    public init(kind: Kind, rank: Int? = nil, explore: Int? = nil, refresh: Int = 20, decay: Float = 0.99,
                feedback: Bool = false, adaptive: Bool = true) {
        self.kind = kind; self.rank = rank; self.explore = explore; self.refresh = refresh
        self.decay = decay; self.feedback = feedback; self.adaptive = adaptive
    }

    /// Parses one spec. - Throws: `EstimatorSpecError` naming the bad token and the valid choices.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingSpaces
        let name: String, body: String?
        if let open = trimmed.firstIndex(of: "(") {
            name = String(trimmed[..<open]).trimmingSpaces
            guard trimmed.hasSuffix(")") else {
                throw EstimatorSpecError(token: trimmed, message: "estimator '\(trimmed)': missing ')' (expected name(option:value,...))")
            }
            body = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
        } else {
            name = trimmed; body = nil
        }
        guard let kind = Kind(rawValue: name) else {
            throw EstimatorSpecError(token: name, message: "unknown estimator '\(name)' (valid: \(Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self.init(kind: kind)
        var seen = Set<String>()
        let options = (body ?? "").trimmingSpaces
        if !options.isEmpty {
            for item in options.split(separator: ",", omittingEmptySubsequences: false) {
                try apply(option: String(item).trimmingSpaces, seen: &seen)
            }
        }
        if kind != .exact && kind != .recompute && rank == nil {
            throw EstimatorSpecError(token: name, message: "estimator '\(name)' needs a rank, e.g. \(name)(rank:32) (options: \(kind.options.joined(separator: ", ")))")
        }
        if kind == .gradlite, let p = explore, let k = rank, p > k {
            throw EstimatorSpecError(token: "explore:\(p)", message: "gradlite: 'explore:\(p)' exceeds rank \(k) (valid: 0...\(k))")
        }
    }

    private mutating func apply(option item: String, seen: inout Set<String>) throws {
        let valid = kind.options
        let validText = valid.isEmpty ? "none" : valid.joined(separator: ", ")
        guard let colon = item.firstIndex(of: ":") else {
            throw EstimatorSpecError(token: item, message: "\(kind.rawValue): option '\(item)' is not key:value (valid keys: \(validText))")
        }
        let key = String(item[..<colon]).trimmingSpaces, value = String(item[item.index(after: colon)...]).trimmingSpaces
        guard valid.contains(key) else {
            throw EstimatorSpecError(token: key, message: "\(kind.rawValue): unknown option '\(key)' (valid: \(validText))")
        }
        guard seen.insert(key).inserted else {
            throw EstimatorSpecError(token: key, message: "\(kind.rawValue): option '\(key)' given twice (valid: \(validText))")
        }
        func int(_ range: ClosedRange<Int>) throws -> Int {
            guard let v = Int(value), range.contains(v) else {
                throw EstimatorSpecError(token: value, message: "\(kind.rawValue): bad value '\(value)' for \(key) (valid: an integer \(range.lowerBound)...\(range.upperBound == Int.max ? "" : String(range.upperBound)))")
            }
            return v
        }
        func onOff() throws -> Bool {
            switch value {
            case "on": return true
            case "off": return false
            default: throw EstimatorSpecError(token: value, message: "\(kind.rawValue): bad value '\(value)' for \(key) (valid: on, off)")
            }
        }
        switch key {
        case "rank": rank = try int(1...Int.max)
        case "explore": explore = try int(0...Int.max)
        case "refresh": refresh = try int(1...Int.max)
        case "feedback": feedback = try onOff()
        case "adaptive": adaptive = try onOff()
        case "decay":
            guard let d = Float(value), d >= 0, d < 1 else {
                throw EstimatorSpecError(token: value, message: "\(kind.rawValue): bad value '\(value)' for decay (valid: a number in [0, 1))")
            }
            decay = d
        default: preconditionFailure("EstimatorSpec: option \(key) listed but not handled")
        }
    }

    /// The canonical text form (all options of the kind spelled out).
    public var description: String {
        guard let k = rank else { return kind.rawValue }
        switch kind {
        case .exact, .recompute: return kind.rawValue
        case .lowrank: return "lowrank(rank:\(k),refresh:\(refresh))"
        case .gaussian, .haar: return "\(kind.rawValue)(rank:\(k))"
        case .optimal: return "optimal(rank:\(k),refresh:\(refresh),decay:\(decay))"
        case .gradlite:
            let p = explore.map { "explore:\($0)," } ?? ""
            return "gradlite(rank:\(k),\(p)refresh:\(refresh),feedback:\(feedback ? "on" : "off"),adaptive:\(adaptive ? "on" : "off"))"
        }
    }

    /// A fresh estimator with its own sketch for a weight of `weightShape` (m, n).
    ///
    /// A rank above n is clamped to n (full rank: the projection estimators are then exact, except
    /// `gaussian`); GradLite's exploration is clamped to the clamped rank.
    /// - Parameters:
    ///   - seed: the run's seed; stream: the layer's stream (`estimatorStream(forPath:)`).
    public func make(weightShape: [Int], seed: UInt64, stream: UInt64) -> LinearEstimator {
        precondition(weightShape.count == 2, "EstimatorSpec.make: weight shape \(weightShape) is not (m, n)")
        guard let sketch = makeSketch(inFeatures: weightShape[1], seed: seed, stream: stream) else {
            return kind == .recompute ? RecomputeEstimator() : ExactEstimator()
        }
        return make(weightShape: weightShape, sharing: sketch)
    }

    /// The sketch (basis, clock and saved z) of the layers with this spec that read one input of
    /// `n` features (ALGORITHMS.md §11); nil for `exact` and `recompute`, which save `x` itself.
    /// - Parameter stream: the group's stream (`estimatorStream(forPath:)` of the group's name).
    public func makeSketch(inFeatures n: Int, seed: UInt64, stream: UInt64) -> Sketch? {
        let k = Swift.min(rank ?? n, n)
        switch kind {
        case .exact, .recompute: return nil
        case .lowrank: return LowRankSketch(inFeatures: n, rank: k, refresh: refresh, seed: seed, stream: stream)
        case .gaussian: return RandomSketch(inFeatures: n, rank: k, distribution: .gaussian, seed: seed, stream: stream)
        case .haar: return RandomSketch(inFeatures: n, rank: k, distribution: .haar, seed: seed, stream: stream)
        case .optimal: return OptimalSketch(inFeatures: n, rank: k, refresh: refresh, decay: decay, seed: seed, stream: stream)
        case .gradlite:
            return GradLiteSketch(inFeatures: n, rank: k, explore: Swift.min(explore ?? k / 4, k), refresh: refresh,
                                  adaptive: adaptive, seed: seed, stream: stream)
        }
    }

    /// An estimator for a weight of `weightShape` (m, n) in the group of `sketch`, which
    /// `makeSketch` made from a spec that `sharesSketch(with:)` this one.
    public func make(weightShape: [Int], sharing sketch: Sketch) -> LinearEstimator {
        precondition(weightShape.count == 2 && weightShape[1] == sketch.inFeatures,
                     "EstimatorSpec.make: weight shape \(weightShape) does not read the sketch's \(sketch.inFeatures) features")
        switch (kind, sketch) {
        case (.lowrank, let s as LowRankSketch): return LowRankEstimator(sharing: s)
        case (.gaussian, let s as RandomSketch), (.haar, let s as RandomSketch): return RandomProjectionEstimator(sharing: s)
        case (.optimal, let s as OptimalSketch): return OptimalProjectionEstimator(sharing: s)
        case (.gradlite, let s as GradLiteSketch):
            return GradLiteEstimator(outFeatures: weightShape[0], errorFeedback: feedback, sharing: s)
        default: preconditionFailure("EstimatorSpec.make: \(self) cannot use a \(type(of: sketch))")
        }
    }

    /// Whether layers reading one input with these two specs share one sketch: the same kind and
    /// options, except GradLite's error feedback, which each layer keeps for itself.
    public func sharesSketch(with other: EstimatorSpec) -> Bool {
        guard kind != .exact && kind != .recompute else { return false }
        var a = self, b = other
        a.feedback = false; b.feedback = false
        return a == b
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
