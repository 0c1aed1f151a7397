/// A byte-level byte-pair-encoding tokenizer.
///
/// Tokens `0..<256` are the raw bytes, so every byte sequence — including invalid UTF-8 — encodes
/// and decodes back exactly. Token `256 + r` is the concatenation of the pair learned by merge `r`.
/// Text is first cut into chunks by a GPT-2-like pre-tokenizer (words with their leading space,
/// digit runs, punctuation runs, whitespace runs) and merges never cross chunk boundaries.
///
/// Train one with ``train(text:vocabSize:minPairCount:)``, persist it with ``save(to:)`` and
/// ``load(from:)``. The value is immutable and `Sendable`; encoding keeps its cache per call.
public struct BPETokenizer: Sendable, Equatable {
    /// One learned merge: the two tokens whose concatenation becomes a new token.
    public struct Merge: Hashable, Sendable {
        public var left: Int32
        public var right: Int32

        public init(left: Int32, right: Int32) {
            self.left = left
            self.right = right
        }

        /// Both ids in one word, used as a dictionary key (cheaper to hash than the struct).
        @inline(__always) var key: UInt64 { Merge.key(left, right) }

        @inline(__always) static func key(_ left: Int32, _ right: Int32) -> UInt64 {
            UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        }
    }

    /// Number of byte tokens at the start of every vocabulary.
    public static let byteTokenCount = 256

    /// The merges in the order they were learned; merge `r` creates token `256 + r`.
    public let merges: [Merge]

    /// Merge key → rank, for encoding.
    let ranks: [UInt64: Int32]

    /// The bytes of every token, for decoding.
    let tokenBytes: [[UInt8]]

    /// Number of tokens: 256 byte tokens plus one per merge.
    public var vocabSize: Int { Self.byteTokenCount + merges.count }

    /// A tokenizer from merges in learning order. Each merge may only use byte tokens and the
    /// tokens of earlier merges (`left, right < 256 + r` for merge `r`).
    public init(merges: [Merge]) {
        var ranks = [UInt64: Int32](minimumCapacity: merges.count)
        var tokenBytes = (0..<Self.byteTokenCount).map { [UInt8(truncatingIfNeeded: $0)] }
        tokenBytes.reserveCapacity(Self.byteTokenCount + merges.count)
        for (rank, merge) in merges.enumerated() {
            let limit = Self.byteTokenCount + rank
            precondition(0 <= merge.left && merge.left < limit && 0 <= merge.right && merge.right < limit,
                         "BPETokenizer: merge \(rank) (\(merge.left), \(merge.right)) uses a token not yet defined (< \(limit))")
            // A repeated pair keeps its first (lowest) rank: the later copy could never apply.
            if ranks[merge.key] == nil { ranks[merge.key] = Int32(rank) }
            tokenBytes.append(tokenBytes[Int(merge.left)] + tokenBytes[Int(merge.right)])
        }
        self.merges = merges
        self.ranks = ranks
        self.tokenBytes = tokenBytes
    }

    public static func == (a: BPETokenizer, b: BPETokenizer) -> Bool { a.merges == b.merges }

    // MARK: Decoding

    /// The bytes that `ids` stand for. Every id must be in `0..<vocabSize`.
    public func decodeBytes(_ ids: [Int32]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            precondition(id >= 0 && Int(id) < tokenBytes.count,
                         "BPETokenizer.decode: token id \(id) outside the vocabulary 0..<\(tokenBytes.count)")
            bytes.append(contentsOf: tokenBytes[Int(id)])
        }
        return bytes
    }

    /// The text that `ids` stand for; invalid UTF-8 (e.g. a sequence cut inside a character)
    /// becomes U+FFFD.
    public func decode(_ ids: [Int32]) -> String {
        String(decoding: decodeBytes(ids), as: UTF8.self)
    }
}
