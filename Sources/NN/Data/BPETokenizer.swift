/// A byte-level byte-pair-encoding tokenizer, Sketchgrad's own or one read from a Hugging Face
/// `tokenizer.json` (GPT-2, Qwen and LLaMA-3 style).
///
/// Every byte has a token, so every byte sequence — including invalid UTF-8 — encodes and decodes
/// back exactly. Text is first cut into chunks that merges never cross: by Sketchgrad's own
/// pre-tokenizer (``PreTokenizer``; words with their leading space, digit runs, punctuation runs,
/// whitespace runs) or by the regex pipeline of an imported file. Added tokens (`<|endoftext|>`)
/// are cut out of the text first, as Hugging Face does.
///
/// In a tokenizer that Sketchgrad trains, tokens `0..<256` are the raw bytes, each merge creates
/// the next id (or reuses the id of a token with the same bytes), and the special tokens follow.
/// Train one with ``train(text:vocabSize:minPairCount:specialTokens:)``, write it as a Hugging Face
/// `tokenizer.json` with ``save(to:)`` and read any supported one with ``load(from:)``. The value
/// is immutable and `Sendable`; encoding keeps its cache per call.
public struct BPETokenizer: Sendable, Equatable {
    /// One merge: the two tokens whose concatenation becomes `result`.
    public struct Merge: Hashable, Sendable {
        public var left: Int32
        public var right: Int32
        public var result: Int32

        public init(left: Int32, right: Int32, result: Int32) {
            self.left = left
            self.right = right
            self.result = result
        }

        /// Both ids in one word, used as a dictionary key (cheaper to hash than the struct).
        @inline(__always) var key: UInt64 { Merge.key(left, right) }

        @inline(__always) static func key(_ left: Int32, _ right: Int32) -> UInt64 {
            UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        }
    }

    /// A token matched in the raw text before pre-tokenization (Hugging Face's `added_tokens`).
    public struct AddedToken: Hashable, Sendable {
        public var id: Int32
        public var content: String
        /// Special tokens (`<|endoftext|>`) are skipped by decoders that skip special tokens.
        public var special: Bool
        /// Matched in the normalized text rather than the raw text.
        public var normalized: Bool
        /// Also absorbs the whitespace before (`lstrip`) or after (`rstrip`) it.
        public var lstrip: Bool
        public var rstrip: Bool
        /// Only matched when not inside a word.
        public var singleWord: Bool

        public init(id: Int32, content: String, special: Bool = true, normalized: Bool = false,
                    lstrip: Bool = false, rstrip: Bool = false, singleWord: Bool = false) {
            self.id = id
            self.content = content
            self.special = special
            self.normalized = normalized
            self.lstrip = lstrip
            self.rstrip = rstrip
            self.singleWord = singleWord
        }
    }

    /// A merge's priority and the token it creates, for encoding.
    struct MergeEntry: Sendable {
        var rank: Int32
        var result: Int32
    }

    /// Number of byte tokens in every vocabulary.
    public static let byteTokenCount = 256

    /// The end-of-text token of the tokenizers Sketchgrad trains, appended to every document.
    public static let endOfText = "<|endoftext|>"

    /// The merges in priority order.
    public let merges: [Merge]
    /// Tokens cut out of the text before pre-tokenization, in id order.
    public let addedTokens: [AddedToken]
    /// Appended to every document (and to every instruction response); nil if the tokenizer has none.
    public let endOfSequence: Int32?
    /// Put before every document: what the file's post-processor adds in front of a sequence
    /// (LLaMA-3's `<|begin_of_text|>`); usually empty.
    public let documentPrefix: [Int32]

    /// How text becomes chunks.
    let pipeline: TextPipeline
    /// The token of each byte value.
    let byteTokens: [Int32]
    /// Merge key → rank and result.
    let mergeTable: [UInt64: MergeEntry]
    /// The bytes of every token by id (an added token's UTF-8 content; empty for an unused id).
    let tokenBytes: [[UInt8]]
    /// With `ignore_merges` (LLaMA-3): a chunk that is itself a token is not split.
    let wholeChunks: [[UInt8]: Int32]?

