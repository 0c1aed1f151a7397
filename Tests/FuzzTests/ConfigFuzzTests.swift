import Autograd
import Estimators
import Foundation
@testable import NN
import Tensor
import XCTest

/// Model configurations and whole run configurations: absurd, non-finite, overflowing and
/// inconsistent values must be refused up front with one line; what is accepted must build
/// (within the memory budget) and train one step to a finite loss.
final class ConfigFuzzTests: XCTestCase {
    static let base: [String: Any] = [
        "model_type": "llama", "hidden_size": 16, "intermediate_size": 24, "num_attention_heads": 2,
        "num_hidden_layers": 2, "vocab_size": 300, "max_position_embeddings": 32,
    ]

    /// A config.json with a few keys set to values users and corrupted files produce.
    func randomConfigJSON(_ f: inout Fuzzer) -> String {
        var parts = Self.base.map { key, value in "\"\(key)\": \(value is String ? "\"\(value)\"" : "\(value)")" }
        let keys = Array(Self.base.keys) + ["rms_norm_eps", "rope_theta", "initializer_range", "num_key_value_heads",
                                            "num_local_experts", "num_experts_per_tok", "router_aux_loss_coef", "head_dim",
                                            "tie_word_embeddings", "hidden_act", "rope_scaling", "max_sequence_length"]
        let values = ["0", "-1", "1", "2", "3", "7", "64", "1000000000", "4294967297", "1e15", "1e16", "1e308", "1e999",
                      "-1e999", "0.5", "1e-300", "null", "true", "\"silu\"", "\"gelu\"", "[]", "{}", "\"16\"", "2.5"]
        for _ in 0..<f.int(1...4) {
            let key = f.pick(keys)
            parts.removeAll { $0.hasPrefix("\"\(key)\"") }
            if f.chance(0.85) { parts.append("\"\(key)\": \(f.pick(values))") }
        }
        let text = "{" + parts.joined(separator: ", ") + "}"
        return f.chance(0.1) ? f.mutate(text) : text
    }

    func testHuggingFaceConfigs() {
        var f = Fuzzer("config-json")
        let tally = FuzzTally("config-json")
        for _ in 0..<(300 * Fuzzer.scale) where !tally.outOfTime {
            let text = randomConfigJSON(&f)
            tally.run(text) {
                let config = try LlamaConfig(huggingFaceJSON: Data(text.utf8))
                guard try LlamaConfig(huggingFaceJSON: config.huggingFaceJSON()) == config else {
                    return tally.fail("config.json does not read back", text)
                }
                let seq = Swift.min(config.maxSequenceLength, 4)
                let estimate = try MemoryEstimate.training(
                    model: config, batch: 1, seq: seq, estimators: EstimatorAssignment(), optimizer: OptimizerSpec(parsing: "adamw"),
                    checkpointBlocks: false)
                try estimate.check(against: MemoryLimit(bytes: 64 << 20, source: "the fuzz budget"), advice: "smaller")
                var rng = RNG(seed: 1)
                let model = LlamaModel(config: config, rng: &rng)
                let tokens = (0..<seq).map { Int32($0 % config.vocabSize) }
                let loss = model.loss(tokens: tokens, targets: tokens.reversed(), batch: 1, seq: seq).value.item
                if !loss.isFinite { tally.fail("non-finite loss \(loss) of an accepted config", text) }
            }
        }
        tally.report()
    }

    /// Whole runs as `llama-pretrain` builds them (in-process): random hyper-parameters, sizes,
    /// specs and files; an accepted run trains one step.
    func testRunConfigurations() throws {
        var f = Fuzzer("run-configuration")
        let tally = FuzzTally("run-configuration", budget: 30)
        let dir = try fuzzDirectory(self, "runs")
        let model = try writeTinyModelConfig(in: dir)
        let text = dir.appendingPathComponent("text.txt")
        try Data(SyntheticCorpus.generate(sentences: 300, seed: 5).utf8).write(to: text)
        let tiny = dir.appendingPathComponent("short.txt")
        try Data("tiny text".utf8).write(to: tiny)
        let empty = dir.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        func size() -> Int { Int(f.sizeText()) ?? f.int(-2...40) }
        func float() -> Float { Float(f.numberText()) ?? .nan }
        for _ in 0..<(60 * Fuzzer.scale) where !tally.outOfTime {
            // A small valid run, then (usually) one or two faults: a bad value, file, spec or size.
            var c = RunConfiguration()
            c.model = model.path
            c.dataFile = text.path
            c.training.steps = f.int(1...2); c.training.batch = f.int(1...2); c.training.seq = f.pick([4, 8])
            c.training.evalEvery = 1; c.training.evalBatches = 1; c.training.saveEvery = 0; c.training.warmup = 1
            c.threads = 1
            if f.chance(0.3) { c.estimators = "default=exact; layers.*=\(f.pick(["haar(rank:4)", "gradlite(rank:4,feedback:on)", "optimal(rank:2)", "recompute", "lowrank(rank:99)"]))" }
            if f.chance(0.3) { c.optimizer = f.pick(["sgd", "lomo", "adalomo", "galore(rank:2)", "grasswalk(rank:2)"]) }
            if f.chance(0.2) { c.moe = f.pick(["experts:2,topk:1", "experts:3,topk:2,shared:1"]) }
            c.checkpointBlocks = f.chance(0.2)
            for _ in 0..<(f.chance(0.7) ? f.int(1...2) : 0) {
                switch f.int(0...16) {
                case 0: c.model = f.pick(["llama-7b", "/nonexistent/config.json", text.path, dir.path])
                case 1: c.dataFile = f.pick([tiny.path, empty.path, dir.path, "/nonexistent.txt"])
                case 2: c.validationFile = f.pick([text.path, tiny.path, empty.path])
                case 3: c.vocabSize = size()
                case 4: c.training.steps = size()
                case 5: c.training.batch = size()
                case 6: c.training.seq = size()
                case 7: c.training.gradAccum = size()
                case 8: c.training.evalBatches = size(); c.training.evalEvery = size()
                case 9: c.training.saveEvery = size(); c.training.warmup = size()
                case 10: c.training.learningRate = float()
                case 11: c.training.minLearningRateRatio = float(); c.training.weightDecay = float()
                case 12: c.training.clip = float()
                case 13: c.estimators = f.mutate(c.estimators)
                case 14: c.optimizer = f.pick(["adamw(eps:0)", "galore(rank:0)", f.mutate(c.optimizer)])
                case 15: c.moe = f.pick(["experts:2,topk:3", "experts:0", f.mutate("experts:2,topk:1")])
                default: c.threads = size()
                }
            }
            let input = "\(c)"
            tally.run(input) {
                let session = try PretrainSession(c, cacheDirectory: dir.appendingPathComponent("cache"),
                                                  memoryLimit: MemoryLimit(bytes: 256 << 20, source: "the fuzz budget"))
                // Many micro-batches are valid but slow: check construction only.
                guard c.training.gradAccum <= 4 else { return }
                let m = session.trainer.trainStep()
                if !m.loss.isFinite { tally.fail("first step's loss is \(m.loss)", input) }
            }
        }
        tally.report()
        Parallel.setThreads(2)
    }
}
