import Autograd
import Estimators
import Tensor

/// A module whose own ops save tensors that a codec may compress (ALGORITHMS.md §10): `Linear`
/// (its input or its estimator's sketch), `RMSNorm` (its input), `CausalSelfAttention` (q, k, v,
/// o) and `SwiGLUMLP` (gate and up).
public protocol ActivationCompressing: Module {
    /// The codec of what this module's own ops save (its children have their own).
    var activationCodec: TensorCodec { get set }
}

extension ActivationCompressing {
    /// Runs `body` as this module's forward: nodes labelled with its path, compressible saved
    /// tensors in its codec.
    func recordingScope<T>(_ body: () -> T) -> T {
        Tape.current.withModuleScope(path: path, codec: activationCodec, body)
    }
}

/// Bad `--activations` text: one line naming the token and the valid choices.
public struct ActivationCodecError: Error, CustomStringConvertible, Equatable {
    public let token: String
    public let message: String
    public init(token: String, message: String) { self.token = token; self.message = message }
    public var description: String { message }
}

/// Which codec the saved tensors of each module get, by module-path pattern, with a default.
///
/// Text form (the CLI's `--activations`): rules `pattern=codec` separated by `;`, `default=codec`
/// for the fallback (fp32 unless given), codecs `fp32`, `bf16`, `int8` (`TensorCodec`). A pattern
/// is a glob (`globMatch`) over module paths that also covers everything inside the module it
/// names, and the last matching rule wins:
/// ```
/// default=int8; layers.*.attention=bf16; norm=fp32
/// ```
/// gives every linear, norm and MLP of a block int8, the attention block (its q/k/v/o projections
/// and the attention op) bf16, and the final norm fp32.
public struct ActivationCodecAssignment: CustomStringConvertible, Equatable, Sendable {
    public struct Rule: Equatable, Sendable {
        public var pattern: String
        public var codec: TensorCodec
        public init(pattern: String, codec: TensorCodec) { self.pattern = pattern; self.codec = codec }
    }

    public var defaultCodec: TensorCodec
    public var rules: [Rule]

    public init(default defaultCodec: TensorCodec = .fp32, rules: [Rule] = []) {
        self.defaultCodec = defaultCodec; self.rules = rules
    }

    /// Parses the text form; empty text means all fp32.
    /// - Throws: `ActivationCodecError` naming the offending token and the valid choices.
    public init(parsing text: String) throws {
        self.init()
        let fail = { (token: String, message: String) -> Error in ActivationCodecError(token: token, message: message) }
        for (pattern, value) in try parsePathRules(text, rule: "activation codec", value: "codec", fail: fail) {
            guard let codec = TensorCodec(rawValue: value) else {
                throw ActivationCodecError(token: value, message: "unknown activation codec '\(value)' in '\(pattern)=\(value)' (valid: \(TensorCodec.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if pattern == "default" { defaultCodec = codec } else { rules.append(Rule(pattern: pattern, codec: codec)) }
        }
    }

    /// The codec of the module at `path`: the last rule matching it or a module containing it, else the default.
    public func codec(forPath path: String) -> TensorCodec {
        rules.last { globMatchesPathOrAncestor($0.pattern, path) }?.codec ?? defaultCodec
    }

    /// The canonical text form; parses back to an equal assignment.
    public var description: String {
        (["default=\(defaultCodec)"] + rules.map { "\($0.pattern)=\($0.codec)" }).joined(separator: "; ")
    }
}

extension Module {
    /// Every module below this one whose ops save compressible tensors, with its path.
    public var namedActivationCompressingModules: [(String, any ActivationCompressing)] {
        namedModules().compactMap { path, m in (m as? any ActivationCompressing).map { (path, $0) } }
    }

    /// Sets the codec of every `ActivationCompressing` module below this one from `assignment`.
    /// - Throws: `ActivationCodecError` when a rule's pattern matches none of them, naming the valid paths.
    /// - Returns: each module's path and codec.
    @discardableResult
    public func assignActivationCodecs(_ assignment: ActivationCodecAssignment) throws -> [(String, TensorCodec)] {
        let modules = namedActivationCompressingModules
        for rule in assignment.rules where !modules.contains(where: { globMatchesPathOrAncestor(rule.pattern, $0.0) }) {
            throw ActivationCodecError(token: rule.pattern, message: "activation codec pattern '\(rule.pattern)' matches no module that saves tensors (valid paths: \(Self.pathSummary(modules.map(\.0))))")
        }
        return modules.map { path, m in
            m.activationCodec = assignment.codec(forPath: path)
            return (path, m.activationCodec)
        }
    }

    /// Paths with every index component written `*`, each once, in order (`layers.*.mlp.gate`).
    static func pathSummary(_ paths: [String]) -> String {
        var seen = Set<String>(), out: [String] = []
        for p in paths {
            let s = p.split(separator: ".").map { $0.allSatisfy(\.isNumber) ? "*" : String($0) }.joined(separator: ".")
            if seen.insert(s).inserted { out.append(s) }
        }
        return out.joined(separator: ", ")
    }
}
