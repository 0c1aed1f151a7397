import Autograd
import Foundation
import Tensor

/// A bad `--optimizer` text; the description is one line naming the offending token and the
/// valid choices.
public enum OptimizerSpecError: Error, CustomStringConvertible, Equatable {
    case empty
    case unknownOptimizer(String)
    /// The text is not `name` or `name(key:value, ...)`.
    case syntax(text: String, token: String, reason: String)
    case unknownOption(optimizer: String, key: String)
    case duplicateOption(optimizer: String, key: String)
    case invalidValue(optimizer: String, key: String, value: String, expected: String)
    /// An option value the optimizer has no mode for (`states:int8` on SGD).
    case unsupportedMode(optimizer: String, option: String, supportedBy: [String])

    public var description: String { text.oneLine }

    private var text: String {
        switch self {
        case .empty:
            return "empty optimizer spec; valid: \(OptimizerSpec.Kind.validNames)"
        case .unknownOptimizer(let name):
            return "unknown optimizer '\(name)'; valid: \(OptimizerSpec.Kind.validNames)"
        case let .syntax(text, token, reason):
            return "optimizer spec '\(text)': \(reason) at '\(token)'; expected name or name(key:value, ...)"
        case let .unknownOption(optimizer, key):
            let keys = OptimizerSpec.Kind(rawValue: optimizer)?.optionKeys ?? []
            return "\(optimizer) has no option '\(key)'; "
                + (keys.isEmpty ? "it takes none" : "valid: \(keys.joined(separator: ", "))")
        case let .duplicateOption(optimizer, key):
            return "\(optimizer): option '\(key)' given twice"
        case let .invalidValue(optimizer, key, value, expected):
            return "\(optimizer) option \(key): '\(value)' is not \(expected)"
        case let .unsupportedMode(optimizer, option, supportedBy):
            return "\(optimizer) has no \(option) mode; it is available for \(supportedBy.joined(separator: ", "))"
        }
    }
}

/// The text form of an optimizer choice, as the CLI takes it:
/// `adamw`, `adamw(beta1:0.9,beta2:0.999,eps:1e-8)`, `sgd(momentum:0.9,nesterov:true)`,
/// `galore(rank:128,gap:200,scale:0.25)`, `grasswalk(rank:128,gap:200,scale:0.25,step:0.5)`,
/// `grassjump(rank:128,gap:200,scale:0.25)`, `lomo`, `adalomo`.
/// GaLore and Grass also take `beta1`, `beta2`, `eps` (default 1e-6, also used by their AdamW
/// group); Grass takes `gamma` (1.01) and `recovery` (true); AdaLomo takes `clip` (1) and `decay` (0.8).
/// AdamW, SGD, GaLore and Grass take `layerwise:on` (update inside the backward, ALGORITHMS.md §12);
/// AdamW, GaLore and Grass take `states:int8` (8-bit moments, §13), e.g.
/// `galore(rank:64,layerwise:on,states:int8)`.
/// Learning rate, weight decay and seed come from the run, not from the spec.
public struct OptimizerSpec: Equatable, CustomStringConvertible {
    public enum Kind: String, CaseIterable, Sendable {
        case adamw, sgd, galore, grasswalk, grassjump, lomo, adalomo

        static var validNames: String { allCases.map(\.rawValue).joined(separator: ", ") }

        /// Accepted option keys in their canonical order.
        var optionKeys: [String] {
            switch self {
            case .adamw: return ["beta1", "beta2", "eps", "layerwise", "states"]
            case .sgd: return ["momentum", "nesterov", "layerwise"]
            case .galore: return ["rank", "gap", "scale", "beta1", "beta2", "eps", "layerwise", "states"]
            case .grassjump: return ["rank", "gap", "scale", "beta1", "beta2", "eps", "gamma", "recovery", "layerwise", "states"]
            case .grasswalk: return ["rank", "gap", "scale", "step", "beta1", "beta2", "eps", "gamma", "recovery", "layerwise", "states"]
            case .lomo: return []
            case .adalomo: return ["clip", "decay"]
            }
        }

