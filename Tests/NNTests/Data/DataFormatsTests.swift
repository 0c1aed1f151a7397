import Foundation
import Tensor
import XCTest
@testable import NN

/// Token files (nanoGPT / llm.c) and JSONL records, with their one-line errors.
final class DataFormatsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-formats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func file(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    private func assertDataError(_ expression: @autoclosure () throws -> Any, contains parts: [String],
                                 file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(error is DataError, "expected a DataError, got \(error)", file: file, line: line)
            XCTAssertFalse(text.contains("\n"), "message spans lines: \(text)", file: file, line: line)
            for part in parts { XCTAssertTrue(text.contains(part), "'\(text)' lacks '\(part)'", file: file, line: line) }
        }
    }

    // MARK: Token files

    func testTokenFilesReadLittleEndianIDs() throws {
        let u16 = try file("ids.bin", [1, 0, 0xFF, 0x01, 0x34, 0x12])
        XCTAssertEqual(try TokenFile.read(u16, vocabSize: 0x1235), [1, 0x1FF, 0x1234])
        let u32 = try file("ids.u32.bin", [1, 0, 0, 0, 0xA0, 0x86, 0x01, 0])
        XCTAssertEqual(try TokenFile.read(u32, vocabSize: 100_001), [1, 100_000])
    }

    func testBadTokenFilesNameFileAndProblem() throws {
        let odd = try file("odd.bin", [1, 0, 2])
        assertDataError(try TokenFile.read(odd, vocabSize: 10), contains: [odd.path, "3 bytes is not a multiple of 2"])
        let odd32 = try file("odd.u32.bin", [1, 0, 0, 0, 2, 0])
        assertDataError(try TokenFile.read(odd32, vocabSize: 10), contains: [odd32.path, "multiple of 4"])
        let big = try file("big.bin", [1, 0, 9, 0, 10, 0])
        assertDataError(try TokenFile.read(big, vocabSize: 10), contains: [big.path, "token 2 is 10", "vocabulary of 10"])
        let empty = try file("empty.bin", [])
        assertDataError(try TokenFile.read(empty, vocabSize: 10), contains: [empty.path, "empty"])
    }

    // MARK: JSONL

    func testJSONLReadsTextsAndInstructionRecords() throws {
        let texts = try file("t.jsonl", Array(#"{"text": "one", "id": 1}"# .utf8) + [10, 10] + Array(#"{"text":"two"}"#.utf8) + [10])
        XCTAssertEqual(try JSONLDocuments.read(texts), .texts(["one", "two"]))
        let dolly = """
            {"instruction": "Name a color.", "context": "", "response": "Blue.", "category": "open_qa"}
            {"instruction": "Summarize.", "context": "A long text.", "response": "Short."}
            """
        let records = try JSONLDocuments.read(try file("d.jsonl", Array(dolly.utf8)))
        XCTAssertEqual(records, .instructions([InstructionRecord(instruction: "Name a color.", response: "Blue."),
                                               InstructionRecord(instruction: "Summarize.", context: "A long text.", response: "Short.")]))
        XCTAssertEqual(InstructionRecord(instruction: "Summarize.", context: "A long text.", response: "x").prompt,
                       "### Instruction:\nSummarize.\n\n### Input:\nA long text.\n\n### Response:\n")
        XCTAssertEqual(InstructionRecord(instruction: "Name a color.", response: "x").prompt,
                       "### Instruction:\nName a color.\n\n### Response:\n")
    }

    func testBadJSONLLinesNameFileAndLine() throws {
        func check(_ text: String, _ parts: [String]) throws {
            let url = try file("bad.jsonl", Array(text.utf8))
            assertDataError(try JSONLDocuments.read(url), contains: [url.path] + parts)
        }
        try check("{\"text\": \"a\"}\n{not json\n", [":2: not a JSON object"])
        try check("{\"instruction\": \"a\", \"context\": \"\"}\n", [":1: missing \"response\""])
        try check("{\"instruction\": \"a\", \"response\": 3}\n", [":1: \"response\" is not a string"])
        try check("{\"text\": \"a\"}\n\n{\"instruction\": \"a\", \"response\": \"b\"}\n", [":3: not a {\"text\"} record"])
        try check("[1, 2]\n", [":1: not a JSON object"])
        try check("\n  \n", ["no records"])
    }

    func testInstructionExamplesLearnOnlyTheResponse() throws {
        let tokenizer = BPETokenizer.train(text: "### Instruction:\nName a color.\n### Response:\nBlue.", vocabSize: 300,
                                           specialTokens: [BPETokenizer.endOfText])
        let record = InstructionRecord(instruction: "Name a color.", response: "Blue.")
        let example = TokenDataset.examples(of: [record], tokenizer: tokenizer)[0]
        let prompt = tokenizer.encode(record.prompt), response = tokenizer.encode("Blue.")
        XCTAssertEqual(example.tokens, prompt + response + [tokenizer.endOfSequence!])
        XCTAssertEqual(example.promptLength, prompt.count)

        let seq = example.tokens.count + 3 // room for padding
        let data = TokenDataset(trainExamples: [example], validationExamples: [example])
        var rng = RNG(seed: 1)
        let batch = data.batch(size: 2, seq: seq, rng: &rng)
        XCTAssertEqual(batch.inputs.count, 2 * seq)
        let row = Array(batch.targets[0..<seq])
        // Targets are the next tokens, ignored until the first response token is the target.
        for i in 0..<seq {
            let next = i + 1
            let expected = next < example.tokens.count && next >= example.promptLength ? example.tokens[next] : crossEntropyIgnoreIndex
            XCTAssertEqual(row[i], expected, "target \(i)")
        }
        XCTAssertEqual(row.filter { $0 != crossEntropyIgnoreIndex }.count, response.count + 1)
        XCTAssertEqual(data.evaluationBatches(size: 4, seq: seq).map { $0.inputs.count }, [seq])
        // Truncation keeps the first seq + 1 tokens.
        let short = data.batch(size: 1, seq: 4, rng: &rng)
        XCTAssertEqual(short.inputs, Array(example.tokens[0..<4]))
        XCTAssertThrowsError(try TokenDataset(trainExamples: [example], validationExamples: []).validate(seq: 8)) {
            XCTAssertTrue("\($0)".contains("validation split has no examples"), "\($0)")
        }
    }
}
