import Autograd
import Foundation
@testable import NN
import Tensor
import XCTest

/// 8-bit optimizer states (ALGORITHMS.md §13): AdamW, GaLore and Grass with `states: .int8`.
final class EightBitStateTests: XCTestCase {
    /// A matrix of 6400 values (three full blocks and a partial one), a second one GaLore
    /// projects, and a vector that keeps fp32 states.
    private func makeParams() -> [(String, Parameter)] {
        [("embed.weight", refParameter(refWave(6400, seed: 1), [64, 100])),
         ("layers.0.mlp.up.weight", refParameter(refWave(128 * 64, seed: 2), [128, 64])),
         ("norm.weight", refParameter(refWave(64, seed: 3), [64]))]
    }

    private func gradients(_ ps: [(String, Parameter)], step k: Int) -> [Tensor] {
        ps.enumerated().map { i, p in refTensor(refWave(p.1.value.count, seed: Double(10 * k + i)).map { $0 * 0.1 }, p.1.shape) }
    }

    private func step(_ opt: Optimizer, _ ps: [(String, Parameter)], _ k: Int) {
        for (p, g) in zip(ps, gradients(ps, step: k)) { p.1.grad = g }
        opt.step()
        opt.zeroGrad()
    }

    private func make(_ spec: String, _ ps: [(String, Parameter)]) throws -> Optimizer {
        try OptimizerSpec(parsing: spec).make(parameters: ps, learningRate: 0.01, weightDecay: 0.1, seed: 3)
    }

    private let specs = ["adamw(states:int8)", "galore(rank:64,gap:2,states:int8)", "grasswalk(rank:64,gap:2,states:int8)",
                         "grassjump(rank:64,gap:2,states:int8)"]

    /// The fp32 state an 8-bit optimizer's state decodes to, in the checkpoint format: a key `k`
    /// stored as `k.codes` + `k.absmax` becomes `k`; the first moment's codes hold m, the second's √v.
    private func decoded(_ opt: Optimizer) -> [String: Tensor] {
        var out = opt.stateTensors()
        for (key, codes) in opt.stateCodes() {
            let k = String(key.dropLast(".codes".count))
            let second = k.hasSuffix(".exp_avg_sq")
            let q = BlockQuantized(codes: codes, absmax: out.removeValue(forKey: k + ".absmax")!, signed: !second)
            out[k] = second ? q.dequantized().square() : q.dequantized()
        }
        return out
    }

    private func fp32Spec(_ spec: String) -> String {
        spec.replacingOccurrences(of: ",states:int8", with: "").replacingOccurrences(of: "(states:int8)", with: "")
    }

    func testOneStepFromDecodedStatesIsTheFP32StepWithinTheCodeResolution() throws {
        for spec in specs {
            let ps = makeParams(), reference = makeParams()
            let int8 = try make(spec, ps)
            for k in 1...3 { step(int8, ps, k) } // Grass moves its basis (and carries the 8-bit moments) before step 3
            // The fp32 reference starts from exactly what the 8-bit state decodes to.
            for (r, p) in zip(reference, ps) { r.1.value = p.1.value.copy() }
            let fp32 = try make(fp32Spec(spec), reference)
            try fp32.loadState(decoded(int8))
            step(int8, ps, 4)
            step(fp32, reference, 4)
            // The update is computed from the new fp32 moments before they are encoded: same weights.
            for (p, r) in zip(ps, reference) { XCTAssertEqual(refBits(p.1.value), refBits(r.1.value), "\(spec) \(p.0)") }
            // The stored moments are the fp32 ones to within half a code step of their block's absmax
            // (for v, of √v's absmax: |v − v'| ≤ 2·√a·δ√a).
            let got = decoded(int8), want = fp32.stateTensors()
            XCTAssertEqual(got.keys.sorted(), want.keys.sorted(), spec)
            var quantized = 0
            for key in int8.stateCodes().keys {
                let k = String(key.dropLast(".codes".count)), second = k.hasSuffix(".exp_avg_sq")
                let x = got[k]!, ref = want[k]!
                for b in 0..<BlockQuantized.blockCount(x.count) {
                    let r = b * BlockQuantized.blockSize..<Swift.min((b + 1) * BlockQuantized.blockSize, x.count)
                    let a = r.map { Swift.abs(ref.pointer[$0]) }.max()!
                    // The coarsest spacing of the code (its top decade): 0.9/64 signed, 0.9/128 unsigned.
                    let bound = a * (second ? 2 * 0.9 / 256 : 0.9 / 128) * 1.001
                    let worst = r.map { Swift.abs(x.pointer[$0] - ref.pointer[$0]) }.max()!
                    XCTAssertLessThanOrEqual(worst, bound, "\(spec) \(k) block \(b)")
                    XCTAssertGreaterThan(worst, 0, "\(spec) \(k): the state really is quantized")
                }
                quantized += 1
            }
            XCTAssertGreaterThanOrEqual(quantized, 4, "\(spec): both matrices have 8-bit moments")
            XCTAssertEqual(refBits(got["norm.weight.exp_avg"]!), refBits(want["norm.weight.exp_avg"]!), "\(spec): vectors keep fp32 states")
        }
    }

    func testFirstStepEqualsTheFP32Step() throws {
        for spec in specs {
            let a = makeParams(), b = makeParams()
            let fp32 = try make(fp32Spec(spec), a), int8 = try make(spec, b)
            step(fp32, a, 1); step(int8, b, 1)
            // Zero moments decode exactly, so the first update is the fp32 one.
            for (pa, pb) in zip(a, b) { XCTAssertEqual(refBits(pa.1.value), refBits(pb.1.value), "\(spec) \(pa.0)") }
        }
    }

