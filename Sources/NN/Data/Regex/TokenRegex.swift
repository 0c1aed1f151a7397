/// A small backtracking regular-expression engine over Unicode scalars, for the pre-tokenizer
/// patterns of Hugging Face `tokenizers` files (which run them with Oniguruma).
///
/// It supports what those patterns use: literals, `.`, classes (`[...]`, `\s \S \d \D \w \W`,
/// `\p{L}`-style general categories), groups `( )`, `(?: )`, `(?i: )` (simple case folding),
/// lookahead `(?= )` and `(?! )`, alternation, and greedy or lazy `? * + {m,n}`. Matching follows
/// Oniguruma's leftmost, first-alternative-wins semantics. Anything else is a syntax error rather
/// than a silently different split.
struct TokenRegex: Sendable, Equatable {
    indirect enum Node: Sendable, Equatable {
        case scalar(Unicode.Scalar, caseInsensitive: Bool)
        case set(ScalarClass)
        /// `.`: any scalar but a newline.
        case any
        case sequence([Node])
        case alternation([Node])
        case repetition(Node, min: Int, max: Int?, lazy: Bool)
        case lookahead(Node, negated: Bool)
    }

    /// The pattern as written.
    let pattern: String
    let root: Node

    /// - Throws: `TokenRegex.SyntaxError` naming the position and the construct.
    init(_ pattern: String) throws {
        self.pattern = pattern
        var parser = Parser(pattern)
        root = try parser.parse()
    }

    static func == (a: TokenRegex, b: TokenRegex) -> Bool { a.pattern == b.pattern }

    /// Calls `body` with every non-overlapping match in `text` (ranges are indices of `text`),
    /// leftmost first (Oniguruma's `find_iter`): a search resumes at the end of the previous match,
    /// one scalar further after an empty match.
    func forEachMatch(in text: ArraySlice<Unicode.Scalar>, _ body: (Range<Int>) -> Void) {
        let matcher = Matcher(text: text)
        var start = text.startIndex
        while start <= text.endIndex {
            var found: Range<Int>?
            var s = start
            while s <= text.endIndex {
                if let end = matcher.match(root, at: s) {
                    found = s..<end
                    break
                }
                s += 1
            }
            guard let range = found else { return }
            body(range)
            start = range.isEmpty ? range.upperBound + 1 : range.upperBound
        }
    }

    func forEachMatch(in text: [Unicode.Scalar], _ body: (Range<Int>) -> Void) {
        forEachMatch(in: text[...], body)
    }

    /// The backtracking matcher: continuation-passing over the pattern tree, so alternation and
    /// repetition retry the rest of the pattern on failure without building a state machine.
    private struct Matcher {
        let text: ArraySlice<Unicode.Scalar>

        /// The end of the highest-priority match of `node` at `position`, or nil.
        func match(_ node: Node, at position: Int) -> Int? {
            var end: Int?
            _ = run(node, position) { e in
                end = e
                return true
            }
            return end
        }

        private func run(_ node: Node, _ i: Int, _ k: (Int) -> Bool) -> Bool {
            switch node {
            case .scalar, .set, .any:
                return i < text.endIndex && single(node, text[i]) && k(i + 1)
            case .sequence(let nodes):
                return sequence(nodes[...], i, k)
            case .alternation(let alternatives):
                for alternative in alternatives where run(alternative, i, k) { return true }
                return false
            case let .repetition(inner, min, max, lazy):
                switch inner {
                case .scalar, .set, .any:
                    return repeatSingle(inner, min, max, lazy, i, k)
                default:
                    return repeatGeneral(inner, min, max, lazy, count: 0, i, k)
                }
            case let .lookahead(inner, negated):
                let found = run(inner, i) { _ in true }
                return found != negated && k(i)
            }
        }

        private func sequence(_ nodes: ArraySlice<Node>, _ i: Int, _ k: (Int) -> Bool) -> Bool {
            guard let first = nodes.first else { return k(i) }
            let rest = nodes.dropFirst()
            return run(first, i) { j in sequence(rest, j, k) }
        }

        /// A quantified single-scalar node: scan the longest run once, then try the continuation
        /// from the longest (greedy) or shortest (lazy) allowed length.
        private func repeatSingle(_ node: Node, _ min: Int, _ max: Int?, _ lazy: Bool,
                                  _ i: Int, _ k: (Int) -> Bool) -> Bool {
            let limit = max.map { Swift.min(i + $0, text.endIndex) } ?? text.endIndex
            var end = i
            while end < limit, single(node, text[end]) { end += 1 }
            guard end - i >= min else { return false }
            if lazy {
                for j in (i + min)...end where k(j) { return true }
            } else {
                for j in stride(from: end, through: i + min, by: -1) where k(j) { return true }
            }
            return false
        }

        private func repeatGeneral(_ node: Node, _ min: Int, _ max: Int?, _ lazy: Bool, count: Int,
                                   _ i: Int, _ k: (Int) -> Bool) -> Bool {
            let canStop = count >= min
            let canGo = max.map { count < $0 } ?? true
            if lazy && canStop && k(i) { return true }
            // An iteration that consumes nothing would loop forever.
            if canGo && run(node, i, { j in j != i && repeatGeneral(node, min, max, lazy, count: count + 1, j, k) }) {
                return true
            }
            return !lazy && canStop && k(i)
        }

        @inline(__always)
        private func single(_ node: Node, _ c: Unicode.Scalar) -> Bool {
            switch node {
            case let .scalar(s, caseInsensitive):
                return c == s || (caseInsensitive && TokenRegex.fold(c) == TokenRegex.fold(s))
            case .set(let set):
                return set.contains(c)
            case .any:
                return c != "\n"
            default:
                return false
            }
        }
    }

    /// Simple case folding, enough for `(?i:'s|'t|...)`: a scalar whose uppercase and then
    /// lowercase are single scalars folds to that (so `ſ` → `s`, `K` (Kelvin) → `k`).
    static func fold(_ c: Unicode.Scalar) -> Unicode.Scalar {
        if c.isASCII {
            return ("A"..."Z").contains(c) ? Unicode.Scalar(c.value + 32)! : c
        }
        let upper = c.properties.uppercaseMapping.unicodeScalars
        guard upper.count == 1, let u = upper.first else { return c }
        let lower = u.properties.lowercaseMapping.unicodeScalars
        guard lower.count == 1, let l = lower.first else { return c }
        return l
    }
}
