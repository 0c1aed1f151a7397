import Foundation
import Tensor
import XCTest

/// Seeded random inputs for the fuzz tests, and the rules every case is held to.
///
/// CI runs each family for a few seconds with the default seed. A campaign runs more:
/// `SKETCHGRAD_FUZZ_SEED=7 SKETCHGRAD_FUZZ_SCALE=50 swift test ... --filter FuzzTests`; every
/// family prints one `fuzz <family>: N cases, M accepted` line, and a failure names the family,
/// the case number and the input, so `SKETCHGRAD_FUZZ_SEED` and the case reproduce it.
/// `SKETCHGRAD_FUZZ_TRACE=1` prints every input before it runs (to find an input that traps,
/// which ends the process before any report).
struct Fuzzer {
    var rng: RNG
    let family: String

    static var seed: UInt64 { UInt64(ProcessInfo.processInfo.environment["SKETCHGRAD_FUZZ_SEED"] ?? "") ?? 20_240_611 }
    static var scale: Int { max(1, Int(ProcessInfo.processInfo.environment["SKETCHGRAD_FUZZ_SCALE"] ?? "") ?? 1) }
    static var tracing: Bool { ProcessInfo.processInfo.environment["SKETCHGRAD_FUZZ_TRACE"] != nil }

    init(_ family: String) {
        self.family = family
        rng = RNG(seed: Fuzzer.seed, stream: FNV1a.hash(family))
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + rng.nextInt(below: range.upperBound - range.lowerBound + 1)
    }

    mutating func chance(_ p: Double) -> Bool { Double(rng.nextUniform()) < p }

    mutating func pick<T>(_ items: [T]) -> T { items[rng.nextInt(below: items.count)] }

    /// Integers users get wrong: boundaries, signs, overflow-sized, plus ordinary small ones.
    mutating func sizeText() -> String {
        pick(["0", "1", "2", "3", "4", "7", "8", "16", "-1", "-4", "64", "1000000", "4294967296", "9223372036854775807",
              "99999999999999999999", "1e3", "2.5", "", "x", "nan", "inf", " 8", "0x10", "+3", "08"])
    }

    /// Numbers users get wrong, as text.
    mutating func numberText() -> String {
        pick(["0", "1", "0.5", "1e-3", "-1", "-0.0", "1e30", "1e-45", "3.4e38", "1e999", "-1e999", "inf", "-inf",
              "nan", "NaN", "1e", ".", "", "0.999", "1.0", "2", "abc", "1_000"])
    }

    /// `text` with a few random edits: deleted, duplicated or replaced characters.
    mutating func mutate(_ text: String) -> String {
        var chars = Array(text)
        let noise: [Character] = ["(", ")", ",", ":", ";", "=", "*", " ", "@", "\"", "{", "}", "[", "]", "-", "0", "9", "é", "\u{0}", "\n"]
        for _ in 0..<int(1...3) {
            switch int(0...3) {
            case 0 where !chars.isEmpty: chars.remove(at: int(0...(chars.count - 1)))
            case 1 where !chars.isEmpty: let i = int(0...(chars.count - 1)); chars.insert(chars[i], at: i)
            case 2: chars.insert(pick(noise), at: int(0...chars.count))
            default: if !chars.isEmpty { chars[int(0...(chars.count - 1))] = pick(noise) }
            }
        }
        return String(chars)
    }

    /// Random bytes edits of a file: flips, overwrites, truncation, extension.
    mutating func corrupt(_ data: Data) -> Data {
        var d = data
        switch int(0...5) {
        case 0 where !d.isEmpty:
            for _ in 0..<int(1...8) { let i = int(0...(d.count - 1)); d[i] ^= UInt8(1 << int(0...7)) }
        case 1 where !d.isEmpty:
            d = d.prefix(int(0...(d.count - 1)))
        case 2:
            d.append(contentsOf: (0..<int(1...64)).map { _ in UInt8(int(0...255)) })
        case 3 where d.count > 8:
            // Inside the header: where the structure is.
            let headerEnd = Swift.min(d.count - 1, 8 + Int(d.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } & 0xFFFF))
            for _ in 0..<int(1...4) { d[int(8...Swift.max(8, headerEnd))] = UInt8(int(32...126)) }
        case 4 where d.count >= 8:
            let length = pick([UInt64(0), 1, 7, UInt64(d.count), UInt64(d.count - 8), 100_000_001, .max, UInt64(1) << 40])
            withUnsafeBytes(of: length.littleEndian) { d.replaceSubrange(0..<8, with: $0) }
        default:
            if !d.isEmpty { d[int(0...(d.count - 1))] = UInt8(int(0...255)) }
        }
        return d
    }
}

/// What every fuzz case must satisfy, and the tally a family prints.
final class FuzzTally {
    let family: String
    private(set) var cases = 0
    private(set) var accepted = 0
    private let start = Date()
    /// Stops a family early on a slow machine (the counts are sized for a few seconds).
    let budget: TimeInterval

    init(_ family: String, budget: TimeInterval = 20) { self.family = family; self.budget = budget * Double(Fuzzer.scale) }

    var outOfTime: Bool { Date().timeIntervalSince(start) > budget }

    /// Runs one case: `body` may succeed or throw an error whose description is one non-empty
    /// line (what a user-facing program prints); anything else fails naming the input.
    func run(_ input: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        cases += 1
        if Fuzzer.tracing { FileHandle.standardError.write(Data("fuzz \(family) #\(cases): \(input())\n".utf8)) }
        do {
            try body()
            accepted += 1
        } catch {
            let text = "\(error)"
            if Fuzzer.tracing { FileHandle.standardError.write(Data("  → \(text)\n".utf8)) }
            if text.isEmpty || text.contains("\n") {
                XCTFail("fuzz \(family) #\(cases) (seed \(Fuzzer.seed)): error is not one line: \(text.debugDescription) for input \(input().debugDescription)",
                        file: file, line: line)
            }
        }
    }

    /// Records a violated property of an accepted case.
    func fail(_ what: String, _ input: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTFail("fuzz \(family) #\(cases) (seed \(Fuzzer.seed)): \(what) for input \(input.debugDescription)", file: file, line: line)
    }

    func report() {
        print("fuzz \(family): \(cases) cases, \(accepted) accepted, \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
    }
}

/// Writes the config.json of a hidden-16, one-layer LLaMA (vocabulary 300, 32 positions) into
/// `directory`: the model every accepted fuzz run trains, so a case costs milliseconds.
func writeTinyModelConfig(in directory: URL) throws -> URL {
    let url = directory.appendingPathComponent("tiny.json")
    try Data(#"{"hidden_size": 16, "intermediate_size": 24, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 300, "max_position_embeddings": 32}"#.utf8)
        .write(to: url)
    return url
}

/// A fresh directory removed when the test ends.
func fuzzDirectory(_ test: XCTestCase, _ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-fuzz-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}
