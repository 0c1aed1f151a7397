import Tensor

/// Bad model configuration (a preset name, a config.json, or values that do not fit together).
/// `description` is one line naming the key or the problem.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
    case unknownPreset(String, available: [String])
    case invalidJSON(String)
    case missingKey(String)
    case invalidValue(key: String, value: String, reason: String)
    case unsupported(key: String, reason: String)

    public var description: String { text.oneLine }

    private var text: String {
        switch self {
        case let .unknownPreset(name, available):
            return "unknown model preset '\(name)' (available: \(available.joined(separator: ", ")))"
        case let .invalidJSON(detail):
            return "model config is not a JSON object: \(detail)"
        case let .missingKey(key):
            return "model config: missing key '\(key)'"
        case let .invalidValue(key, value, reason):
            return "model config: \(key) = \(value) \(reason)"
        case let .unsupported(key, reason):
            return "model config: \(key) is not supported: \(reason)"
        }
    }
}
