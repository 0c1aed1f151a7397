extension TokenRegex {
    /// A pattern outside the supported syntax, with the scalar offset where parsing stopped.
    struct SyntaxError: Error, CustomStringConvertible {
        let offset: Int
        let reason: String
        var description: String { "\(reason) at offset \(offset)" }
    }

    /// Recursive-descent parser: alternation → sequence → quantified atom.
    struct Parser {
        private let scalars: [Unicode.Scalar]
        private var i = 0

        init(_ pattern: String) { scalars = Array(pattern.unicodeScalars) }

        mutating func parse() throws -> Node {
            let node = try alternation(caseInsensitive: false)
            if i < scalars.count { throw error("unbalanced ')'") }
            return node
        }

        private func error(_ reason: String) -> SyntaxError { SyntaxError(offset: i, reason: reason) }

        private var peek: Unicode.Scalar? { i < scalars.count ? scalars[i] : nil }

        private mutating func next() throws -> Unicode.Scalar {
            guard i < scalars.count else { throw error("pattern ends early") }
            defer { i += 1 }
            return scalars[i]
        }

        private mutating func eat(_ s: String) -> Bool {
            let want = Array(s.unicodeScalars)
            guard i + want.count <= scalars.count, Array(scalars[i..<(i + want.count)]) == want else { return false }
            i += want.count
            return true
        }

        private mutating func alternation(caseInsensitive: Bool) throws -> Node {
            var alternatives = [try sequence(caseInsensitive: caseInsensitive)]
            while eat("|") { alternatives.append(try sequence(caseInsensitive: caseInsensitive)) }
            return alternatives.count == 1 ? alternatives[0] : .alternation(alternatives)
        }

        private mutating func sequence(caseInsensitive: Bool) throws -> Node {
            var nodes: [Node] = []
            while let c = peek, c != "|", c != ")" {
                nodes.append(try quantified(try atom(caseInsensitive: caseInsensitive)))
            }
            return nodes.count == 1 ? nodes[0] : .sequence(nodes)
        }

        private mutating func quantified(_ atom: Node) throws -> Node {
            var node = atom
            while let c = peek, "?*+{".unicodeScalars.contains(c) {
                let start = i
                let (min, max): (Int, Int?)
                switch try next() {
                case "?": (min, max) = (0, 1)
                case "*": (min, max) = (0, nil)
                case "+": (min, max) = (1, nil)
                default:
                    guard let bounds = try braces() else {
                        i = start
                        return node // a literal '{', handled by the caller as an atom
                    }
                    (min, max) = bounds
                }
                if case .lookahead = node { throw error("a quantified lookahead is not supported") }
                let lazy = eat("?")
                if peek == "+" { throw error("possessive quantifiers are not supported") }
                node = .repetition(node, min: min, max: max, lazy: lazy)
            }
            return node
        }

        /// `{m}`, `{m,}` or `{m,n}` after the `{`; nil (nothing consumed) if not a quantifier.
        private mutating func braces() throws -> (Int, Int?)? {
            let start = i
            func number() -> Int? {
                var digits = ""
                while let c = peek, ("0"..."9").contains(c) { digits.unicodeScalars.append(c); i += 1 }
                return Int(digits)
            }
            guard let min = number() else { i = start; return nil }
            var max: Int? = min
            if eat(",") { max = number() }
            guard eat("}") else { i = start; return nil }
            if let max, max < min { throw error("quantifier {\(min),\(max)} has max < min") }
            return (min, max)
        }

        private mutating func atom(caseInsensitive: Bool) throws -> Node {
            let c = try next()
            switch c {
            case "(":
                if eat("?:") { return try group(caseInsensitive: caseInsensitive) }
                if eat("?i:") { return try group(caseInsensitive: true) }
                if eat("?-i:") { return try group(caseInsensitive: false) }
                if eat("?=") { return .lookahead(try group(caseInsensitive: caseInsensitive), negated: false) }
                if eat("?!") { return .lookahead(try group(caseInsensitive: caseInsensitive), negated: true) }
                if peek == "?" { throw error("this group construct is not supported") }
                return try group(caseInsensitive: caseInsensitive)
            case "[":
                if caseInsensitive { throw error("character classes inside (?i: ) are not supported") }
                return .set(try characterClass())
            case ".":
                return .any
            case "\\":
                return try escape(inClass: false).node(caseInsensitive: caseInsensitive)
            case "^", "$":
                throw error("anchors are not supported")
            case "*", "+", "?":
                throw error("'\(c)' has nothing to repeat")
            default:
                return .scalar(c, caseInsensitive: caseInsensitive)
            }
        }

        private mutating func group(caseInsensitive: Bool) throws -> Node {
            let node = try alternation(caseInsensitive: caseInsensitive)
            guard eat(")") else { throw error("missing ')'") }
            return node
        }

        /// `[...]` after the `[`.
        private mutating func characterClass() throws -> ScalarClass {
            let negated = eat("^")
            var items: [ScalarClass.Item] = []
            var first = true
            while true {
                guard let c = peek else { throw error("missing ']'") }
                if c == "]" && !first { i += 1; break }
                first = false
                if c == "[" { throw error("nested classes are not supported") }
                if eat("&&") { throw error("class intersection is not supported") }
                i += 1
                let lower: Unicode.Scalar
                if c == "\\" {
                    switch try escape(inClass: true) {
                    case .scalar(let s): lower = s
                    case .items(let more): items += more; continue
                    }
                } else {
                    lower = c
                }
                // A range `a-z`, unless the '-' is the last character of the class.
                if peek == "-", i + 1 < scalars.count, scalars[i + 1] != "]" {
                    i += 1
                    var upper = try next()
                    if upper == "\\" {
                        guard case .scalar(let s) = try escape(inClass: true) else { throw error("a class cannot end a range") }
                        upper = s
                    }
                    guard lower.value <= upper.value else { throw error("range out of order") }
                    items.append(.range(lower.value, upper.value))
                } else {
                    items.append(.range(lower.value, lower.value))
                }
            }
            return ScalarClass(items, negated: negated)
        }

        private enum Escape {
            case scalar(Unicode.Scalar)
            case items([ScalarClass.Item])

            func node(caseInsensitive: Bool) -> Node {
                switch self {
                case .scalar(let s): return .scalar(s, caseInsensitive: caseInsensitive)
                case .items(let items): return .set(ScalarClass(items))
                }
            }
        }

        /// The escape after a `\`.
        private mutating func escape(inClass: Bool) throws -> Escape {
            let c = try next()
            switch c {
            case "s": return .items([.whitespace(negated: false)])
            case "S": return .items([.whitespace(negated: true)])
            case "d": return .items([.categories(ScalarClass.decimalDigitMask, negated: false)])
            case "D": return .items([.categories(ScalarClass.decimalDigitMask, negated: true)])
            case "w": return .items([.word(negated: false)])
            case "W": return .items([.word(negated: true)])
            case "p", "P": return .items([try property(negated: c == "P")])
            case "n": return .scalar("\n")
            case "r": return .scalar("\r")
            case "t": return .scalar("\t")
            case "f": return .scalar("\u{0C}")
            case "v": return .scalar("\u{0B}")
            case "a": return .scalar("\u{07}")
            case "e": return .scalar("\u{1B}")
            case "0": return .scalar("\u{0}")
            case "x":
                if eat("{") { return .scalar(try hexScalar(until: "}")) }
                return .scalar(try hexScalar(digits: 2))
            case "u":
                return .scalar(try hexScalar(digits: 4))
            default:
                if c.properties.isAlphabetic || ("0"..."9").contains(c) {
                    throw error("escape '\\\(c)' is not supported")
                }
                return .scalar(c)
            }
        }

        /// `{Name}`, `{^Name}` or a one-letter name after `\p` / `\P`.
        private mutating func property(negated: Bool) throws -> ScalarClass.Item {
            var name = ""
            var negate = negated
            if eat("{") {
                if eat("^") { negate.toggle() }
                while let c = peek, c != "}" { name.unicodeScalars.append(c); i += 1 }
                guard eat("}") else { throw error("missing '}' after \\p{") }
            } else {
                name.unicodeScalars.append(try next())
            }
            guard let mask = ScalarClass.categoryMask(named: name) else {
                throw error("Unicode property '\(name)' is not supported (general categories only)")
            }
            return .categories(mask, negated: negate)
        }

        private mutating func hexScalar(digits: Int) throws -> Unicode.Scalar {
            var hex = ""
            for _ in 0..<digits { hex.unicodeScalars.append(try next()) }
            guard let v = UInt32(hex, radix: 16), let s = Unicode.Scalar(v) else { throw error("bad hex escape '\(hex)'") }
            return s
        }

        private mutating func hexScalar(until end: Unicode.Scalar) throws -> Unicode.Scalar {
            var hex = ""
            while let c = peek, c != end { hex.unicodeScalars.append(c); i += 1 }
            guard eat(String(end)), let v = UInt32(hex, radix: 16), let s = Unicode.Scalar(v) else {
                throw error("bad hex escape '\(hex)'")
            }
            return s
        }
    }
}
