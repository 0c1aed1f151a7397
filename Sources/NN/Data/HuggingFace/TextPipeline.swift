import Foundation

/// How a tokenizer cuts text into the chunks that BPE encodes, in the terms of a Hugging Face
/// `tokenizer.json`: Unicode normalizers, then pre-tokenizer steps, the last of which is
/// `ByteLevel` (each chunk's UTF-8 bytes become byte tokens).
///
/// ``native`` is exactly Sketchgrad's ``PreTokenizer`` written as a `Split` regex; a tokenizer with
/// it runs the byte-level scanner instead of the regex engine (the two agree on all valid UTF-8,
/// which the tests check, and the scanner also handles invalid UTF-8).
struct TextPipeline: Sendable, Equatable {
    enum Normalization: String, Sendable, Equatable {
        case nfc = "NFC", nfkc = "NFKC", nfd = "NFD", nfkd = "NFKD"

        func apply(_ text: String) -> String {
            switch self {
            case .nfc: return text.precomposedStringWithCanonicalMapping
            case .nfkc: return text.precomposedStringWithCompatibilityMapping
            case .nfd: return text.decomposedStringWithCanonicalMapping
            case .nfkd: return text.decomposedStringWithCompatibilityMapping
            }
        }
    }

    /// What a `Split` step keeps: the matches and the text between them (`Isolated`), or only the
    /// text between them (`Removed`).
    enum SplitBehavior: String, Sendable, Equatable {
        case isolated = "Isolated", removed = "Removed"
    }

    enum Step: Sendable, Equatable {
        case split(TokenRegex, SplitBehavior)
        /// `add_prefix_space` prepends a space to every piece that does not start with one;
        /// `use_regex` splits by GPT-2's pattern.
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    }

    var normalizers: [Normalization]
    var steps: [Step]

    /// GPT-2's pattern, which `ByteLevel` applies when `use_regex` is true.
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    // swiftlint:disable:next force_try
    static let gpt2Regex = try! TokenRegex(gpt2Pattern)

    // swiftlint:disable:next force_try
    static let native = TextPipeline(normalizers: [], steps: [.split(try! TokenRegex(PreTokenizer.pattern), .isolated),
                                                              .byteLevel(addPrefixSpace: false, useRegex: false)])

    var isNative: Bool { self == .native }

    /// The normalized text (unchanged without normalizers).
    func normalize(_ text: String) -> String {
        normalizers.reduce(text) { $1.apply($0) }
    }

    /// The chunks of (already normalized) text, as UTF-8 bytes, in order.
    func chunks(_ text: [Unicode.Scalar], _ body: ([UInt8]) -> Void) {
        var bytes: [UInt8] = []
        forEachPiece(text[...], step: 0) { piece in
            bytes.removeAll(keepingCapacity: true)
            for scalar in piece { UTF8.encode(scalar) { bytes.append($0) } }
            body(bytes)
        }
    }

    /// Runs steps `step...` on `piece`, depth first, so no list of pieces is ever built.
    private func forEachPiece(_ piece: ArraySlice<Unicode.Scalar>, step: Int, _ body: (ArraySlice<Unicode.Scalar>) -> Void) {
        guard step < steps.count else {
            if !piece.isEmpty { body(piece) }
            return
        }
        switch steps[step] {
        case let .split(regex, behavior):
            Self.split(piece, regex, keepMatches: behavior == .isolated) { forEachPiece($0, step: step + 1, body) }
        case let .byteLevel(addPrefixSpace, useRegex):
            let prefixed: ArraySlice<Unicode.Scalar> = addPrefixSpace && piece.first != " " ? (CollectionOfOne(" ") + piece)[...] : piece
            if useRegex {
                Self.split(prefixed, Self.gpt2Regex, keepMatches: true) { forEachPiece($0, step: step + 1, body) }
            } else {
                forEachPiece(prefixed, step: step + 1, body)
            }
        }
    }

    /// The matches of `regex` and the text between them, in order (empty pieces dropped).
    private static func split(_ text: ArraySlice<Unicode.Scalar>, _ regex: TokenRegex, keepMatches: Bool,
                              _ body: (ArraySlice<Unicode.Scalar>) -> Void) {
        var previous = text.startIndex
        regex.forEachMatch(in: text) { range in
            if previous < range.lowerBound { body(text[previous..<range.lowerBound]) }
            if keepMatches, !range.isEmpty { body(text[range]) }
            previous = range.upperBound
        }
        if previous < text.endIndex { body(text[previous...]) }
    }
}
