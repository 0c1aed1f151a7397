import Estimators
import Tensor
import TestSupport
import XCTest

/// One forward + backward of `estimator` outside the tape: Ĝ for input x (N, n) and upstream δ (N, m).
func estimate(_ estimator: LinearEstimator, x: Tensor, delta: Tensor) -> Tensor {
    let shape = [delta.shape[1], x.shape[1]]
    let saved = estimator.save(input: x, weightShape: shape)
    return estimator.weightGradient(outputGradient: delta, saved: saved, weightShape: shape)
}

/// Inputs that make the exact gradient equal to `g` (m, n): x = I (n, n), δ = gᵀ, so δᵀx = g.
func inputs(forGradient g: Tensor) -> (x: Tensor, delta: Tensor) {
    (Tensor.eye(g.shape[1]), g.transposed())
}

/// A (m, n) matrix with singular values `sigma` (descending, count ≤ min(m, n)) and Haar singular vectors.
func matrix(m: Int, n: Int, singularValues sigma: [Float], seed: UInt64) -> Tensor {
    var rng = RNG(seed: seed)
    let r = sigma.count
    let u = Stiefel.haar(rows: m, cols: r, rng: &rng), v = Stiefel.haar(rows: n, cols: r, rng: &rng)
    var us = u
    us.withUnsafeMutableBufferPointer { p in for i in 0..<m { for j in 0..<r { p[i * r + j] *= sigma[j] } } }
    return Tensor.matmul(us, v, transposeB: true)
}

func squaredDistance(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape)
    var s = 0.0
    for i in 0..<a.count { let d = Double(a.pointer[i]) - Double(b.pointer[i]); s += d * d }
    return s
}

func squaredNorm(_ a: Tensor) -> Double { a.scalars.reduce(0.0) { $0 + Double($1) * Double($1) } }

/// Monte-Carlo statistics of an estimator for a fixed G: the mean of Ĝ and the mean squared error.
struct MonteCarlo {
    var sum: [Double]
    var squaredError = 0.0
    var draws = 0
    let g: Tensor

    init(_ g: Tensor) { self.g = g; sum = [Double](repeating: 0, count: g.count) }

    mutating func add(_ gHat: Tensor) {
        for i in 0..<gHat.count { sum[i] += Double(gHat.pointer[i]) }
        squaredError += squaredDistance(gHat, g)
        draws += 1
    }

    var mse: Double { squaredError / Double(draws) }
    /// ‖mean(Ĝ) − G‖².
    var meanError: Double {
        var s = 0.0
        for i in 0..<g.count { let d = sum[i] / Double(draws) - Double(g.pointer[i]); s += d * d }
        return s
    }
}

/// Exactly equal bit patterns.
func assertBitwiseEqual(_ a: Tensor, _ b: Tensor, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, message, file: file, line: line)
    XCTAssertEqual(a.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern), message, file: file, line: line)
}

func relativeError(_ a: Tensor, _ b: Tensor) -> Double { (squaredDistance(a, b) / max(squaredNorm(b), 1e-30)).squareRoot() }

/// An optimal-distribution estimator frozen at the ideal distribution for `g`: Q the eigenvectors
/// of GᵀG, π the water-filling of its eigenvalues (rounding-level eigenvalues zeroed), no refresh.
/// - Returns: the estimator and its closed-form MSE Σᵢ (1/πᵢ − 1) ‖G qᵢ‖².
func frozenOptimal(for g: Tensor, rank k: Int, seed: UInt64) -> (OptimalProjectionEstimator, mse: Double) {
    let n = g.shape[1]
    let (values, q) = try! Tensor.matmul(g, g, transposeA: true).symmetricEigen()
    let top = values.scalars[0]
    let sigma = values.scalars.map { $0 > 1e-6 * top ? $0 : 0 }
    let pi = waterFillingProbabilities(sigma, k: k)
    let estimator = OptimalProjectionEstimator(inFeatures: n, rank: k, refresh: 1_000_000, seed: seed, stream: 1)
    // Step 1 so no refresh runs (refreshes happen at multiples of the interval).
    try! estimator.loadState(["clock": EstimatorClock(seed: seed, stream: 1, step: 1).encoded,
                              "eigenbasis": q, "probabilities": Tensor(pi)])
    let gq = Tensor.matmul(g, q)
    var mse = 0.0
    for i in 0..<n {
        var energy = 0.0
        for r in 0..<g.shape[0] { let v = Double(gq.pointer[r * n + i]); energy += v * v }
        mse += pi[i] > 0 ? (1 / Double(pi[i]) - 1) * energy : energy
    }
    return (estimator, mse)
}
