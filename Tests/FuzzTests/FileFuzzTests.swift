import Foundation
@testable import NN
import Tensor
import XCTest

/// Corrupted files through the real readers: safetensors (weights, training state, hand-made
/// headers with duplicate keys and bad offsets), sharded indexes, `run.json` and whole checkpoint
/// folders. A reader either refuses with one line or returns something that holds together.
final class FileFuzzTests: XCTestCase {
    func tinyModel() -> LlamaModel {
        var rng = RNG(seed: 4)
        return LlamaModel(config: LlamaConfig(hiddenSize: 8, intermediateSize: 12, numHeads: 2, numLayers: 1, vocabSize: 24), rng: &rng)
    }

    /// Valid files to start from: a model's weights, a training state, and small hand-made ones.
    func seeds() throws -> [Data] {
        var out: [Data] = []
        let model = tinyModel()
        var w = SafetensorsWriter(metadata: ["format": "pt"])
        for (path, p) in model.namedParameters() { w.add(try CheckpointNameMap.llamaHuggingFace.fileName(path), p.value) }
        w.checksummed = true
        out.append(w.encoded())
        let state = TrainingState(step: 3, rngs: ["data": RNG(seed: 1)], config: "{}", estimatorSpec: "default=exact",
                                  optimizerSpec: "adamw", optimizerState: ["step": Tensor(scalar: 3), "x.exp_avg": Tensor([1, 2])],
                                  estimatorState: ["layers.0.mlp.up": ["clock": Tensor.zeros([12])]])
        out.append(state.writer(checkpointID: "id").encoded())
        var ids = SafetensorsWriter()
        ids.add("input_ids", int32: [1, 2, 3, 4], shape: [2, 2])
        ids.add("b", int64: [5], shape: [1])
        out.append(ids.encoded())
        for header in [
            #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            #"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4],"dtype":"F32"},"__metadata__":{"k":"v","k":"w"}}"#,
            #"{"\u0061":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"a":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}}"#,
            #"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}}"#,
        ] {
            var d = Data()
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
            d.append(contentsOf: header.utf8)
            d.append(contentsOf: [UInt8](repeating: 0x3c, count: 8))
            out.append(d)
        }
        return out
    }

    /// Reads everything a parsed file offers; an accepted file must be self-consistent.
    func readAll(_ file: SafetensorsFile, tally: FuzzTally, input: String) throws {
        var names = Set<String>()
        for e in file.entries {
            guard names.insert(e.name).inserted else { return tally.fail("duplicate tensor '\(e.name)' accepted", input) }
            if SafetensorsFile.isReadableAsFloat(e.dtype) {
                guard try file.floatTensor(e.name).count == e.count else { return tally.fail("element count", input) }
            } else if e.dtype == .i32 || e.dtype == .i64 {
                _ = try? file.int32Values(e.name)
            }
        }
        if file.metadata[SafetensorsFile.checksumKey] != nil { try file.verifyChecksum() }
        _ = try? TrainingState(file: file)
    }

