/// Splits bytes into the chunks that BPE merges never cross, in the spirit of GPT-2's pattern:
/// an English contraction suffix (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`), a run of letters,
/// digits or punctuation with at most one leading space, or a run of whitespace (which gives its
/// last space to the word that follows it).
///
/// Written by hand on bytes so that it needs no regex engine, handles invalid UTF-8, and is
/// deterministic. Every byte ≥ 0x80 counts as a letter: multi-byte UTF-8 characters (accents,
/// CJK, emoji) then stay inside one chunk instead of being cut between their bytes.
enum PreTokenizer {
    /// The same rules as an Oniguruma pattern over Unicode text (every non-ASCII character counts
    /// as a letter, whitespace is ASCII's): what a `tokenizer.json` gives Hugging Face's `Split`
    /// pre-tokenizer so that it cuts valid UTF-8 exactly like ``forEachChunk(in:_:)``.
    static let pattern = #"'(?:[stmd]|re|ve|ll)| ?[A-Za-z\x{80}-\x{10FFFF}]+| ?[0-9]+| ?[\x{0}-\x{8}\x{E}-\x{1F}!-/:-@\[-`{-\x{7F}]+|[\t-\r ]+(?![^\t-\r ])|[\t-\r ]+"#

    private enum ByteClass { case letter, digit, space, other }

    @inline(__always)
    private static func byteClass(_ b: UInt8) -> ByteClass {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), 0x80...0xFF:
            return .letter
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .digit
        case 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D:
            return .space
        default:
            return .other
        }
    }

    /// Length of the contraction suffix starting at `i` (which holds `'`), or 0 if there is none.
    @inline(__always)
    private static func contractionLength(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        let n = bytes.count
        guard i + 1 < n else { return 0 }
        switch bytes[i + 1] {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return 2
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            return i + 2 < n && bytes[i + 2] == UInt8(ascii: "e") ? 3 : 0
        case UInt8(ascii: "l"):
            return i + 2 < n && bytes[i + 2] == UInt8(ascii: "l") ? 3 : 0
        default:
            return 0
        }
    }

    /// Calls `body` with the range of each chunk, in order; the ranges tile `bytes` exactly.
    static func forEachChunk(in bytes: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let n = bytes.count
        var i = 0
        while i < n {
            let start = i
            if bytes[i] == UInt8(ascii: "'") {
                let length = contractionLength(bytes, at: i)
                if length > 0 {
                    body(i..<(i + length))
                    i += length
                    continue
                }
            }
            // A single space joins the non-space run that follows it (" word", " 42", " --").
            var runStart = i
            if bytes[i] == 0x20, i + 1 < n, byteClass(bytes[i + 1]) != .space {
                runStart = i + 1
            }
            let cls = byteClass(bytes[runStart])
            var end = runStart + 1
            while end < n, byteClass(bytes[end]) == cls { end += 1 }
            if cls == .space, end < n, end - start > 1 {
                // Leave the last whitespace byte for the next chunk, where a space becomes its prefix.
                end -= 1
            }
            body(start..<end)
            i = end
        }
    }
}
