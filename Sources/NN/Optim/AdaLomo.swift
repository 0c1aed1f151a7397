import Autograd
import Foundation
import Tensor

/// AdaLomo (Lv et al. 2023): LOMO's fused update with an Adafactor-style factored second moment.
///
/// At step t (1-based; the backward of the (t)-th step runs before `step()` counts it) with
/// gradient `g` of a parameter viewed as (rows, cols) (cols = last dimension):
/// - `β2ₜ = 1 − t^(−0.8)`, so the first step uses β2 = 0 (the moments are just the first gradient's).
/// - `u = g² + 1e-30`; `row ← β2ₜ row + (1−β2ₜ) mean_j u` (rows); `col ← β2ₜ col + (1−β2ₜ) mean_i u` (cols);
///   `U_ij = g_ij / √(row_i / mean(row) · col_j)`. 1-D parameters keep a full `v` instead: `U = g/√v`.
/// - Update RMS clipped to 1: `U ← U / max(1, RMS(U))`.
/// - Relative step: `η = lr · max(1e-3, RMS(W))`; `W ← W(1 − η·wd) − η·U`.
/// State (`.optimizer`): `exp_avg_sq_row` (rows) and `exp_avg_sq_col` (cols) per matrix,
/// `exp_avg_sq` per vector, and `step`: rows + cols floats instead of Adam's 2·rows·cols.
/// The update runs in three passes over `g` and `W` without a gradient-sized temporary.
/// Use, clipping and accumulation as for `LOMO`.
public final class AdaLomo: FusedBackwardOptimizer {
    public struct Options: Equatable, Sendable {
        /// Threshold of the update's RMS.
        public var clipThreshold: Float
        /// `β2ₜ = 1 − t^(−decay)`.
        public var decay: Float
        public init(clipThreshold: Float = 1, decay: Float = 0.8) { self.clipThreshold = clipThreshold; self.decay = decay }
    }

    /// Factored (row, col) second moments for matrices, a full one for vectors.
    final class State {
        var row: Tensor
        var col: Tensor
        /// Matrices (rows, cols); vectors and scalars keep `row` as the full moment (rows = count).
        let rows: Int, cols: Int
        let factored: Bool
        init(shape: [Int]) {
            let f = shape.count >= 2
            let c = f ? shape[shape.count - 1] : 1
            let r = f ? shape.reduce(1, *) / Swift.max(c, 1) : shape.reduce(1, *)
            (factored, rows, cols) = (f, r, c)
            (row, col) = Memory.withCategory(.optimizer) { (Tensor.zeros([r]), Tensor.zeros([f ? c : 0])) }
        }
    }

    public let options: Options
    public var learningRate: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0
    let slots: [ParameterSlot]
    let states: [State]
    private let allParameters: [Parameter]
    private let fused: FusedBackward

    public init(parameters: [(String, Parameter)], learningRate: Float, weightDecay: Float = 0,
                options: Options = Options(), groups: ParameterGroups = ParameterGroups()) {
        self.options = options
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        slots = groups.slots(parameters)
        allParameters = parameters.map(\.1)
        states = slots.map { State(shape: $0.parameter.shape) }
        fused = FusedBackward(slots: slots, all: allParameters)
        attach()
    }

    public func attach() { fused.attach { [weak self] i, g, scale in self?.update(i, g, gradScale: scale) } }
    public func detach() { fused.detach() }
    public var updatesDuringBackward: Bool { fused.attached }

    /// See `LOMO.measureGradientNorm(maxNorm:_:)`.
    public func measureGradientNorm(maxNorm: Float, _ backward: () throws -> Void) rethrows -> Float {
        try fused.measure(maxNorm: maxNorm, backward)
    }