    /// A structural edit of the header: an entry's offsets, shape or dtype changed, an entry
    /// duplicated under an escaped spelling of its name, or the metadata given a non-string value;
    /// the length prefix is rewritten to match, so the reader's semantic checks are what must catch it.
    func mutateHeader(_ data: Data, _ f: inout Fuzzer) -> Data {
        guard data.count >= 8,
              let length = data.prefix(8).withUnsafeBytes({ Int(exactly: $0.loadUnaligned(as: UInt64.self)) }),
              length <= data.count - 8,
              var header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any],
              let name = header.keys.filter({ $0 != "__metadata__" }).sorted().first.map({ $0 }),
              var entry = header[name] as? [String: Any] else { return data }
        var extra = ""
        switch f.int(0...5) {
        case 0:
            var offsets = entry["data_offsets"] as? [Int] ?? [0, 0]
            offsets[f.int(0...1)] += f.pick([-8, -4, -1, 1, 4, 1 << 20, Int.max / 2])
            entry["data_offsets"] = offsets
        case 1:
            var shape = entry["shape"] as? [Int] ?? []
            if shape.isEmpty || f.chance(0.3) { shape.append(f.pick([0, 1, 2, -1])) } else { shape[f.int(0...(shape.count - 1))] = f.pick([0, 2, -3, 1 << 31, Int.max]) }
            entry["shape"] = shape
        case 2: entry["dtype"] = f.pick(["F64", "F16", "I8", "BOOL", "F4", "", "f32"])
        case 3:
            // The same key again, spelled with an escape: a JSON decoder keeps only one of them.
            extra = ",\"\\u\(String(format: "%04x", name.unicodeScalars.first!.value))\(name.dropFirst())\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}"
        case 4: header["__metadata__"] = f.pick([["k": 1] as [String: Any], ["k": ["a"]], [:]])
        default: header[f.pick(["x", name + ".copy"])] = entry
        }
        header[name] = entry
        guard var json = try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]) else { return data }
        if !extra.isEmpty { json = json.dropLast() + Data(extra.utf8) + Data("}".utf8) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        return out + json + data.dropFirst(8 + length)
    }

    func testSafetensorsFiles() throws {
        var f = Fuzzer("safetensors")
        let tally = FuzzTally("safetensors"), loads = FuzzTally("safetensors-into-model")
        let valid = try seeds()
        let dir = try fuzzDirectory(self, "safetensors")
        let path = dir.appendingPathComponent("model.safetensors")
        for i in 0..<(500 * Fuzzer.scale) where !tally.outOfTime {
            var data = valid[i % valid.count]
            for _ in 0..<(i < valid.count ? 0 : f.int(1...2)) { data = f.chance(0.5) ? mutateHeader(data, &f) : f.corrupt(data) }
            let input = "seed file \(i % valid.count), \(data.count) bytes, header \(String(decoding: data.dropFirst(8).prefix(120), as: UTF8.self))"
            tally.run(input) {
                let file = try SafetensorsFile(data: data, path: "fuzz.safetensors")
                // What a real duplicate key means: the header must not list any key twice.
                if let length = data.prefix(8).withUnsafeBytes({ Int(exactly: $0.loadUnaligned(as: UInt64.self)) }), length <= data.count - 8,
                   let key = firstDuplicateKey(inJSON: data.subdata(in: 8..<(8 + length))) {
                    return tally.fail("header with duplicate key '\(key)' accepted", input)
                }
                try readAll(file, tally: tally, input: input)
            }
            // The same bytes from disk, into a model (names and shapes must match it).
            try data.write(to: path)
            loads.run(input) { try loadWeights(into: tinyModel(), from: path) }
        }
        tally.report()
        loads.report()
    }

    /// Sharded checkpoints whose index and shards disagree in every way.
    func testShardIndexes() throws {
        var f = Fuzzer("shard-index")
        let tally = FuzzTally("shard-index")
        let dir = try fuzzDirectory(self, "shards")
        let model = tinyModel()
        let names = try model.namedParameters().map { (try CheckpointNameMap.llamaHuggingFace.fileName($0.0), $0.1.value) }
        for _ in 0..<(150 * Fuzzer.scale) where !tally.outOfTime {
            try? FileManager.default.removeItem(at: dir)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            var shards: [String: SafetensorsWriter] = ["a.safetensors": SafetensorsWriter(), "b.safetensors": SafetensorsWriter()]
            var map: [String: String] = [:]
            for (name, t) in names {
                let shard = f.pick(["a.safetensors", "b.safetensors"])
                if !f.chance(0.03) { shards[shard]!.add(name, t) }
                if f.chance(0.03), shard == "a.safetensors", !shards["b.safetensors"]!.names.contains(name) { shards["b.safetensors"]!.add(name, t) }
                if !f.chance(0.03) { map[name] = f.chance(0.03) ? f.pick(["b.safetensors", "a.safetensors", "../x", "", "c.safetensors"]) : shard }
            }
            if f.chance(0.05) { map["extra.weight"] = "a.safetensors" }
            for (shard, w) in shards { try w.encoded().write(to: dir.appendingPathComponent(shard)) }
            var index = "{\"metadata\": {}, \"weight_map\": {" + map.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
            if f.chance(0.05), let first = map.first { index += ", \"\(first.key)\": \"b.safetensors\"" }
            index += "}}"
            if f.chance(0.05) { index = f.mutate(index) }
            try Data(index.utf8).write(to: dir.appendingPathComponent(CheckpointFileName.shardIndex))
            tally.run(index) {
                let target = tinyModel()
                try loadWeights(into: target, from: dir)
                // Accepted: every tensor came from the shard the map names, so the model equals the source.
                for ((_, a), (_, b)) in zip(model.namedParameters(), target.namedParameters())
                    where a.value.scalars.map(\.bitPattern) != b.value.scalars.map(\.bitPattern) {
                    return tally.fail("loaded weights differ from the saved ones", index)
                }
            }
        }
        tally.report()
    }

    /// `run.json` edits and corrupted checkpoint folders through `PretrainSession.resume`.
    func testRunFilesAndCheckpointFolders() throws {
        var f = Fuzzer("resume-files")
        let tally = FuzzTally("resume-files", budget: 30)
        let dir = try fuzzDirectory(self, "resume")
        let model = try writeTinyModelConfig(in: dir)
        var c = RunConfiguration()
        c.model = model.path
        c.corpusSentences = 400
        c.training.steps = 2; c.training.batch = 2; c.training.seq = 8; c.training.evalEvery = 0; c.training.saveEvery = 1
        c.threads = 1
        let cache = dir.appendingPathComponent("cache")
        let pristine = dir.appendingPathComponent("pristine")
        _ = try PretrainSession(c, cacheDirectory: cache).run(outDirectory: pristine)
        let files = ["run.json", "checkpoint/model.safetensors", "checkpoint/training_state.safetensors", "checkpoint/config.json"]
        let run = dir.appendingPathComponent("run")
        for _ in 0..<(40 * Fuzzer.scale) where !tally.outOfTime {
            try? FileManager.default.removeItem(at: run)
            try FileManager.default.copyItem(at: pristine, to: run)
            var edits: [String] = []
            for _ in 0..<f.int(1...2) {
                let file = f.pick(files)
                let url = run.appendingPathComponent(file)
                switch f.int(0...5) {
                case 0: try? FileManager.default.removeItem(at: url); edits.append("removed \(file)")
                case 1:
                    // Move the checkpoint to one of the swap's other names.
                    let to = f.pick(["checkpoint.new", "checkpoint.old"])
                    try? FileManager.default.moveItem(at: run.appendingPathComponent("checkpoint"), to: run.appendingPathComponent(to))
                    edits.append("checkpoint → \(to)")
                case 2 where file == "run.json":
                    guard var text = try? String(contentsOf: url, encoding: .utf8) else { continue }
                    let key = f.pick(["learningRate", "steps", "batch", "seed", "estimators", "fnv1a", "format", "threads", "dataFile"])
                    if let r = text.range(of: "\"\(key)\" : ") {
                        let end = text[r.upperBound...].firstIndex(where: { $0 == "," || $0 == "\n" }) ?? text.endIndex
                        text.replaceSubrange(r.upperBound..<end, with: f.pick(["0", "-1", "1e999", "\"x\"", "null", "2", "[]"]))
                    }
                    try Data(text.utf8).write(to: url)
                    edits.append("run.json \(key)")
                default:
                    if let data = try? Data(contentsOf: url) { try f.corrupt(data).write(to: url) }
                    edits.append("corrupted \(file)")
                }
            }
            let input = edits.joined(separator: ", ")
            tally.run(input) {
                let session = try PretrainSession.resume(from: run, steps: 3, cacheDirectory: cache)
                // Accepted: it resumed from a complete checkpoint of this run.
                guard session.trainer.step == 2 || session.trainer.step == 1 else { return tally.fail("resumed at step \(session.trainer.step)", input) }
                _ = try CheckpointRotation.verifiedStep(run.appendingPathComponent("checkpoint"))
            }
        }
        tally.report()
    }
}
