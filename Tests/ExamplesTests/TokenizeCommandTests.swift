import Foundation
import TestSupport
import XCTest

/// `llama-pretrain train-tokenizer` and `tokenize`, and the one-line errors of the new data inputs.
final class TokenizeCommandTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-tokenize-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func write(_ name: String, _ text: String) throws -> URL {
        let url = scratch.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    func assertOneLineError(_ args: [String], contains parts: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runTool("llama-pretrain", args)
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr, file: file, line: line)
        for part in parts { XCTAssertTrue(r.stderr.contains(part), "'\(r.stderr)' lacks '\(part)'", file: file, line: line) }
    }

    func testTrainTokenizerThenTokenizeWritesInputIDs() throws {
        let text = try write("corpus.txt", String(repeating: "the cat sat on the mat; the dog ran. ", count: 200))
        let folder = scratch.appendingPathComponent("tok")
        var r = try runTool("llama-pretrain", ["train-tokenizer", "--text", text.path, "--vocab-size", "300", "--out", folder.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        for name in ["tokenizer.json", "tokenizer_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path), name)
        }
        let sample = try write("sample.txt", "the cat ran")
        let out = scratch.appendingPathComponent("ids.safetensors")
        r = try runTool("llama-pretrain", ["tokenize", "--tokenizer", folder.path, "--text", sample.path, "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        // A safetensors file: 8-byte header length, JSON header naming input_ids as I32 [1, N].
        let bytes = [UInt8](try Data(contentsOf: out))
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        XCTAssertTrue(header.contains(#""input_ids":{"dtype":"I32","shape":[1,"#), header)
        let count = (bytes.count - 8 - headerLength) / 4
        XCTAssertTrue(r.stdout.contains("\(count) tokens"), r.stdout)
        XCTAssertLessThan(count, 11, "a trained tokenizer should merge some of the 11 bytes")
    }

    func testBadTokenizerAndDataInputsAreOneLineErrors() throws {
        let text = try write("t.txt", "hello")
        let unigram = try write("tokenizer.json", #"{"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}"#)
        try assertOneLineError(["tokenize", "--tokenizer", unigram.path, "--text", text.path, "--out", scratch.appendingPathComponent("o").path],
                               contains: [unigram.path, "tokenizer model is Unigram", "supported: byte-level BPE"])
        try assertOneLineError(["tokenize", "--text", text.path], contains: ["needs --tokenizer"])
        let jsonl = try write("d.jsonl", "{\"text\": \"a\"}\n{\"text\": 5}\n")
        try assertOneLineError(["--data", jsonl.path, "--out", scratch.path], contains: [jsonl.path + ":2", "\"text\" is not a string"])
        let odd = scratch.appendingPathComponent("odd.bin")
        try Data([1, 2, 3]).write(to: odd)
        try assertOneLineError(["--data", odd.path, "--out", scratch.path], contains: [odd.path, "not a multiple of 2"])
        try assertOneLineError(["--init", scratch.appendingPathComponent("no-model").path, "--out", scratch.path],
                               contains: ["no-model", "config.json"])
        let r = try runTool("llama-pretrain", ["--init", scratch.path, "--config", "llama-20m"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--config and --init"), r.stderr)
    }
}
