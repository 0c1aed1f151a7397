import ArgumentParser
import Autograd
import COpenBLAS
import Estimators
import Foundation
import NN
import Tensor

struct EstimatorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estimators",
        abstract: "Every backward estimator of a linear layer against exact: time and saved bytes (one JSON object).",
        discussion: "Example: sketchgrad-bench estimators --rows 2048 --iterations 30 --refresh 20")

    @Option(help: "Rows N of the layer input (batch × sequence), 1...16777216. Example: --rows 2048")
    var rows = 2048

    @Option(help: "Timed iterations per estimator, 1...100000 (after 3 warm-up ones). Example: --iterations 30")
    var iterations = 30

    @Option(help: "Refresh interval T of the adaptive estimators, ≥ 1. Example: --refresh 20")
    var refresh = 20

    func validate() throws {
        guard (1...(1 << 24)).contains(rows) else { throw ValidationError("--rows must be in 1...16777216, got \(rows)") }
        guard (1...100_000).contains(iterations) else { throw ValidationError("--iterations must be in 1...100000, got \(iterations)") }
        guard refresh >= 1 else { throw ValidationError("--refresh must be at least 1, got \(refresh)") }
    }

    func run() throws {
        try benchmark("estimators") {
            // Input, upstream gradient, output and saved copies of both layer shapes (256 ↔ 688).
            try checkFits(rows * (256 + 688) * 4 * 8, what: "--rows \(rows)")
            try runEstimatorBenchmark(rows: rows, iterations: iterations, refresh: refresh)
        }
    }
}

/// `sketchgrad-bench estimators [--rows N] [--iterations I] [--refresh T]`
///
/// For a linear layer with N = 2048 rows and the two LLaMA-20M MLP shapes (n = 256 → m = 688 and
/// n = 688 → m = 256), times forward + backward through the tape (`linear`, dx and dW both
/// needed, upstream gradient given) and measures the saved bytes (the tape's accounting) of every
/// estimator at k = n/4, beside exact in the same run. Steps that refresh a subspace (subspace
/// iteration, eigendecomposition) are timed separately from ordinary steps. Prints JSON.
/// Target (issue 3): the projection overhead of Haar–Stiefel and GradLite, ordinary steps,
/// at most 25% of the exact layer's forward + backward time.
func runEstimatorBenchmark(rows: Int, iterations: Int, refresh: Int) throws {
    let layers = [(n: 256, m: 688), (n: 688, m: 256)].map { shape in
        benchmarkLayer(rows: rows, n: shape.n, m: shape.m, iterations: iterations, refresh: refresh)
    }
    let report = EstimatorBenchReport(
        benchmark: "estimators", rows: rows, iterations: iterations, refreshInterval: refresh,
        threads: Parallel.threads, openblasCore: String(cString: openblas_get_corename()),
        overheadTarget: 0.25, layers: layers)
    try printJSON(report)
}

struct EstimatorBenchReport: Encodable {
    let benchmark: String
    let rows: Int
    let iterations: Int
    let refreshInterval: Int
    let threads: Int
    let openblasCore: String
    /// Maximum allowed `overhead` of haar and gradlite on ordinary steps.
    let overheadTarget: Double
    let layers: [LayerReport]
}

struct LayerReport: Encodable {
    let n: Int
    let m: Int
    let rank: Int
    let estimators: [EstimatorTiming]
}

struct EstimatorTiming: Encodable {
    let spec: String
    /// Bytes the tape holds after the forward (its own accounting).
    let savedBytes: Int
    /// `savedBytes` relative to exact.
    let savedFraction: Double
    /// Persistent estimator state (bases, covariance, error-feedback memory), bytes.
    let stateBytes: Int
    /// Medians over ordinary (non-refresh) steps, milliseconds.
    let forwardMs: Double
    let backwardMs: Double
    let totalMs: Double
    /// (total − exact total) / exact total, ordinary steps.
    let overhead: Double
    /// Median forward + backward of refresh steps, nil when none ran.
    let refreshTotalMs: Double?
    let refreshSteps: Int
    let meetsTarget: Bool?
}