        /// The optimizers with an 8-bit state mode.
        static var quantizable: [Kind] { allCases.filter { $0.optionKeys.contains("states") } }
    }

    public let kind: Kind
    /// Options given in the text, by key (booleans as 0/1); absent keys take the defaults.
    public let options: [String: Double]

    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw OptimizerSpecError.empty }
        var name = trimmed, body: Substring?
        if let open = trimmed.firstIndex(of: "(") {
            guard trimmed.hasSuffix(")") else {
                throw OptimizerSpecError.syntax(text: text, token: String(trimmed[open...]), reason: "missing ')'")
            }
            name = String(trimmed[..<open]).trimmingCharacters(in: .whitespaces)
            body = trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)]
        } else if let bad = trimmed.first(where: { !$0.isLetter }) {
            throw OptimizerSpecError.syntax(text: text, token: String(bad), reason: "unexpected character")
        }
        guard let kind = Kind(rawValue: name.lowercased()) else { throw OptimizerSpecError.unknownOptimizer(name) }
        var options: [String: Double] = [:]
        let items = body.map { $0.split(separator: ",", omittingEmptySubsequences: false) } ?? []
        let emptyBody = items.count == 1 && items[0].trimmingCharacters(in: .whitespaces).isEmpty
        for item in emptyBody ? [] : items {
            let parts = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw OptimizerSpecError.syntax(text: text, token: item.trimmingCharacters(in: .whitespaces), reason: "expected key:value")
            }
            let key = parts[0].lowercased()
            if key == "states", !kind.optionKeys.contains(key) {
                throw OptimizerSpecError.unsupportedMode(optimizer: kind.rawValue, option: "states:\(parts[1])",
                                                         supportedBy: Kind.quantizable.map(\.rawValue))
            }
            guard kind.optionKeys.contains(key) else { throw OptimizerSpecError.unknownOption(optimizer: kind.rawValue, key: parts[0]) }
            guard options[key] == nil else { throw OptimizerSpecError.duplicateOption(optimizer: kind.rawValue, key: key) }
            options[key] = try OptimizerSpec.value(parts[1], key: key, optimizer: kind.rawValue)
        }
        if kind == .sgd, options["nesterov"] == 1, (options["momentum"] ?? 0) <= 0 {
            throw OptimizerSpecError.invalidValue(optimizer: "sgd", key: "nesterov", value: "true", expected: "allowed without momentum > 0")
        }
        self.kind = kind
        self.options = options
    }

    /// Largest `rank` and `gap` accepted (far beyond any matrix or run).
    static let maxRankOrGap = 1 << 30

    /// Parses and range-checks one value.
    private static func value(_ text: String, key: String, optimizer: String) throws -> Double {
        func bad(_ expected: String) -> OptimizerSpecError {
            .invalidValue(optimizer: optimizer, key: key, value: text, expected: expected)
        }
        switch key {
        case "nesterov", "recovery", "layerwise":
            switch text.lowercased() {
            case "true", "1", "on": return 1
            case "false", "0", "off": return 0
            default: throw bad(key == "layerwise" ? "on or off" : "true or false")
            }
        case "states":
            guard let encoding = StateEncoding(rawValue: text.lowercased()) else {
                throw bad(StateEncoding.allCases.map(\.rawValue).joined(separator: " or "))
            }
            return encoding == .int8 ? 1 : 0
        case "rank", "gap":
            // Bounded so the value survives its round trip through Double exactly.
            guard let v = Int(text), v >= 1, v <= maxRankOrGap else { throw bad("a positive integer ≤ \(maxRankOrGap)") }
            return Double(v)
        default:
            guard let v = Double(text), v.isFinite else { throw bad("a number") }
            switch key {
            case "beta1", "beta2", "momentum": guard v >= 0 && v < 1 else { throw bad("in [0, 1)") }
            case "gamma": guard v >= 1 else { throw bad("≥ 1") }
            default: guard v > 0 else { throw bad("a positive number") }
            }
            return v
        }
    }

    /// Whether the optimizer this spec makes updates inside the backward (LOMO, AdaLomo,
    /// `layerwise:on`), so that gradient accumulation is impossible and clipping needs a measuring pass.
    public var updatesDuringBackward: Bool { kind == .lomo || kind == .adalomo || layerwise }

    /// `layerwise:on`.
    public var layerwise: Bool { options["layerwise"] == 1 }

    /// `states:` (fp32 unless given).
    public var states: StateEncoding { options["states"] == 1 ? .int8 : .fp32 }

    private func float(_ key: String, _ fallback: Float) -> Float { options[key].map { Float($0) } ?? fallback }
    private func int(_ key: String, _ fallback: Int) -> Int { options[key].map { Int($0) } ?? fallback }

    public var subspaceOptions: SubspaceOptions {
        SubspaceOptions(rank: int("rank", 128), gap: int("gap", 200), scale: float("scale", 0.25),
                        beta1: float("beta1", 0.9), beta2: float("beta2", 0.999), eps: float("eps", 1e-6), states: states)
    }

    /// Builds the optimizer. LOMO, AdaLomo and `layerwise:on` optimizers come attached to the
    /// parameters' hooks.
    /// - Parameters:
    ///   - parameters: (path, parameter) in declaration order, e.g. `model.namedParameters()`.
    ///   - seed: keys Grass's random bases; unused by the others.
    ///   - groups: per-path options and which matrices get the subspace update.
    public func make(parameters: [(String, Parameter)], learningRate: Float, weightDecay: Float, seed: UInt64,
                     groups: ParameterGroups) -> Optimizer {
        switch kind {
        case .adamw:
            return AdamW(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay,
                         options: AdamW.Options(beta1: float("beta1", 0.9), beta2: float("beta2", 0.999), eps: float("eps", 1e-8),
                                                states: states),
                         groups: groups, layerwise: layerwise)
        case .sgd:
            return SGD(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay,
                       options: SGD.Options(momentum: float("momentum", 0), nesterov: options["nesterov"] == 1), groups: groups,
                       layerwise: layerwise)
        case .galore:
            return GaLore(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay,
                          options: subspaceOptions, groups: groups, layerwise: layerwise)
        case .grassjump, .grasswalk:
            let move: Grass.Move = kind == .grassjump ? .jump : .walk(step: float("step", 0.5))
            return Grass(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay,
                         options: Grass.Options(subspace: subspaceOptions, move: move, gamma: float("gamma", 1.01),
                                                recoveryScaling: options["recovery"] != 0),
                         seed: seed, groups: groups, layerwise: layerwise)
        case .lomo:
            return LOMO(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay, groups: groups)
        case .adalomo:
            return AdaLomo(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay,
                           options: AdaLomo.Options(clipThreshold: float("clip", 1), decay: float("decay", 0.8)), groups: groups)
        }
    }

    /// `make` with the default groups (subspace methods on `layers.*.attention.*` and `layers.*.mlp.*`).
    public func make(parameters: [(String, Parameter)], learningRate: Float, weightDecay: Float, seed: UInt64) -> Optimizer {
        make(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay, seed: seed, groups: ParameterGroups())
    }

    /// The canonical text: `name` or `name(key:value,...)` with the given keys in canonical order.
    public var description: String {
        let given = kind.optionKeys.filter { options[$0] != nil }
        guard !given.isEmpty else { return kind.rawValue }
        let items = given.map { key -> String in
            let v = options[key]!
            if key == "nesterov" || key == "recovery" { return "\(key):\(v == 1)" }
            if key == "layerwise" { return "layerwise:\(v == 1 ? "on" : "off")" }
            if key == "states" { return "states:\(v == 1 ? StateEncoding.int8 : .fp32)" }
            if key == "rank" || key == "gap" { return "\(key):\(Int(v))" }
            return "\(key):\(v)"
        }
        return "\(kind.rawValue)(\(items.joined(separator: ",")))"
    }
}
