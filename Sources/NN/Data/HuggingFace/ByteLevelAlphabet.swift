/// GPT-2's byte-to-Unicode table, used by the `ByteLevel` pre-tokenizer and decoder of Hugging
/// Face `tokenizers`: every byte becomes one printable character, so byte-level tokens can be
/// written as JSON strings.
///
/// The printable bytes `!`…`~`, `¡`…`¬` and `®`…`ÿ` stand for themselves; the other 68 bytes
/// (controls, space, DEL, NBSP, soft hyphen) take U+0100, U+0101, … in byte order, so space is
/// `Ġ` (U+0120) and newline `Ċ` (U+010A).
enum ByteLevelAlphabet {
    /// The character of each byte.
    static let scalars: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if isPrintable(UInt8(b)) {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte of each character of the table.
    static let bytes: [Unicode.Scalar: UInt8] = {
        var map = [Unicode.Scalar: UInt8]()
        for (b, s) in scalars.enumerated() { map[s] = UInt8(b) }
        return map
    }()

    private static func isPrintable(_ b: UInt8) -> Bool {
        (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
    }

    /// The token string of some bytes.
    static func string(_ bytes: [UInt8]) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(scalars[Int(b)]) }
        return String(s)
    }

    /// The bytes of a token string, or nil if a character is outside the table.
    static func bytes(of token: String) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            guard let b = bytes[s] else { return nil }
            out.append(b)
        }
        return out
    }
}
