import Autograd
import Estimators
import NN
import Tensor
import TestSupport
import XCTest

// The examples of docs/ESTIMATORS.md and of `LinearEstimator`'s documentation, verbatim: they
// must compile and work (DocSnippetsTests checks that they stay verbatim).
final class RowSubsampleEstimator: LinearEstimator, RecomputeStateful {
    let stride: Int
    private var step: UInt64 = 0
    init(stride: Int) { self.stride = stride }
    var description: String { "rows(1/\(stride))" }

    private func rows(_ count: Int, step: UInt64) -> [Int] {
        Array(Swift.stride(from: Int(step % UInt64(stride)), to: count, by: stride))
    }
    func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved {
        Checkpointing.willMutate(self)
        defer { step += 1 }
        return EstimatorSaved(activations: [x.indexSelect(rows(x.shape[0], step: step))], step: step)
    }
    func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
        let kept = delta.indexSelect(rows(delta.shape[0], step: saved.step))
        return Tensor.matmul(kept, saved.activations[0], transposeA: true) * Float(stride)
    }
    func savedBytes(rows: Int, weightShape: [Int]) -> Int {
        (rows + stride - 1) / stride * weightShape[1] * 4
    }
    func captureRecomputeState() -> Any { step }
    func restoreRecomputeState(_ state: Any) { step = state as! UInt64 }
}

/// Puts the row-subsampling estimator on every MLP up-projection of `model`.
/// - Returns: the paths of the layers that got it.
func useRowSubsampling(in model: Module) -> [String] {
    model.assignEstimators { path, _ in path.hasSuffix("mlp.up") ? RowSubsampleEstimator(stride: 4) : nil }
}

final class EstimatorGuideTests: XCTestCase {
    /// Averaged over one cycle of offsets the row-subsample estimate equals the exact gradient
    /// (1e-5 relative); each call saves a quarter of the rows.
    func testRowSubsampleEstimator() {
        let estimator = RowSubsampleEstimator(stride: 4)
        let w = randomParameter([6, 10], seed: 1, name: "w")
        let x = Variable(randomTensor([32, 10], seed: 2)), c = Variable(randomTensor([32, 6], seed: 3))
        var mean = Tensor.zeros([6, 10])
        for _ in 0..<4 {
            w.zeroGrad(); Tape.current.reset()
            let y = linear(x, w.variable, estimator: estimator)
            XCTAssertEqual(Tape.current.savedBytes, estimator.savedBytes(rows: 32, weightShape: [6, 10]))
            XCTAssertEqual(Tape.current.savedBytes, 8 * 10 * 4)
            (y * c).sum().backward()
            mean.addScaled(w.grad!, 0.25)
        }
        w.zeroGrad(); Tape.current.reset()
        (linear(x, w.variable, estimator: ExactEstimator()) * c).sum().backward()
        XCTAssertLessThan((mean - w.grad!).norm() / w.grad!.norm(), 1e-5)
    }

    func testAssigningTheUserEstimatorToAModel() {
        var rng = RNG(seed: 0)
        let config = LlamaConfig(hiddenSize: 16, intermediateSize: 32, numHeads: 2, numLayers: 2, vocabSize: 50)
        let model = LlamaModel(config: config, rng: &rng)
        XCTAssertEqual(useRowSubsampling(in: model), ["layers.0.mlp.up", "layers.1.mlp.up"])
        XCTAssertEqual("\(model.layers[1].mlp.namedLinears.first { $0.0 == "up" }!.1.estimator)", "rows(1/4)")
    }
}
