import Foundation
import Tensor

/// `run.json`, and the copy of it inside every checkpoint's training state: the run's
/// configuration (absolute paths, the schedule fixed at creation) and fingerprints of what it
/// read, so a resume can refuse to continue a different run.
public struct RunRecord: Codable, Equatable, Sendable {
    public static let currentFormat = "sketchgrad-run-2"

    public var format = RunRecord.currentFormat
    public var configuration: RunConfiguration
    public var inputs: RunInputs

    public init(configuration: RunConfiguration, inputs: RunInputs) {
        self.configuration = configuration; self.inputs = inputs
    }

    /// Configuration keys a resume may change (`--steps`: the new total; `--threads`: results are
    /// then no longer bit-identical to the uninterrupted run, which the CLI says).
    public static let resumableKeys: Set<String> = ["training.steps", "threads"]

    /// The first configuration key (dotted path) whose value differs, ignoring `ignoring`.
    public func firstDifference(from other: RunRecord, ignoring: Set<String> = RunRecord.resumableKeys) -> JSONDifference? {
        firstJSONDifference(configuration, other.configuration, ignoring: ignoring)
    }
}

/// What a run read, by content: a changed data file or tokenizer makes a resume refuse.
public struct RunInputs: Codable, Equatable, Sendable {
    /// The training text (the built-in corpus's cached copy when `dataFile` is nil).
    public var data: FileFingerprint
    public var validation: FileFingerprint?
    /// FNV-1a of the tokenizer's merges and format version (which fix every token id), hex.
    public var tokenizer: String

    public init(data: FileFingerprint, validation: FileFingerprint?, tokenizer: String) {
        self.data = data; self.validation = validation; self.tokenizer = tokenizer
    }

    /// The first input whose content differs from `stored`, as one sentence, or nil.
    public func difference(from stored: RunInputs) -> String? {
        if data.fnv1a != stored.data.fnv1a {
            return "the training data \(data.path) is not the text the run was trained on "
                + "(\(stored.data.bytes) bytes, FNV-1a \(stored.data.fnv1a), now \(data.bytes) bytes, \(data.fnv1a))"
        }
        switch (validation, stored.validation) {
        case (nil, nil): break
        case let (now?, then?) where now.fnv1a != then.fnv1a:
            return "the validation data \(now.path) is not the text the run was evaluated on (FNV-1a \(then.fnv1a), now \(now.fnv1a))"
        case (nil, _?), (_?, nil):
            return "the run was created \(stored.validation == nil ? "without" : "with") validation data"
        default: break
        }
        if tokenizer != stored.tokenizer {
            return "the tokenizer differs from the run's (FNV-1a \(stored.tokenizer), now \(tokenizer))"
        }
        return nil
    }
}

/// A file by absolute path, size and content hash.
public struct FileFingerprint: Codable, Equatable, Sendable {
    public var path: String
    public var bytes: Int
    /// FNV-1a (64-bit, `FNV1a.combineWords`) of the whole file, hex.
    public var fnv1a: String

    public init(path: String, bytes: Int, fnv1a: String) { self.path = path; self.bytes = bytes; self.fnv1a = fnv1a }

    /// Hashes the file at `url` (memory-mapped, one pass).
    /// - Throws: `RunError` naming the file when it cannot be read.
    public init(of url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw RunError("cannot read \(url.path): \(error.localizedDescription)")
        }
        var h = FNV1a()
        data.withUnsafeBytes { h.combineWords($0) }
        self.init(path: url.standardizedFileURL.path, bytes: data.count, fnv1a: FNV1a.hex(h.value))
    }
}

/// Where two encoded values first differ: a dotted key path and both values as JSON text.
public struct JSONDifference: Equatable, CustomStringConvertible, Sendable {
    public var key: String
    public var stored: String
    public var requested: String
    public var description: String { "\(key) is \(stored) in the run, \(requested) now" }
}

/// Compares the JSON encodings of two values key by key (sorted, depth first), so every field,
/// including fields added later, is compared; keys in `ignoring` (dotted paths) are skipped.
public func firstJSONDifference<T: Encodable>(_ stored: T, _ requested: T, ignoring: Set<String> = []) -> JSONDifference? {
    func object(_ v: T) -> Any {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let data = try? encoder.encode(v), let o = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            return NSNull()
        }
        return o
    }
    func text(_ v: Any?) -> String {
        guard let v, !(v is NSNull) else { return "absent" }
        if let data = try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]) {
            return String(decoding: data, as: UTF8.self)
        }
        return "\(v)"
    }
    func walk(_ a: Any?, _ b: Any?, _ path: String) -> JSONDifference? {
        if ignoring.contains(path) { return nil }
        if let x = a as? [String: Any], let y = b as? [String: Any] {
            for key in Set(x.keys).union(y.keys).sorted() {
                if let d = walk(x[key], y[key], path.isEmpty ? key : "\(path).\(key)") { return d }
            }
            return nil
        }
        let (ta, tb) = (text(a), text(b))
        return ta == tb ? nil : JSONDifference(key: path.isEmpty ? "<root>" : path, stored: ta, requested: tb)
    }
    return walk(object(stored), object(requested), "")
}
