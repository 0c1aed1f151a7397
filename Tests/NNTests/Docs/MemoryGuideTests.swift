import Autograd
import Estimators
import NN
import Tensor
import XCTest

// The example of docs/MEMORY.md, verbatim (DocSnippetsTests checks that it stays so).

/// Saved-activation bytes and the activation peak of one linear layer (N = 2048, 256 → 688)
/// under the estimator `spec`.
func measureOneLayer(estimator spec: String) throws -> (savedBytes: Int, peakActivationBytes: Int) {
    var rng = RNG(seed: 1)
    let layer = Linear(256, 688, rng: &rng)
    layer.estimator = try EstimatorSpec(parsing: spec).make(weightShape: layer.weight.shape, seed: 1, stream: 0)
    let x = Variable(Tensor.randomNormal([2048, 256], rng: &rng))
    let (saved, stats) = Memory.measure { () -> Int in
        // The layer's input is made here, so only what the layer saves keeps it alive.
        let y = layer(x.silu())
        let saved = Tape.current.savedBytes // what the tape keeps for the backward
        for entry in Tape.current.savedEntries { print(entry.op, entry.label, entry.bytes) }
        y.square().mean().backward()
        return saved
    }
    return (saved, stats.peak(.activation))
}

/// The lean configuration on a LLaMA model: GradLite at rank `rank` on every block layer (q/k/v
/// and gate/up share their sketches) and compressed saved tensors (int8, attention in bf16).
func makeLean(_ model: LlamaModel, rank: Int, seed: UInt64) throws {
    let estimators = try EstimatorAssignment(parsing: "default=exact; layers.*=gradlite(rank:\(rank))")
    model.assignEstimators(estimators, seed: seed, skip: { $0 == "head" })
    try model.assignActivationCodecs(ActivationCodecAssignment(parsing: "default=int8; layers.*.attention=bf16"))
}

final class MemoryGuideTests: XCTestCase {
    /// Exact keeps x (2048·256 floats); Haar at rank 64 keeps z = xV (2048·64 floats).
    func testMemoryGuideExample() throws {
        let exact = try measureOneLayer(estimator: "exact")
        let haar = try measureOneLayer(estimator: "haar(rank:64)")
        XCTAssertEqual(exact.savedBytes, 2048 * 256 * 4)
        XCTAssertEqual(haar.savedBytes, 2048 * 64 * 4)
        // The peak also holds x, y and the backward's transients, so it is larger than either.
        XCTAssertGreaterThan(exact.peakActivationBytes, exact.savedBytes)
        // What the guide is about: the estimator's peak is lower, by at least the bytes it saves.
        XCTAssertLessThanOrEqual(haar.peakActivationBytes, exact.peakActivationBytes - (exact.savedBytes - haar.savedBytes))
    }

    /// The lean configuration saves a fraction of what exact saves on the same batch.
    func testLeanConfigurationExample() throws {
        let config = LlamaConfig(hiddenSize: 64, intermediateSize: 172, numHeads: 2, numLayers: 2, vocabSize: 64, maxSequenceLength: 64)
        let tokens = (0..<128).map { Int32($0 % 64) }
        func saved(_ lean: Bool) throws -> Int {
            var rng = RNG(seed: 2)
            let model = LlamaModel(config: config, rng: &rng)
            if lean { try makeLean(model, rank: 16, seed: 0) }
            Tape.current.reset()
            let loss = model.loss(tokens: tokens, targets: tokens, batch: 2, seq: 64)
            defer { loss.backward() }
            return Tape.current.savedBytes
        }
        let exact = try saved(false), lean = try saved(true)
        XCTAssertLessThan(Double(lean), 0.5 * Double(exact), "lean \(lean) vs exact \(exact)")
    }
}