    private func update(_ i: Int, _ g: Tensor, gradScale scale: Float) {
        let slot = slots[i], s = states[i]
        precondition(g.shape == slot.parameter.shape, "AdaLomo: gradient \(g.shape) for \(slot.path) of shape \(slot.parameter.shape)")
        let t = stepCount + 1
        let beta = Float(1 - Foundation.pow(Double(t), -Double(options.decay)))
        let (rows, cols) = s.factored ? (s.rows, s.cols) : (1, s.rows)
        // Pass 1: second moments. Per-element factor of g in U: rf[i] · cf[j].
        var rf = [Float](repeating: 1, count: rows), cf = [Float](repeating: 1, count: cols)
        if s.factored {
            s.row.withUnsafeMutableBufferPointer { row in
                s.col.withUnsafeMutableBufferPointer { col in
                    AdaLomo.factoredMoments(g.pointer, rows: rows, cols: cols, scale: scale, beta: beta,
                                            row: row.baseAddress!, col: col.baseAddress!, rowFactor: &rf, colFactor: &cf)
                }
            }
        } else {
            s.row.withUnsafeMutableBufferPointer { v in
                for j in 0..<cols {
                    let gj = g.pointer[j] * scale
                    v[j] = beta * v[j] + (1 - beta) * (gj * gj + 1e-30)
                    cf[j] = 1 / v[j].squareRoot()
                }
            }
        }
        // Pass 2: RMS of U and of W.
        var sumU = 0.0
        for r in 0..<rows {
            let gr = g.pointer + r * cols
            var acc: Float = 0
            for j in 0..<cols { let u = gr[j] * scale * rf[r] * cf[j]; acc += u * u }
            sumU += Double(acc)
        }
        let n = Double(Swift.max(g.count, 1))
        let rmsU = Float((sumU / n).squareRoot())
        let rmsW = Float((Double(slot.parameter.value.squaredNorm()) / n).squareRoot())
        let eta = learningRate * slot.options.learningRateScale * Swift.max(1e-3, rmsW)
        let shrink = 1 / Swift.max(1, rmsU / options.clipThreshold)
        let decay = 1 - eta * slot.weightDecay(default: weightDecay)
        // Pass 3: the update.
        slot.parameter.updateInPlace { value in
            value.withUnsafeMutableBufferPointer { w in
                for r in 0..<rows {
                    let gr = g.pointer + r * cols, wr = w.baseAddress! + r * cols
                    let k = eta * shrink * scale * rf[r]
                    for j in 0..<cols { wr[j] = wr[j] * decay - k * cf[j] * gr[j] }
                }
            }
        }
    }

    /// `u = (scale·g)² + 1e-30`; `row ← β row + (1−β) mean_j u`; `col ← β col + (1−β) mean_i u`;
    /// then `rowFactor[i] = 1/√(row_i/mean(row))`, `colFactor[j] = 1/√col_j`.
    static func factoredMoments(_ g: UnsafePointer<Float>, rows: Int, cols: Int, scale: Float, beta: Float,
                                row: UnsafeMutablePointer<Float>, col: UnsafeMutablePointer<Float>,
                                rowFactor: inout [Float], colFactor: inout [Float]) {
        var colSum = [Double](repeating: 0, count: cols)
        for r in 0..<rows {
            let gr = g + r * cols
            var acc = 0.0
            for j in 0..<cols {
                let x = gr[j] * scale
                let u = Double(x * x + 1e-30)
                acc += u
                colSum[j] += u
            }
            row[r] = beta * row[r] + (1 - beta) * Float(acc / Double(cols))
        }
        var rowTotal = 0.0
        for r in 0..<rows { rowTotal += Double(row[r]) }
        let rowMean = Float(rowTotal / Double(Swift.max(rows, 1)))
        for r in 0..<rows { rowFactor[r] = 1 / (row[r] / rowMean).squareRoot() }
        for j in 0..<cols {
            col[j] = beta * col[j] + (1 - beta) * Float(colSum[j] / Double(rows))
            colFactor[j] = 1 / col[j].squareRoot()
        }
    }

    public func step() {
        for (i, slot) in slots.enumerated() {
            if let g = slot.parameter.grad { slot.parameter.grad = nil; update(i, g, gradScale: 1) }
        }
        fused.resetScale()
        stepCount += 1
    }

    public func zeroGrad() { for p in allParameters { p.zeroGrad() } }

    private var entries: [StateEntry] {
        var out: [StateEntry] = []
        for (slot, s) in zip(slots, states) {
            if s.factored {
                out.append(.tensor("\(slot.path).exp_avg_sq_row", { s.row }, { s.row = $0 }, shape: s.row.shape))
                out.append(.tensor("\(slot.path).exp_avg_sq_col", { s.col }, { s.col = $0 }, shape: s.col.shape))
            } else {
                out.append(.tensor("\(slot.path).exp_avg_sq", { s.row }, { s.row = $0 }, shape: s.row.shape))
            }
        }
        out.append(.count("step", { [unowned self] in stepCount }, { [unowned self] in stepCount = $0 }))
        return out
    }

    public func stateTensors() -> [String: Tensor] { entries.collect() }
    public func loadState(_ tensors: [String: Tensor], codes: [String: ByteTensor]) throws {
        try entries.load(tensors, codes: codes, optimizer: description)
    }

    public var description: String {
        "AdaLomo(clip \(options.clipThreshold), decay \(options.decay), weight decay \(weightDecay)) on \(slots.count) parameters"
    }
}
