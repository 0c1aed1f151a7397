import Autograd
import Foundation
@testable import NN
import Tensor
import XCTest

final class AdaLomoTests: XCTestCase {
    /// One AdaLomo update in Double (ALGORITHMS.md §7, Adafactor's factored moment). `row`/`col`
    /// are the previous moments; for a vector pass cols = 1 and `col` empty (then `row` is v).
    private func reference(w: inout [Double], g: [Double], row: inout [Double], col: inout [Double],
                           rows: Int, cols: Int, t: Int, lr: Double, wd: Double = 0) {
        let beta = 1 - Foundation.pow(Double(t), -0.8)
        let u = g.map { $0 * $0 + 1e-30 }
        var update = g
        if col.isEmpty {
            for i in row.indices { row[i] = beta * row[i] + (1 - beta) * u[i]; update[i] = g[i] / row[i].squareRoot() }
        } else {
            for i in 0..<rows { row[i] = beta * row[i] + (1 - beta) * (0..<cols).reduce(0.0) { $0 + u[i * cols + $1] } / Double(cols) }
            for j in 0..<cols { col[j] = beta * col[j] + (1 - beta) * (0..<rows).reduce(0.0) { $0 + u[$1 * cols + j] } / Double(rows) }
            let rowMean = row.reduce(0, +) / Double(rows)
            for i in 0..<rows { for j in 0..<cols { update[i * cols + j] = g[i * cols + j] / (row[i] / rowMean * col[j]).squareRoot() } }
        }
        let n = Double(g.count)
        let rmsU = (update.reduce(0) { $0 + $1 * $1 } / n).squareRoot()
        let rmsW = (w.reduce(0) { $0 + $1 * $1 } / n).squareRoot()
        let eta = lr * Swift.max(1e-3, rmsW)
        for i in w.indices { w[i] = w[i] * (1 - eta * wd) - eta * update[i] / Swift.max(1, rmsU) }
    }

    /// Backward of `Σ W∘C`: the gradient of W is exactly C.
    private func backward(_ p: Parameter, _ c: [Double]) {
        (p.variable * Variable(refTensor(c, p.shape))).sum().backward()
    }

    func testFirstStepUsesBetaZeroWhateverTheStoredMoments() throws {
        let (rows, cols) = (8, 12)
        var w = refWave(rows * cols, seed: 1)
        let g = refWave(rows * cols, seed: 2).map { $0 * 3 }
        let p = refParameter(w, [rows, cols], name: "w")
        let opt = AdaLomo(parameters: [("w", p)], learningRate: 0.01)
        // Moments left from elsewhere must not leak into step 1 (β2 = 1 − 1^(−0.8) = 0).
        var state = opt.stateTensors()
        state["w.exp_avg_sq_row"] = Tensor.full([rows], 100)
        state["w.exp_avg_sq_col"] = Tensor.full([cols], 100)
        try opt.loadState(state)
        backward(p, g)
        XCTAssertNil(p.grad)
        opt.step()
        var row = [Double](repeating: 0, count: rows), col = [Double](repeating: 0, count: cols)
        reference(w: &w, g: g, row: &row, col: &col, rows: rows, cols: cols, t: 1, lr: 0.01)
        assertCloseRef(refDoubles(p.value), w, relative: 1e-5)
        assertCloseRef(refDoubles(opt.stateTensors()["w.exp_avg_sq_row"]!), row, relative: 1e-5)
        assertCloseRef(refDoubles(opt.stateTensors()["w.exp_avg_sq_col"]!), col, relative: 1e-5)

        // Step 2: β2 = 1 − 2^(−0.8).
        let g2 = refWave(rows * cols, seed: 3)
        backward(p, g2)
        opt.step()
        reference(w: &w, g: g2, row: &row, col: &col, rows: rows, cols: cols, t: 2, lr: 0.01)
        assertCloseRef(refDoubles(p.value), w, relative: 1e-5)
        assertCloseRef(refDoubles(opt.stateTensors()["w.exp_avg_sq_col"]!), col, relative: 1e-5)
    }

    func testVectorKeepsAFullMomentAndWeightDecayApplies() {
        var w = refWave(5, seed: 4)
        let g = refWave(5, seed: 5)
        let p = refParameter(w, [5], name: "norm")
        let opt = AdaLomo(parameters: [("norm", p)], learningRate: 0.1, weightDecay: 0.2)
        backward(p, g)
        opt.step()
        var v = [Double](repeating: 0, count: 5), none: [Double] = []
        reference(w: &w, g: g, row: &v, col: &none, rows: 5, cols: 1, t: 1, lr: 0.1, wd: 0.2)
        assertCloseRef(refDoubles(p.value), w, relative: 1e-5)
        XCTAssertEqual(opt.stateTensors().keys.sorted(), ["norm.exp_avg_sq", "step"])
    }

    func testStateIsRowsPlusColumns() {
        let before = Memory.stats.live(.optimizer)
        let opt = AdaLomo(parameters: [("w", refParameter(refWave(96, seed: 1), [8, 12])), ("b", refParameter(refWave(3, seed: 2), [3]))],
                          learningRate: 0.01)
        XCTAssertEqual(Memory.stats.live(.optimizer) - before, (8 + 12 + 3) * 4)
        withExtendedLifetime(opt) {}
    }
}
