import Autograd
import Estimators
@testable import NN
import Tensor
import TestSupport
import XCTest

/// GaLore over a projection estimator: the estimate `Ĝ = left · rightᵀ` reaches the layer-wise
/// update factored, which projects it without forming the (m, n) gradient between refreshes and
/// gives the plain step's weights (which form it).
final class FactoredGaLoreTests: XCTestCase {
    /// Weights after three steps (refresh, factored, refresh with gap 2) and the `.gradient` bytes
    /// the second step's backward and update added at their peak.
    private func train(layerwise: Bool, rows m: Int, cols n: Int) -> (weight: Tensor, gradientPeak: Int) {
        let name = "layers.0.mlp.up.weight"
        let w = Parameter(randomTensor([m, n], seed: 40, std: 0.3), name: name)
        let estimator = GradLiteEstimator(inFeatures: n, outFeatures: m, rank: 8, seed: 1, stream: 2)
        let galore = GaLore(parameters: [(name, w)], learningRate: 1e-2, options: SubspaceOptions(rank: 4, gap: 2), layerwise: layerwise)
        var peak = 0
        for step in 0..<3 {
            let x = Variable(randomTensor([64, n], seed: 41 + UInt64(step)))
            let probe = Variable(randomTensor([64, m], seed: 50 + UInt64(step)))
            let before = Memory.stats.live(.gradient) // other tests' gradients may still be alive
            let (_, stats) = Memory.measure {
                (linear(x, w.variable, estimator: estimator) * probe).sum().backward()
                galore.step()
            }
            galore.zeroGrad()
            if step == 1 { peak = stats.peak(.gradient) - before }
        }
        return (w.value, peak)
    }

    func testLayerwiseGaLoreProjectsTheFactorsOnEitherSide() {
        for (m, n) in [(48, 32), (32, 48)] { // the basis on the input side, then on the output side
            let plain = train(layerwise: false, rows: m, cols: n), fused = train(layerwise: true, rows: m, cols: n)
            assertCloseRef(refDoubles(fused.weight), refDoubles(plain.weight), relative: 1e-5, "\(m)×\(n)")
            XCTAssertGreaterThanOrEqual(plain.gradientPeak, m * n * 4, "the plain step forms the gradient")
            XCTAssertLessThan(fused.gradientPeak, m * n * 4, "\(m)×\(n): the layer-wise update never forms it")
        }
    }
}
