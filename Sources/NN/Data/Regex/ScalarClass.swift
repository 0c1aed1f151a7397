/// A set of Unicode scalars as a regex character class: ranges, Unicode general categories and
/// the Oniguruma shorthands (`\s`, `\d`, `\w`) that Hugging Face `tokenizers` patterns use, with
/// a 128-bit table so that ASCII (most of the input) is one lookup.
struct ScalarClass: Sendable, Equatable {
    /// One member of a class; `negated` items match what the item does not.
    enum Item: Sendable, Equatable {
        case range(UInt32, UInt32)
        /// General categories as a bit set over `ScalarClass.categoryIndex`.
        case categories(UInt32, negated: Bool)
        /// Oniguruma's `\s` for Unicode: the White_Space property.
        case whitespace(negated: Bool)
        /// Oniguruma's `\w`: letters, marks, decimal digits and connector punctuation.
        case word(negated: Bool)
    }

    private(set) var items: [Item]
    private(set) var negated: Bool
    private var asciiLow: UInt64 = 0
    private var asciiHigh: UInt64 = 0

    init(_ items: [Item], negated: Bool = false) {
        self.items = items
        self.negated = negated
        for c in 0..<128 {
            if slowContains(Unicode.Scalar(UInt8(c))) {
                if c < 64 { asciiLow |= 1 << UInt64(c) } else { asciiHigh |= 1 << UInt64(c - 64) }
            }
        }
    }

    @inline(__always)
    func contains(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v < 64 { return asciiLow >> UInt64(v) & 1 == 1 }
        if v < 128 { return asciiHigh >> UInt64(v - 64) & 1 == 1 }
        return slowContains(c)
    }

    private func slowContains(_ c: Unicode.Scalar) -> Bool {
        var found = false
        for item in items where Self.matches(item, c) {
            found = true
            break
        }
        return found != negated
    }

    private static func matches(_ item: Item, _ c: Unicode.Scalar) -> Bool {
        switch item {
        case let .range(lo, hi):
            return lo <= c.value && c.value <= hi
        case let .categories(mask, negated):
            return (mask >> categoryIndex(c.properties.generalCategory) & 1 == 1) != negated
        case let .whitespace(negated):
            return c.properties.isWhitespace != negated
        case let .word(negated):
            let bit = UInt32(1) << categoryIndex(c.properties.generalCategory)
            return (bit & wordCategories != 0) != negated
        }
    }

    // MARK: General categories

    /// Bit position of each general category (the order of `categoryNames`).
    static func categoryIndex(_ category: Unicode.GeneralCategory) -> UInt32 {
        switch category {
        case .uppercaseLetter: return 0
        case .lowercaseLetter: return 1
        case .titlecaseLetter: return 2
        case .modifierLetter: return 3
        case .otherLetter: return 4
        case .nonspacingMark: return 5
        case .spacingMark: return 6
        case .enclosingMark: return 7
        case .decimalNumber: return 8
        case .letterNumber: return 9
        case .otherNumber: return 10
        case .connectorPunctuation: return 11
        case .dashPunctuation: return 12
        case .openPunctuation: return 13
        case .closePunctuation: return 14
        case .initialPunctuation: return 15
        case .finalPunctuation: return 16
        case .otherPunctuation: return 17
        case .mathSymbol: return 18
        case .currencySymbol: return 19
        case .modifierSymbol: return 20
        case .otherSymbol: return 21
        case .spaceSeparator: return 22
        case .lineSeparator: return 23
        case .paragraphSeparator: return 24
        case .control: return 25
        case .format: return 26
        case .surrogate: return 27
        case .privateUse: return 28
        case .unassigned: return 29
        @unknown default: return 29
        }
    }

    /// Two-letter category names in bit order.
    private static let categoryNames = ["Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No",
                                        "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So",
                                        "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"]

    private static let wordCategories: UInt32 = 0b11111 | 0b111 << 5 | 1 << 8 | 1 << 11

    /// The category mask of a `\p{Name}` property (one- or two-letter category, long names of the
    /// major classes), or nil if the name is not a general category.
    static func categoryMask(named name: String) -> UInt32? {
        let aliases = ["Letter": "L", "Mark": "M", "Number": "N", "Punctuation": "P", "Symbol": "S",
                       "Separator": "Z", "Other": "C", "L&": "LC"]
        let short = aliases[name] ?? name
        if short == "LC" { return 0b111 }
        var mask: UInt32 = 0
        for (bit, category) in categoryNames.enumerated()
        where category == short || (short.count == 1 && category.hasPrefix(short)) {
            mask |= 1 << UInt32(bit)
        }
        return mask == 0 ? nil : mask
    }

    /// `\d`: decimal digits.
    static let decimalDigitMask: UInt32 = 1 << 8
}
