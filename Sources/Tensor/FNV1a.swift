/// FNV-1a, 64 bits: a fast fingerprint, stable across runs and platforms, for cache keys and RNG
/// stream keys, content hashes of data files and checkpoint checksums. Not cryptographic: it only
/// has to tell different texts, paths and tokenizers apart and notice a corrupted file.
public struct FNV1a: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func combine(_ buffer: UnsafeRawBufferPointer) {
        var h = value
        for byte in buffer {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01b3
        }
        value = h
    }

    /// The same xor-multiply step on the buffer's little-endian 64-bit words, then on its last
    /// bytes one by one: about 8× faster than `combine`, for checksums of large buffers (a
    /// checkpoint's tensors, a data file). Not equal to `combine` of the same bytes; a reader must
    /// call it with the same buffer boundaries as the writer.
    public mutating func combineWords(_ buffer: UnsafeRawBufferPointer) {
        var h = value
        let words = buffer.count / 8
        if let base = buffer.baseAddress {
            for i in 0..<words {
                h ^= UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                h &*= 0x0000_0100_0000_01b3
            }
        }
        value = h
        combine(UnsafeRawBufferPointer(rebasing: buffer[(8 * words)...]))
    }

    /// Contiguous collections (arrays, `Data`, slices) go straight to the raw-buffer loop.
    public mutating func combine<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if bytes.withContiguousStorageIfAvailable({ combine(UnsafeRawBufferPointer($0)) }) != nil { return }
        Array(bytes).withUnsafeBytes { combine($0) }
    }

    /// The eight little-endian bytes of `word`.
    public mutating func combine(_ word: UInt64) {
        withUnsafeBytes(of: word.littleEndian) { combine($0) }
    }

    public static func hash<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var h = FNV1a()
        h.combine(bytes)
        return h.value
    }

    /// The hash of a string's UTF-8 bytes.
    public static func hash(_ text: String) -> UInt64 { hash(text.utf8) }

    /// `value` as 16 hexadecimal digits.
    public static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
