import Tensor
import Foundation

extension BPETokenizer {
    /// Version of the saved format and of the pre-tokenizer rules: files and token caches made
    /// under another version are rejected and rebuilt, never silently misread.
    static let formatVersion = 1

    private static let formatName = "sketchgrad-bpe"

    /// The JSON layout: `{"format", "version", "vocabSize", "merges": [[left, right], ...]}`.
    private struct File: Codable {
        var format: String
        var version: Int
        var vocabSize: Int
        var merges: [[Int32]]
    }

    /// Writes the tokenizer as JSON (atomically).
    public func save(to url: URL) throws {
        let file = File(format: Self.formatName, version: Self.formatVersion, vocabSize: vocabSize,
                        merges: merges.map { [$0.left, $0.right] })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do {
            data = try encoder.encode(file)
        } catch {
            throw DataError.unwritable(path: url.path, reason: "cannot encode the tokenizer: \(error)")
        }
        try DataFiles.write([UInt8](data), to: url)
    }

    /// Reads a tokenizer written by ``save(to:)``.
    /// - Throws: `DataError` if the file is missing, unreadable, not such JSON, of another version,
    ///   or inconsistent (a merge using an undefined token, a wrong vocabulary size).
    public static func load(from url: URL) throws -> BPETokenizer {
        let path = url.path
        let bytes = try DataFiles.read(url)
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw DataError.corrupt(path: path, reason: "not a tokenizer file: \(summary(of: error))")
        } catch {
            throw DataError.corrupt(path: path, reason: "not a tokenizer file")
        }
        guard file.format == formatName else {
            throw DataError.corrupt(path: path, reason: "format is \"\(file.format)\", expected \"\(formatName)\"")
        }
        guard file.version == formatVersion else {
            throw DataError.corrupt(path: path, reason: "version \(file.version) is not supported (expected \(formatVersion))")
        }
        var merges = [Merge]()
        merges.reserveCapacity(file.merges.count)
        for (rank, pair) in file.merges.enumerated() {
            let limit = Int32(byteTokenCount + rank)
            guard pair.count == 2, pair.allSatisfy({ 0 <= $0 && $0 < limit }) else {
                throw DataError.corrupt(path: path, reason: "merge \(rank) \(pair) is not two token ids below \(limit)")
            }
            merges.append(Merge(left: pair[0], right: pair[1]))
        }
        guard file.vocabSize == byteTokenCount + merges.count else {
            throw DataError.corrupt(path: path, reason: "vocabSize \(file.vocabSize) does not match "
                                    + "\(byteTokenCount) bytes + \(merges.count) merges")
        }
        return BPETokenizer(merges: merges)
    }

    /// A one-line account of a JSON decoding failure (the full `DecodingError` text spans lines).
    private static func summary(of error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return keys.isEmpty ? "top level" : keys.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, _): return "missing field \"\(key.stringValue)\""
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "wrong type at \(path(context))"
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "invalid JSON" : "bad value at \(path(context))"
        @unknown default: return "invalid JSON"
        }
    }

    /// A stable fingerprint of the merges and format version, part of every token-cache key.
    var fingerprint: UInt64 {
        var hash = FNV1a()
        hash.combine(UInt64(Self.formatVersion))
        for merge in merges {
            hash.combine(merge.key)
        }
        return hash.value
    }
}
