import ArgumentParser
import NN

/// One configuration of `llama-pretrain compare`: a name and the run it trains.
struct ComparePlan {
    var name: String
    var configuration: RunConfiguration

    /// The plans of one `--runs` entry. Two forms:
    /// - `SPEC[@OPTIMIZER]`: an estimator spec for every transformer layer (or a full
    ///   `pattern=spec; ...` assignment), optionally pinned to an optimizer; without `@` the entry
    ///   runs once per `optimizers` entry (default: the common `--optimizer`).
    /// - `NAME: FLAGS`: the common flags with `FLAGS` (shell-quoted, see `CompareOverrides`) on top,
    ///   e.g. `lean: --estimators 'default=exact; layers.*=gradlite(rank:64)' --activations 'default=int8'`.
    static func plans(entry: String, base: RunFlags, shared: SharedFlags, optimizers: [String]) throws -> [ComparePlan] {
        let text = entry.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { throw RunError("--runs: an entry is empty") }
        if let colon = text.firstIndex(of: ":"), text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces).hasPrefix("--") {
            let name = text[..<colon].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { throw RunError("--runs: entry '\(text)' has no name before ':'") }
            let tokens = try shellWords(String(text[text.index(after: colon)...]))
            let overrides: CompareOverrides
            do { overrides = try CompareOverrides.parse(tokens) } catch {
                throw RunError("--runs: entry '\(name)': \(CompareOverrides.message(for: error))")
            }
            return [ComparePlan(name: name, configuration: overrides.applied(to: base.configuration(shared)))]
        }
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard !parts[0].isEmpty, parts.count == 1 || !parts[1].isEmpty else {
            throw RunError("--runs: '\(text)' is not an estimator spec optionally followed by @OPTIMIZER (e.g. 'haar(rank:64)' or 'exact@galore(rank:64)') nor 'NAME: FLAGS'")
        }
        let estimators = parts[0].contains("=") ? parts[0] : "default=exact; layers.*=\(parts[0])"
        let chosen = parts.count == 2 ? [parts[1]] : (optimizers.isEmpty ? [base.optimizer ?? "adamw"] : optimizers)
        return chosen.map { o in
            ComparePlan(name: parts.count == 2 || optimizers.count > 1 ? "\(parts[0]) @ \(o)" : parts[0],
                        configuration: base.configuration(shared, estimators: estimators, optimizer: o))
        }
    }
}

/// The flags a `NAME: FLAGS` entry of `compare --runs` may set on top of the common ones; those
/// it leaves out keep the common value.
struct CompareOverrides: ParsableArguments {
    @Option var estimators: String?
    @Option var activations: String?
    @Option var optimizer: String?
    @Option var lr: Float?
    @Option var weightDecay: Float?
    @Option var clip: Float?
    @Option var gradAccum: Int?
    @Option var moe: String?
    @Flag var checkpointBlocks = false

    func applied(to base: RunConfiguration) -> RunConfiguration {
        var c = base
        if let estimators { c.estimators = estimators }
        if let activations { c.activations = activations }
        if let optimizer { c.optimizer = optimizer }
        if let lr { c.training.learningRate = lr }
        if let weightDecay { c.training.weightDecay = weightDecay }
        if let clip { c.training.clip = clip }
        if let gradAccum { c.training.gradAccum = gradAccum }
        if let moe { c.moe = moe }
        if checkpointBlocks { c.checkpointBlocks = true }
        return c
    }
}

/// Splits `text` into words as a POSIX shell would for plain words, '…' and "…" quotes and `\` escapes.
func shellWords(_ text: String) throws -> [String] {
    var words: [String] = [], current = "", inWord = false
    var quote: Character? = nil, escaped = false
    for c in text {
        if escaped { current.append(c); escaped = false; continue }
        if let q = quote {
            if c == q { quote = nil } else if c == "\\" && q == "\"" { escaped = true } else { current.append(c) }
            continue
        }
        switch c {
        case "'", "\"": quote = c; inWord = true
        case "\\": escaped = true; inWord = true
        case " ", "\t", "\n":
            if inWord { words.append(current); current = ""; inWord = false }
        default: current.append(c); inWord = true
        }
    }
    guard quote == nil, !escaped else { throw RunError("--runs: unterminated quote or escape in '\(text)'") }
    if inWord { words.append(current) }
    return words
}
