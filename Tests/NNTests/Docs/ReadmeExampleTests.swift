import XCTest

// The README's Swift example, verbatim from its imports on (DocSnippetsTests checks that it stays so).
import Autograd
import Estimators
import NN
import Tensor

/// A two-layer perceptron: (N, 16) features → (N, 4) class logits.
final class Classifier: Module {
    let hidden: Linear
    let output: Linear

    init(rng: inout RNG) {
        hidden = Linear(16, 64, std: 0.2, rng: &rng)
        output = Linear(64, 4, std: 0.2, rng: &rng)
    }

    func callAsFunction(_ x: Variable) -> Variable { output(hidden(x).silu()) }
}

func trainClassifier(steps: Int = 200) throws -> Float {
    var rng = RNG(seed: 0)
    let model = Classifier(rng: &rng)
    // Backward estimators per layer, by module path: the hidden layer keeps a rank-4 GradLite
    // sketch of its input (16 → 4 floats per row) instead of the input itself.
    let estimators = try EstimatorAssignment(parsing: "default=exact; hidden=gradlite(rank:4)")
    model.assignEstimators { path, layer in
        estimators.estimator(forPath: path, weightShape: layer.weight.shape, seed: 0)
    }
    let optimizer = AdamW(parameters: model.namedParameters(), learningRate: 1e-2)

    let x = Tensor.randomNormal([256, 16], rng: &rng)
    let labels = x.sliced(axis: 1, 0..<4).argmax(axis: 1).map { Int32($0) } // the largest of 4 features
    var loss: Float = .nan
    for _ in 0..<steps {
        let l = crossEntropy(model(Variable(x)), targets: labels)
        l.backward()
        optimizer.step()
        optimizer.zeroGrad()
        loss = l.value.item
    }
    return loss
}

final class ReadmeExampleTests: XCTestCase {
    /// Chance level is ln 4 ≈ 1.39; the sketched MLP must learn the rule well below it.
    func testReadmeExampleTrains() throws {
        XCTAssertLessThan(try trainClassifier(), 0.4)
    }
}
