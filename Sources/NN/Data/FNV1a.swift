/// FNV-1a, 64 bits: a fast fingerprint, stable across runs and platforms, for cache keys.
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
