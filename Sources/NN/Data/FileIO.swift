import Foundation

/// Reads a whole file as bytes, mapping every failure to a one-line `DataError`.
func readFileBytes(_ url: URL, allowEmpty: Bool = false) throws -> [UInt8] {
    let path = url.path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw DataError.fileNotFound(path: path)
    }
    guard !isDirectory.boolValue else { throw DataError.notAFile(path: path) }
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw DataError.unreadable(path: path, reason: error.localizedDescription)
    }
    guard allowEmpty || !data.isEmpty else { throw DataError.emptyFile(path: path) }
    return [UInt8](data)
}

/// Writes `bytes` atomically (temporary file + rename), so a crash never leaves a half-written file
/// that a later run would mistake for a valid one.
func writeFileBytes(_ bytes: [UInt8], to url: URL) throws {
    do {
        try Data(bytes).write(to: url, options: .atomic)
    } catch {
        throw DataError.unreadable(path: url.path, reason: error.localizedDescription)
    }
}

/// FNV-1a, 64 bits: a fast, stable (across runs and platforms) fingerprint for cache keys.
/// Not cryptographic: it only has to tell different texts and tokenizers apart.
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func combine<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        var h = value
        for byte in bytes {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01b3
        }
        value = h
    }

    mutating func combine(_ word: UInt64) {
        withUnsafeBytes(of: word.littleEndian) { combine($0) }
    }

    static func hash<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var h = FNV1a()
        h.combine(bytes)
        return h.value
    }
}
