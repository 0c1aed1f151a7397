import Tensor

/// Whether a dotted module path matches a glob pattern: `*` matches any run of characters,
/// dots included (`layers.*.mlp.*` matches `layers.0.mlp.gate` and `layers.10.mlp.experts.3.down`),
/// `?` matches one character, everything else matches itself. The whole path must match.
public func globMatch(_ pattern: String, _ path: String) -> Bool {
    let p = Array(pattern.utf8), s = Array(path.utf8)
    var (i, j, star, mark) = (0, 0, -1, 0)
    // Greedy matching with one backtrack point (the last `*`): linear for the patterns used here.
    while j < s.count {
        if i < p.count && (p[i] == UInt8(ascii: "?") || p[i] == s[j]) { i += 1; j += 1 }
        else if i < p.count && p[i] == UInt8(ascii: "*") { star = i; mark = j; i += 1 }
        else if star >= 0 { i = star + 1; mark += 1; j = mark }
        else { return false }
    }
    while i < p.count && p[i] == UInt8(ascii: "*") { i += 1 }
    return i == p.count
}

/// The RNG stream of the estimator at `path`: 64-bit FNV-1a of the path's UTF-8 bytes, so every
/// layer draws independently and the same layer draws the same in every run.
public func estimatorStream(forPath path: String) -> UInt64 { FNV1a.hash(path) }
