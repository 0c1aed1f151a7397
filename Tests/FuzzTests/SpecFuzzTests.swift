import Autograd
import Estimators
import Foundation
import NN
import Tensor
import XCTest

/// The text forms users type, through their real parsers: estimator assignments, optimizer
/// specs, `--moe`. An accepted text must print back to itself and build working objects.
final class SpecFuzzTests: XCTestCase {
    /// Grammar-shaped estimator rules with wrong names, keys, values and separators mixed in.
    func randomAssignment(_ f: inout Fuzzer) -> String {
        let kinds = EstimatorSpec.Kind.allCases
        var rules: [String] = []
        for _ in 0..<f.int(1...3) {
            let kind = f.pick(kinds)
            var keys = kind.options
            if kind != .exact && kind != .recompute && f.chance(0.8) { keys.removeAll { $0 == "rank" }; keys.insert("rank", at: 0) }
            var options: [String] = []
            for (i, key) in keys.enumerated() where i == 0 && key == "rank" || f.chance(0.4) {
                let value: String
                switch key {
                case "feedback", "adaptive": value = f.chance(0.9) ? f.pick(["on", "off"]) : f.pick(["yes", ""])
                case "decay": value = f.chance(0.7) ? f.pick(["0", "0.5", "0.99"]) : f.numberText()
                default: value = f.chance(0.7) ? "\(f.int(0...20))" : f.sizeText()
                }
                options.append("\(f.chance(0.95) ? key : f.pick(["rnk", "", "rank "])):\(value)")
            }
            let kindText = f.chance(0.95) ? kind.rawValue : f.pick(["exakt", "", "gradlite ", "HAAR"])
            let spec = options.isEmpty && f.chance(0.5) ? kindText : "\(kindText)(\(options.joined(separator: ",")))"
            rules.append("\(f.pick(["default", "layers.*", "layers.*.mlp.*", "*", "layers.0.mlp.gate", f.chance(0.9) ? "default" : ""]))=\(spec)")
        }
        let text = rules.joined(separator: f.pick(["; ", ";", ";;", " ; "]))
        return f.chance(0.15) ? f.mutate(text) : text
    }

    func testEstimatorAssignments() {
        var f = Fuzzer("estimator-assignment")
        let tally = FuzzTally("estimator-assignment")
        var rng = RNG(seed: 1)
        for _ in 0..<(400 * Fuzzer.scale) where !tally.outOfTime {
            let text = randomAssignment(&f)
            let shape = [f.int(1...12), f.int(1...12)]
            tally.run("\(text) on \(shape)") {
                let a = try EstimatorAssignment(parsing: text)
                guard try EstimatorAssignment(parsing: a.description) == a else { return tally.fail("description does not parse back", text) }
                let e = a.estimator(forPath: "layers.0.mlp.gate", weightShape: shape, seed: 3)
                guard e.savedBytes(rows: 5, weightShape: shape) >= 0, e.stateBytes(weightShape: shape) >= 0 else {
                    return tally.fail("negative byte counts", text)
                }
                // One forward and backward through the tape on a small input.
                let w = Parameter(Tensor.randomNormal(shape, rng: &rng))
                let x = Variable(Tensor.randomNormal([5, shape[1]], rng: &rng))
                let y = linear(x, w.variable, estimator: e)
                y.square().sum().backward()
                if !(w.grad?.isAllFinite ?? false) { tally.fail("non-finite or missing gradient", text) }
            }
        }
        tally.report()
    }

    func testOptimizerSpecs() throws {
        var f = Fuzzer("optimizer-spec")
        let tally = FuzzTally("optimizer-spec")
        let names = OptimizerSpec.Kind.allCases.map(\.rawValue) + ["adam", "Adamw", "", "sgd "]
        let keys = ["rank", "gap", "scale", "step", "beta1", "beta2", "eps", "gamma", "recovery", "momentum", "nesterov", "clip", "decay", "lr"]
        for _ in 0..<(400 * Fuzzer.scale) where !tally.outOfTime {
            let name = f.pick(names)
            var items: [String] = []
            for _ in 0..<f.int(0...3) {
                let key = f.pick(keys)
                items.append("\(key):\(key == "rank" || key == "gap" ? f.sizeText() : key == "nesterov" || key == "recovery" ? f.pick(["true", "false", "1", "maybe"]) : f.numberText())")
            }
            var text = items.isEmpty && f.chance(0.5) ? name : "\(name)(\(items.joined(separator: ",")))"
            if f.chance(0.2) { text = f.mutate(text) }
            tally.run(text) {
                let spec = try OptimizerSpec(parsing: text)
                guard try OptimizerSpec(parsing: spec.description) == spec else { return tally.fail("description does not parse back", text) }
                var rng = RNG(seed: 2)
                let model = LlamaModel(config: LlamaConfig(hiddenSize: 8, intermediateSize: 12, numHeads: 2, numLayers: 1, vocabSize: 20), rng: &rng)
                let optimizer = spec.make(parameters: model.namedParameters(), learningRate: 1e-3, weightDecay: 0.01, seed: 1)
                let shapes = model.namedParameters().map { (path: $0.0, shape: $0.1.shape) }
                guard try spec.estimatedStateBytes(parameters: shapes) == optimizer.stateBytes else {
                    return tally.fail("state estimate differs from the state", text)
                }
                let loss = model.loss(tokens: [1, 2, 3, 4], targets: [2, 3, 4, 5], batch: 1, seq: 4)
                loss.backward()
                optimizer.step()
                optimizer.zeroGrad()
                if !model.namedParameters().allSatisfy({ $0.1.value.isAllFinite }) { tally.fail("non-finite weights after one step", text) }
            }
        }
        tally.report()
    }

    func testMoESpecs() {
        var f = Fuzzer("moe-spec")
        let tally = FuzzTally("moe-spec")
        for _ in 0..<(400 * Fuzzer.scale) where !tally.outOfTime {
            var items = ["experts:\(f.chance(0.8) ? "\(f.int(1...6))" : f.sizeText())"]
            for _ in 0..<f.int(0...3) {
                let key = f.pick(["topk", "shared", "balance", "topk", "expert", ""])
                let good = key == "topk" ? "\(f.int(1...3))" : key == "shared" ? f.pick(["0", "1"]) : f.pick(["0", "0.01"])
                items.append("\(key):\(f.chance(0.7) ? good : key == "balance" ? f.numberText() : f.sizeText())")
            }
            if f.chance(0.1) { items.removeFirst() }
            var text = items.joined(separator: f.pick([",", ", ", ",,"]))
            if f.chance(0.2) { text = f.mutate(text) }
            tally.run(text) {
                let moe = try parseMoESpec(text)
                var config = LlamaConfig(hiddenSize: 8, intermediateSize: 8, numHeads: 2, numLayers: 1, vocabSize: 16)
                config.moe = moe
                try config.validate()
                guard moe.topK >= 1, moe.topK <= moe.experts, moe.balanceCoefficient.isFinite else {
                    return tally.fail("accepted an invalid MoE configuration \(moe)", text)
                }
            }
        }
        tally.report()
    }
}
