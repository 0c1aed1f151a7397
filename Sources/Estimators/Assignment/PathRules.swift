/// Whether `text` holds no rule (empty, or only spaces and `;`). The parsers read that as all
/// defaults; a command line refuses such a flag, which is a mistake rather than a request.
public func holdsNoPathRule(_ text: String) -> Bool {
    text.split(separator: ";").allSatisfy { String($0).trimmingSpaces.isEmpty }
}

/// The text form shared by per-path assignments (`--estimators`, `--activations`): rules
/// `pattern=value` separated by `;`, whitespace around tokens ignored, `default=value` for the
/// fallback. Returns the rules in order; `rule` and `value` name the kind of rule and of value
/// in error messages (`estimator`, `spec`).
/// - Throws: the error `fail(token, message)` makes, naming the offending rule.
public func parsePathRules(_ text: String, rule: String, value valueName: String,
                    fail: (_ token: String, _ message: String) -> Error) throws -> [(pattern: String, value: String)] {
    var out: [(String, String)] = []
    for raw in text.split(separator: ";").map({ String($0).trimmingSpaces }) where !raw.isEmpty {
        guard let eq = raw.firstIndex(of: "=") else {
            throw fail(raw, "\(rule) rule '\(raw)' has no '=' (expected pattern=\(valueName) or default=\(valueName))")
        }
        let pattern = String(raw[..<eq]).trimmingSpaces, value = String(raw[raw.index(after: eq)...]).trimmingSpaces
        guard !pattern.isEmpty else {
            throw fail(raw, "\(rule) rule '\(raw)' has an empty pattern (expected pattern=\(valueName) or default=\(valueName))")
        }
        out.append((pattern, value))
    }
    return out
}

/// Whether `pattern` matches `path` or one of its dotted prefixes (`layers.*.mlp` matches
/// `layers.0.mlp.gate`): a rule for a module applies to everything inside it.
public func globMatchesPathOrAncestor(_ pattern: String, _ path: String) -> Bool {
    if globMatch(pattern, path) { return true }
    var prefix = Substring(path)
    while let dot = prefix.lastIndex(of: ".") {
        prefix = prefix[..<dot]
        if globMatch(pattern, String(prefix)) { return true }
    }
    return false
}