private func benchmarkLayer(rows: Int, n: Int, m: Int, iterations: Int, refresh: Int) -> LayerReport {
    let k = n / 4
    // exact first: the reference of every overhead.
    let specs = ["exact", "recompute", "lowrank(rank:\(k),refresh:\(refresh))", "gaussian(rank:\(k))", "haar(rank:\(k))",
                 "optimal(rank:\(k),refresh:\(refresh))",
                 "gradlite(rank:\(k),refresh:\(refresh))",
                 "gradlite(rank:\(k),refresh:\(refresh),feedback:on)",
                 "gradlite(rank:\(k),refresh:\(refresh),adaptive:off)"]
    var rng = RNG(seed: 2024)
    let weight = Parameter(Memory.withCategory(.parameter) { Tensor.randomNormal([m, n], std: 0.02, rng: &rng) }, name: "w")
    let input = Parameter(Tensor.randomNormal([rows, n], rng: &rng), name: "x")
    let delta = Tensor.randomNormal([rows, m], rng: &rng)
    // The specs are fixed above and valid for every n ≥ 4; a parse failure is a programming error.
    let estimators = specs.map {
        try! EstimatorSpec(parsing: $0).make(weightShape: [m, n], seed: 1, stream: estimatorStream(forPath: "bench"))
    }
    var forward = [[Double]](repeating: [], count: specs.count), backward = forward, refreshTotals = forward
    var saved = [Int](repeating: 0, count: specs.count)
    // Round-robin over the estimators, so load changes on a shared machine hit all of them alike.
    let warmup = 3
    for i in 0..<(warmup + iterations) {
        for (e, estimator) in estimators.enumerated() {
            let isRefresh = refreshes(estimator)
            weight.zeroGrad(); input.zeroGrad()
            Tape.current.reset()
            let t0 = ContinuousClock.now
            let y = linear(input.variable, weight.variable, estimator: estimator)
            let t1 = ContinuousClock.now
            saved[e] = Tape.current.savedBytes
            Tape.current.backward(y, gradient: delta)
            let t2 = ContinuousClock.now
            guard i >= warmup else { continue }
            if isRefresh {
                refreshTotals[e].append(milliseconds(t2 - t0))
            } else {
                forward[e].append(milliseconds(t1 - t0)); backward[e].append(milliseconds(t2 - t1))
            }
        }
    }
    weight.zeroGrad(); input.zeroGrad()
    let totals = specs.indices.map { median(zip(forward[$0], backward[$0]).map { $0 + $1 }) }
    let exactTotal = totals[0], exactSaved = saved[0]
    var results: [EstimatorTiming] = []
    for (e, estimator) in estimators.enumerated() {
        let overhead = totals[e] / exactTotal - 1
        let gated = specs[e].hasPrefix("haar") || specs[e].hasPrefix("gradlite")
        results.append(EstimatorTiming(
            spec: "\(estimator)", savedBytes: saved[e], savedFraction: Double(saved[e]) / Double(exactSaved),
            stateBytes: estimator.stateTensors().values.reduce(0) { $0 + $1.bytes },
            forwardMs: median(forward[e]), backwardMs: median(backward[e]), totalMs: totals[e], overhead: overhead,
            refreshTotalMs: refreshTotals[e].isEmpty ? nil : median(refreshTotals[e]), refreshSteps: refreshTotals[e].count,
            meetsTarget: gated ? overhead <= 0.25 : nil))
    }
    return LayerReport(n: n, m: m, rank: k, estimators: results)
}

/// Whether the estimator's next forward refreshes a subspace (timed separately).
private func refreshes(_ e: LinearEstimator) -> Bool {
    guard let s = (e as? any SketchingEstimator)?.sketch else { return false }
    return s.refreshes(atStep: s.clock.step)
}

private func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15
}
