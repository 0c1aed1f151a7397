import Estimators
import Foundation
import Tensor
import TestSupport
import XCTest

/// The adaptive bases (low-rank, GradLite's core) on inputs with a decaying spectrum, where a
/// refresh matters: x (N = 64, n = 32) has singular values 0.5ⁱ, so `xᵀx` has eigenvalue ratio
/// 0.25 between neighbours and every refresh `V ← qr(xᵀ (x V))` shrinks the angle to the top-k
/// right singular subspace V* of x by about 4×. (With x = I a refresh changes nothing, so such a
/// test could not fail.)
final class AdaptationTests: XCTestCase {
    let rows = 64, n = 32, m = 12

    /// x with singular values 0.5ⁱ, its top-`k` right singular vectors V* (n, k), and an upstream δ.
    func problem(k: Int) throws -> (x: Tensor, top: Tensor, delta: Tensor) {
        let x = matrix(m: rows, n: n, singularValues: (0..<n).map { Float(pow(0.5, Double($0))) }, seed: 31)
        let (_, vectors) = try Tensor.matmul(x, x, transposeA: true).symmetricEigen() // descending
        return (x, vectors.sliced(axis: 1, 0..<k), randomTensor([rows, m], seed: 32))
    }

    /// ‖V*ᵀ V‖²_F / k: 1 when span(V) contains span(V*), about k·dim(V)/n² for a random V.
    func alignment(_ top: Tensor, _ basis: Tensor) -> Double {
        squaredNorm(Tensor.matmul(top, basis, transposeA: true)) / Double(top.shape[1])
    }

    func testLowRankBasisConvergesToTheInputsTopSubspace() throws {
        let k = 4
        let (x, top, delta) = try problem(k: k)
        let adaptive = try EstimatorSpec(parsing: "lowrank(rank:\(k),refresh:1)").make(weightShape: [m, n], seed: 1, stream: 2) as! LowRankEstimator
        let before = alignment(top, adaptive.basis)
        let g = Tensor.matmul(delta, x, transposeA: true)
        // What the Haar start would estimate, G V₀ V₀ᵀ (the first forward already refreshes).
        let v0 = adaptive.basis
        let firstError = relativeError(Tensor.matmul(Tensor.matmul(g, v0), v0, transposeB: true), g)
        for _ in 0..<10 { _ = estimate(adaptive, x: x, delta: delta) }
        let after = alignment(top, adaptive.basis)
        XCTAssertLessThan(before, 0.5, "a Haar start is not aligned")
        XCTAssertGreaterThan(after, 1 - 1e-4, "10 refreshes align the basis with V*")
        // The biased estimate G V Vᵀ then keeps all but the tail 0.5^k of the gradient.
        let error = relativeError(estimate(adaptive, x: x, delta: delta), g)
        XCTAssertLessThan(error, 0.1, "after refreshes")
        XCTAssertLessThan(error, firstError / 4, "refreshes must cut the error (Haar start \(firstError))")
    }

    func testGradLiteCoreAdaptsAndTheStaticAblationDoesNot() throws {
        let (k, p) = (8, 2)
        let (x, top, delta) = try problem(k: k - p)
        func run(_ adaptive: Bool) throws -> Double {
            let e = try EstimatorSpec(parsing: "gradlite(rank:\(k),explore:\(p),refresh:1,adaptive:\(adaptive ? "on" : "off"))")
                .make(weightShape: [m, n], seed: 1, stream: 2) as! GradLiteEstimator
            for _ in 0..<10 { _ = estimate(e, x: x, delta: delta) }
            return alignment(top, e.core)
        }
        XCTAssertGreaterThan(try run(true), 1 - 1e-4)
        XCTAssertLessThan(try run(false), 0.6)
    }
}
