import Foundation
import NN
import Tensor
import XCTest

/// Runs on JSONL, token files and from an `--init` folder (tiny models, a few steps each).
final class FineTuneSessionTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-finetune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func tinyConfiguration(data: URL) throws -> RunConfiguration {
        let url = scratch.appendingPathComponent("tiny.json")
        try Data("""
            {"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
             "num_hidden_layers": 2, "vocab_size": 320, "max_position_embeddings": 64}
            """.utf8).write(to: url)
        var c = RunConfiguration()
        c.model = url.path
        c.dataFile = data.path
        c.training.steps = 3
        c.training.batch = 2
        c.training.seq = 32
        c.training.warmup = 1
        c.training.evalEvery = 3
        c.training.evalBatches = 1
        c.threads = 1
        return c
    }

    func write(_ name: String, _ text: String) throws -> URL {
        let url = scratch.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    func dollyFile(records: Int) throws -> URL {
        let lines = (0..<records).map { i in
            #"{"instruction": "Name color \#(i).", "context": "\#(i % 3 == 0 ? "Colors are nice." : "")", "response": "Blue \#(i)."}"#
        }
        return try write("dolly.jsonl", lines.joined(separator: "\n"))
    }

    func testInstructionJSONLTrainsOnResponsesAndCheckpointCarriesTheTokenizer() throws {
        let session = try PretrainSession(try tinyConfiguration(data: try dollyFile(records: 40)), cacheDirectory: scratch)
        let tokenizer = try XCTUnwrap(session.tokenizer)
        XCTAssertEqual(tokenizer.endOfSequence.map { tokenizer.decode([$0]) }, BPETokenizer.endOfText)
        XCTAssertEqual(session.dataset.trainExamples?.count, 38)
        XCTAssertEqual(session.dataset.validationExamples?.count, 2)
        let out = scratch.appendingPathComponent("run")
        let summary = try session.run(outDirectory: out)
        XCTAssertTrue(summary.finalTrainLoss.isFinite && (summary.finalValidationLoss ?? .nan).isFinite)
        let saved = try BPETokenizer.load(from: out.appendingPathComponent("checkpoint"))
        XCTAssertEqual(saved, tokenizer)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("checkpoint/config.json"))) as! [String: Any]
        XCTAssertEqual(config["eos_token_id"] as? Int, Int(tokenizer.endOfSequence!))
    }

    func testInitStartsFromTheFolderWeightsConfigAndTokenizer() throws {
        let first = try PretrainSession(try tinyConfiguration(data: try dollyFile(records: 20)), cacheDirectory: scratch)
        let base = scratch.appendingPathComponent("base")
        _ = try first.run(outDirectory: base)
        let folder = base.appendingPathComponent("checkpoint")

        var c = RunConfiguration()
        c.model = folder.appendingPathComponent("config.json").path
        c.initFrom = folder.path
        c.dataFile = try write("docs.jsonl", (0..<30).map { #"{"text": "Blue is a color number \#($0)."}"# }.joined(separator: "\n")).path
        c.training.batch = 2
        c.training.seq = 16
        c.threads = 1
        let tuned = try PretrainSession(c, cacheDirectory: scratch)
        XCTAssertEqual(tuned.tokenizer, first.tokenizer)
        XCTAssertEqual(tuned.modelConfig, first.modelConfig)
        for ((path, a), (_, b)) in zip(first.model.namedParameters(), tuned.model.namedParameters()) {
            XCTAssertEqual(a.value.scalars, b.value.scalars, path)
        }
        XCTAssertNil(tuned.dataset.trainExamples, "{\"text\"} documents form a stream")
        let all = tuned.dataset.trainTokens + tuned.dataset.validationTokens
        XCTAssertEqual(all.filter { $0 == first.tokenizer!.endOfSequence }.count, 30, "one end-of-sequence token per document")
    }

    func testInitFolderWhoseWeightsDoNotMatchItsConfigIsOneLineError() throws {
        let first = try PretrainSession(try tinyConfiguration(data: try dollyFile(records: 20)), cacheDirectory: scratch)
        let base = scratch.appendingPathComponent("base")
        try first.saveCheckpoint(in: base)
        let folder = base.appendingPathComponent("checkpoint")
        let configURL = folder.appendingPathComponent("config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        json["intermediate_size"] = 48
        try JSONSerialization.data(withJSONObject: json).write(to: configURL)
        var c = RunConfiguration()
        c.model = configURL.path
        c.initFrom = folder.path
        c.dataFile = try dollyFile(records: 20).path
        c.training.seq = 16
        XCTAssertThrowsError(try PretrainSession(c, cacheDirectory: scratch)) {
            let text = "\($0)"
            XCTAssertTrue(text.contains("model.safetensors") && text.contains("mlp.up_proj.weight has shape [64, 32], model expects [48, 32]"), text)
            XCTAssertFalse(text.contains("\n"))
        }
    }

    func testTokenFileTrainsWithoutATokenizer() throws {
        var ids = [UInt8]()
        for i in 0..<2000 { ids += [UInt8(i % 300 & 0xFF), UInt8((i % 300) >> 8)] }
        let data = scratch.appendingPathComponent("train.bin")
        try Data(ids).write(to: data)
        let session = try PretrainSession(try tinyConfiguration(data: data), cacheDirectory: scratch)
        XCTAssertNil(session.tokenizer)
        XCTAssertEqual(session.dataset.trainTokens.count + session.dataset.validationTokens.count, 2000)
        let out = scratch.appendingPathComponent("run")
        _ = try session.run(outDirectory: out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("checkpoint/tokenizer.json").path))

        try Data(ids + [0x41, 0x01]).write(to: data) // id 321 ≥ vocabulary 320
        XCTAssertThrowsError(try PretrainSession(try tinyConfiguration(data: data), cacheDirectory: scratch)) {
            XCTAssertTrue("\($0)".contains("token 2000 is 321, outside the model's vocabulary of 320"), "\($0)")
        }
    }
}
