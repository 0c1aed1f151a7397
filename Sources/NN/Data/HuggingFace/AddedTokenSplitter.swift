/// Cuts added tokens out of a text the way Hugging Face's `AddedVocabulary` does: leftmost-longest
/// matches, skipped when `single_word` and inside a word, widened over neighbouring whitespace with
/// `lstrip` / `rstrip`. The pieces between matches go on to normalization and pre-tokenization.
struct AddedTokenSplitter<Element: Hashable> {
    private struct Pattern {
        var content: [Element]
        var token: BPETokenizer.AddedToken
    }

    /// Patterns by first element, longest first.
    private var byFirst: [Element: [Pattern]] = [:]

    var isEmpty: Bool { byFirst.isEmpty }

    init(_ tokens: [(content: [Element], token: BPETokenizer.AddedToken)]) {
        for (content, token) in tokens where !content.isEmpty {
            byFirst[content[0], default: []].append(Pattern(content: content, token: token))
        }
        for key in byFirst.keys { byFirst[key]!.sort { $0.content.count > $1.content.count } }
    }

    /// Calls `gap` with each stretch of text between matches and `match` with each matched token,
    /// in text order. `adjust` may widen a match (strip) or reject it (nil).
    func split(_ text: [Element],
               adjust: (Range<Int>, BPETokenizer.AddedToken) -> Range<Int>? = { range, _ in range },
               gap: (ArraySlice<Element>) -> Void, match: (Int32) -> Void) {
        guard !byFirst.isEmpty else {
            if !text.isEmpty { gap(text[...]) }
            return
        }
        var consumed = 0, p = 0
        while p < text.count {
            guard let candidates = byFirst[text[p]],
                  let found = candidates.first(where: { p + $0.content.count <= text.count
                                                      && text[p..<(p + $0.content.count)].elementsEqual($0.content) }) else {
                p += 1
                continue
            }
            let end = p + found.content.count
            guard let range = adjust(p..<end, found.token) else {
                p = end
                continue
            }
            let start = max(range.lowerBound, consumed)
            if consumed < start { gap(text[consumed..<start]) }
            match(found.token.id)
            consumed = max(range.upperBound, end)
            p = consumed
        }
        if consumed < text.count { gap(text[consumed...]) }
    }
}

extension AddedTokenSplitter where Element == Unicode.Scalar {
    /// Hugging Face's `single_word`, `lstrip` and `rstrip` rules on scalars.
    static func adjust(_ text: [Unicode.Scalar]) -> (Range<Int>, BPETokenizer.AddedToken) -> Range<Int>? {
        { range, token in
            // A word character, as Rust's `char::is_alphanumeric`.
            func isWord(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || c.properties.numericType != nil }
            if token.singleWord {
                let before = range.lowerBound == 0 || !isWord(text[range.lowerBound - 1])
                let after = range.upperBound == text.count || !isWord(text[range.upperBound])
                guard before && after else { return nil }
            }
            var lower = range.lowerBound, upper = range.upperBound
            if token.lstrip { while lower > 0, text[lower - 1].properties.isWhitespace { lower -= 1 } }
            if token.rstrip { while upper < text.count, text[upper].properties.isWhitespace { upper += 1 } }
            return lower..<upper
        }
    }
}
