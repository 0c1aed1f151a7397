import Tensor

/// The binary layout of a cached token stream, all little-endian:
/// magic `SGTK`, format version (UInt32), cache key (UInt64), token count (UInt64),
/// FNV-1a checksum of the token bytes (UInt64), then the tokens (Int32 each).
enum TokenCacheFile {
    private static let magic: [UInt8] = Array("SGTK".utf8)
    private static let version: UInt32 = 1
    private static let headerSize = 32

    static func encode(_ tokens: [Int32], key: UInt64) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(headerSize + 4 * tokens.count)
        bytes += magic
        append(version, to: &bytes)
        append(key, to: &bytes)
        append(UInt64(tokens.count), to: &bytes)
        append(UInt64(0), to: &bytes) // checksum, filled in below
        for token in tokens {
            append(token, to: &bytes)
        }
        let checksum = FNV1a.hash(bytes[headerSize...])
        withUnsafeBytes(of: checksum.littleEndian) { bytes.replaceSubrange(24..<32, with: $0) }
        return bytes
    }

    /// The tokens, or nil unless the header, key, size, checksum and token range all check out.
    static func decode(_ bytes: [UInt8], key: UInt64, vocabSize: Int) -> [Int32]? {
        guard bytes.count >= headerSize, Array(bytes[0..<4]) == magic,
              read(UInt32.self, bytes, at: 4) == version,
              read(UInt64.self, bytes, at: 8) == key else { return nil }
        let count = read(UInt64.self, bytes, at: 16)
        guard count <= UInt64(bytes.count), bytes.count == headerSize + 4 * Int(count),
              read(UInt64.self, bytes, at: 24) == FNV1a.hash(bytes[headerSize...]) else { return nil }
        let tokens = bytes.withUnsafeBytes { raw in
            (0..<Int(count)).map {
                Int32(littleEndian: raw.loadUnaligned(fromByteOffset: headerSize + 4 * $0, as: Int32.self))
            }
        }
        guard tokens.allSatisfy({ 0 <= $0 && Int($0) < vocabSize }) else { return nil }
        return tokens
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private static func read<T: FixedWidthInteger>(_ type: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
