import Foundation
import Tensor

/// A problem with a checkpoint or tensor file that the user can fix (wrong file, truncated or
/// corrupted file, a checkpoint from another model).
///
/// `description` is one line naming the file and the problem, ready for a CLI to print before
/// exiting non-zero.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// Nothing exists at the path.
    case fileNotFound(path: String)
    /// The file exists but could not be opened or read.
    case unreadable(path: String, reason: String)
    /// Writing failed; the previous file at `path` (if any) is untouched.
    case writeFailed(path: String, reason: String)
    /// The file is not a valid safetensors file (truncated, bad header, inconsistent offsets...).
    case invalidFormat(path: String, reason: String)
    /// A tensor that the caller asked for is absent.
    case missingTensor(path: String, name: String)
    /// A tensor is stored in a dtype that cannot be read as requested.
    case unsupportedDType(path: String, name: String, dtype: String, expected: String)
    /// A parameter or tensor name that the name map does not know.
    case unknownName(name: String, reason: String)
    /// The file does not fit the model: every missing, unexpected or misshapen tensor at once.
    case mismatches(path: String, [CheckpointMismatch])
    /// A `__metadata__` entry is missing or cannot be parsed.
    case invalidMetadata(path: String, key: String, reason: String)
    /// The file is valid, but its content cannot be used (e.g. token ids out of range).
    case invalidContent(path: String, reason: String)

    public var description: String { text.oneLine }

    private var text: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): file not found"
        case .unreadable(let path, let reason):
            return "\(path): cannot be read (\(reason))"
        case .writeFailed(let path, let reason):
            return "\(path): cannot be written (\(reason)); any previous file is unchanged"
        case .invalidFormat(let path, let reason):
            return "\(path): not a valid safetensors file (\(reason))"
        case .missingTensor(let path, let name):
            return "\(path): no tensor named '\(name)'"
        case .unsupportedDType(let path, let name, let dtype, let expected):
            return "\(path): tensor '\(name)' has dtype \(dtype), expected \(expected)"
        case .unknownName(let name, let reason):
            return "unknown parameter name '\(name)' (\(reason))"
        case .mismatches(let path, let list):
            let noun = list.count == 1 ? "mismatch" : "mismatches"
            return "\(path): \(list.count) \(noun) with the model: "
                + list.map(\.description).joined(separator: "; ")
        case .invalidMetadata(let path, let key, let reason):
            return "\(path): metadata '\(key)' \(reason)"
        case .invalidContent(let path, let reason):
            return "\(path): \(reason)"
        }
    }
}

/// One way a weights file disagrees with a model. Names are the names in the file.
public enum CheckpointMismatch: Equatable, CustomStringConvertible {
    /// The model has this parameter but the file does not.
    case missing(name: String, shape: [Int])
    /// The file has this tensor but the model has no such parameter (or the name cannot be mapped).
    case unexpected(name: String)
    /// Both have it, with different shapes.
    case wrongShape(name: String, expected: [Int], found: [Int])
    /// Both have it, but the file's dtype cannot be read as F32.
    case wrongDType(name: String, found: String)
    /// A model parameter whose internal path has no name in the file's naming scheme.
    case unmappable(parameter: String, reason: String)
    /// A tensor the format requires holds a value the model cannot represent.
    case unsupportedValue(name: String, reason: String)

    public var description: String {
        switch self {
        case .missing(let name, let shape):
            return "missing \(name) \(shape)"
        case .unexpected(let name):
            return "unexpected \(name)"
        case .wrongShape(let name, let expected, let found):
            return "\(name) has shape \(found), model expects \(expected)"
        case .wrongDType(let name, let found):
            return "\(name) has dtype \(found), expected F32, F16 or BF16"
        case .unmappable(let parameter, let reason):
            return "model parameter \(parameter) has no file name (\(reason))"
        case .unsupportedValue(let name, let reason):
            return "\(name) \(reason)"
        }
    }
}