    func testStatesAreCountedAtTheirByteSize() {
        let ps = makeParams()
        let before = Memory.stats.live(.optimizer)
        let opt = AdamW(parameters: ps, learningRate: 0.01, options: .init(states: .int8))
        let quantized = [6400, 8192].reduce(0) { $0 + 2 * ($1 + 4 * BlockQuantized.blockCount($1)) }
        XCTAssertEqual(Memory.stats.live(.optimizer) - before, quantized + 2 * 64 * 4, "codes + absmax; fp32 for the vector")
        XCTAssertEqual(opt.states.map(\.moments.encoding), [.int8, .int8, .fp32])
        XCTAssertEqual(opt.stateBytes, quantized + 2 * 64 * 4 + 4 * 4, "plus the step counters")
        XCTAssertEqual(opt.stateCodes().keys.sorted(), ["embed.weight.exp_avg.codes", "embed.weight.exp_avg_sq.codes",
                                                        "layers.0.mlp.up.weight.exp_avg.codes", "layers.0.mlp.up.weight.exp_avg_sq.codes"])
        XCTAssertEqual(opt.stateCodes()["embed.weight.exp_avg.codes"]?.shape, [64, 100])
        XCTAssertEqual(opt.stateTensors()["embed.weight.exp_avg.absmax"]?.shape, [4])
        XCTAssertNotNil(opt.stateTensors()["norm.weight.exp_avg"])
    }

    func testCheckpointRoundTripContinuesBitForBit() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sketchgrad-int8-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for spec in specs {
            let a = makeParams(), b = makeParams()
            let optA = try make(spec, a)
            for k in 1...3 { step(optA, a, k) } // crosses a basis refresh (gap 2)
            let url = dir.appendingPathComponent("state.safetensors")
            try TrainingState(step: 3, optimizerSpec: spec, optimizerState: optA.stateTensors(), optimizerCodes: optA.stateCodes())
                .write(to: url)
            let read = try TrainingState(contentsOf: url)
            XCTAssertEqual(read.optimizerCodes, optA.stateCodes(), spec)
            XCTAssertFalse(read.optimizerCodes.isEmpty, spec)
            let optB = try make(spec, b)
            for (pa, pb) in zip(a, b) { pb.1.value = pa.1.value.copy() }
            try withExtendedLifetime(read) {
                let before = Memory.stats.live(.optimizer)
                try optB.loadState(read.optimizerState, codes: read.optimizerCodes)
                XCTAssertEqual(Memory.stats.live(.optimizer), before, "\(spec): loaded state replaces the old at the same size")
            }
            for k in 4...5 { step(optA, a, k); step(optB, b, k) }
            for (pa, pb) in zip(a, b) { XCTAssertEqual(refBits(pa.1.value), refBits(pb.1.value), "\(spec) \(pa.0)") }
            XCTAssertEqual(optA.stateCodes(), optB.stateCodes(), spec)
            assertSameStateRef(optA.stateTensors(), optB.stateTensors())
        }
    }

    func testStateOfTheOtherEncodingIsAClearError() throws {
        let fp32 = AdamW(parameters: makeParams(), learningRate: 0.01)
        let int8 = AdamW(parameters: makeParams(), learningRate: 0.01, options: .init(states: .int8))
        XCTAssertThrowsError(try int8.loadState(fp32.stateTensors(), codes: fp32.stateCodes())) { e in
            let error = e as! OptimizerStateError
            XCTAssertEqual(error.encodingMismatch?.stored, .fp32)
            XCTAssertEqual(error.encodingMismatch?.expected, .int8)
            XCTAssertEqual(error.encodingMismatch?.keys, ["embed.weight.exp_avg", "embed.weight.exp_avg_sq",
                                                           "layers.0.mlp.up.weight.exp_avg", "layers.0.mlp.up.weight.exp_avg_sq"])
            XCTAssertTrue(error.missing.isEmpty && error.unexpected.isEmpty, "the encoding explains every key: \(error)")
            XCTAssertTrue("\(error)".contains("stored as fp32 but the optimizer keeps int8"), "\(error)")
        }
        XCTAssertThrowsError(try fp32.loadState(int8.stateTensors(), codes: int8.stateCodes())) { e in
            XCTAssertEqual((e as! OptimizerStateError).encodingMismatch?.stored, .int8)
            XCTAssertTrue("\(e)".contains("stored as int8 but the optimizer keeps fp32"), "\(e)")
        }
    }

    func testSmallTrainingRunTracksFP32States() throws {
        // A periodic token stream is learnable; 8-bit AdamW must follow fp32 AdamW's loss curve.
        let config = LlamaConfig(hiddenSize: 64, intermediateSize: 96, numHeads: 2, numLayers: 1, vocabSize: 64, maxSequenceLength: 32)
        var losses: [String: Float] = [:]
        for spec in ["adamw", "adamw(states:int8)"] {
            let trainer = try makeTinyTrainer(optimizer: spec, steps: 40, config: config, batch: 4)
            let periodic = (0..<8192).map { (i: Int) -> Int32 in Int32((i * 7 + i / 13) % 64) }
            let t = Trainer(model: trainer.model, optimizer: trainer.optimizer, data: TokenDataset(tokens: periodic), options: trainer.options)
            var last: [Float] = []
            for _ in 0..<40 { last.append(t.trainStep().loss) }
            XCTAssertLessThan(last.suffix(5).reduce(0, +) / 5, 0.6 * last[0], "\(spec) learns")
            losses[spec] = last.suffix(5).reduce(0, +) / 5
        }
        XCTAssertEqual(losses["adamw(states:int8)"]!, losses["adamw"]!, accuracy: 0.03 * losses["adamw"]!)
    }
}