    /// Number of token ids: one more than the largest.
    public var vocabSize: Int { tokenBytes.count }

    /// A Sketchgrad tokenizer: byte tokens `0..<256`, then `merges` in order (each creating the next
    /// id or reusing the token with the same bytes), then `specialTokens`, the first of which ends
    /// every document.
    public init(merges: [Merge], specialTokens: [String] = []) {
        var tokenBytes = (0..<Self.byteTokenCount).map { [UInt8(truncatingIfNeeded: $0)] }
        for (rank, merge) in merges.enumerated() {
            let limit = tokenBytes.count
            precondition(0 <= merge.left && Int(merge.left) < limit && 0 <= merge.right && Int(merge.right) < limit,
                         "BPETokenizer: merge \(rank) (\(merge.left), \(merge.right)) uses a token not yet defined (< \(limit))")
            let bytes = tokenBytes[Int(merge.left)] + tokenBytes[Int(merge.right)]
            if Int(merge.result) == limit {
                tokenBytes.append(bytes)
            } else {
                precondition(0 <= merge.result && Int(merge.result) < limit && tokenBytes[Int(merge.result)] == bytes,
                             "BPETokenizer: merge \(rank) creates \(merge.result), neither the next id \(limit) nor a token with its bytes")
            }
        }
        let added = specialTokens.enumerated().map { AddedToken(id: Int32(tokenBytes.count + $0.offset), content: $0.element) }
        tokenBytes += specialTokens.map { Array($0.utf8) }
        self.init(byteTokens: (0..<Int32(Self.byteTokenCount)).map { $0 }, merges: merges, tokenBytes: tokenBytes,
                  addedTokens: added, pipeline: .native, ignoreMerges: false,
                  endOfSequence: added.first?.id, documentPrefix: [])
    }

    /// Any byte-level BPE. The caller has checked the ids: `byteTokens` and the merges' ids index
    /// `tokenBytes`, and added tokens' ids hold their content.
    init(byteTokens: [Int32], merges: [Merge], tokenBytes: [[UInt8]], addedTokens: [AddedToken],
         pipeline: TextPipeline, ignoreMerges: Bool, endOfSequence: Int32?, documentPrefix: [Int32]) {
        var table = [UInt64: MergeEntry](minimumCapacity: merges.count)
        // A repeated pair takes its last rank, as in Hugging Face's merge map.
        for (rank, merge) in merges.enumerated() {
            table[merge.key] = MergeEntry(rank: Int32(rank), result: merge.result)
        }
        self.byteTokens = byteTokens
        self.merges = merges
        self.mergeTable = table
        self.tokenBytes = tokenBytes
        self.addedTokens = addedTokens.sorted { $0.id < $1.id }
        self.pipeline = pipeline
        self.endOfSequence = endOfSequence
        self.documentPrefix = documentPrefix
        if ignoreMerges {
            var whole = [[UInt8]: Int32]()
            let added = Set(addedTokens.map(\.id))
            for (id, bytes) in tokenBytes.enumerated() where !bytes.isEmpty && !added.contains(Int32(id)) {
                whole[bytes] = whole[bytes] ?? Int32(id)
            }
            wholeChunks = whole
        } else {
            wholeChunks = nil
        }
    }

    public static func == (a: BPETokenizer, b: BPETokenizer) -> Bool {
        a.merges == b.merges && a.tokenBytes == b.tokenBytes && a.byteTokens == b.byteTokens
            && a.addedTokens == b.addedTokens && a.pipeline == b.pipeline && (a.wholeChunks == nil) == (b.wholeChunks == nil)
            && a.endOfSequence == b.endOfSequence && a.documentPrefix == b.documentPrefix
    }

    /// The id of an added token or a vocabulary token with exactly these bytes.
    public func id(of token: String) -> Int32? {
        if let added = addedTokens.first(where: { $0.content == token }) { return added.id }
        let bytes = Array(token.utf8)
        return tokenBytes.firstIndex(of: bytes).map { Int32($0) }
    }

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
