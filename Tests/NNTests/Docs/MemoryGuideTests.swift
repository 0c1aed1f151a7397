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
}
