/// `--name value` flags of a benchmark subcommand; unknown or malformed flags are errors.
struct BenchFlags {
    private var values: [String: String] = [:]
    private var switches: Set<String> = []

    init(_ args: [String], known: Set<String>) throws {
        var i = 0
        while i < args.count {
            let a = args[i]
            guard a.hasPrefix("--"), known.contains(String(a.dropFirst(2))) else {
                throw BenchError("unknown argument '\(a)' (flags: \(known.sorted().map { "--\($0)" }.joined(separator: " ")))")
            }
            let name = String(a.dropFirst(2))
            if i + 1 < args.count, !args[i + 1].hasPrefix("--") { values[name] = args[i + 1]; i += 2 } else { switches.insert(name); i += 1 }
        }
    }

    func has(_ name: String) -> Bool { switches.contains(name) || values[name] != nil }
    func optional(_ name: String) -> String? { values[name] }
    func string(_ name: String, _ fallback: String) -> String { values[name] ?? fallback }

    func int(_ name: String, _ fallback: Int) throws -> Int {
        guard let v = values[name] else { return fallback }
        guard let n = Int(v), n >= 0 else { throw BenchError("--\(name) needs a non-negative integer, got '\(v)'") }
        return n
    }

    func float(_ name: String, _ fallback: Float) throws -> Float {
        guard let v = values[name] else { return fallback }
        guard let x = Float(v) else { throw BenchError("--\(name) needs a number, got '\(v)'") }
        return x
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
