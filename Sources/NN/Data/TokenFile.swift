import Foundation

/// Token files as nanoGPT and llm.c write them: token ids as little-endian unsigned integers, no
/// header. `name.u32.bin` holds 32-bit ids, any other `name.bin` 16-bit ids.
public enum TokenFile {
    /// Whether `path` names a token file (by extension) rather than text.
    public static func isTokenFile(_ path: String) -> Bool { path.hasSuffix(".bin") }

    /// Bytes per id: 4 for `.u32.bin`, 2 for `.bin`.
    public static func width(of path: String) -> Int { path.hasSuffix(".u32.bin") ? 4 : 2 }

    /// The ids of a token file, each checked against the vocabulary.
    /// - Throws: `DataError` naming the file: missing or empty, a size that is not a multiple of the
    ///   id width, or an id ≥ `vocabSize` (with its position).
    public static func read(_ url: URL, vocabSize: Int) throws -> [Int32] {
        let bytes = try DataFiles.read(url)
        let width = width(of: url.path)
        guard bytes.count % width == 0 else {
            throw DataError.corrupt(path: url.path, reason: "\(bytes.count) bytes is not a multiple of \(width) "
                                    + "(\(width == 4 ? "uint32, from the .u32.bin name" : "uint16; name uint32 files *.u32.bin"))")
        }
        let count = bytes.count / width
        var ids = [Int32](repeating: 0, count: count)
        var bad: (index: Int, id: UInt32)?
        bytes.withUnsafeBytes { raw in
            for i in 0..<count {
                let id = width == 4 ? UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                                    : UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                if id >= UInt32(vocabSize) {
                    bad = (i, id)
                    break
                }
                ids[i] = Int32(id)
            }
        }
        if let bad {
            throw DataError.corrupt(path: url.path, reason: "token \(bad.index) is \(bad.id), outside the model's vocabulary of \(vocabSize)")
        }
        return ids
    }
}
