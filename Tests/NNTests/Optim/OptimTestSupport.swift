import Autograd
import Foundation
import TestSupport
import Tensor
import XCTest

// Double-precision helpers for hand-written reference updates. Matrices are row-major [Double].

/// Deterministic, irregular values in about [-1, 1] (no RNG, so references are self-contained).
func refWave(_ count: Int, seed: Double) -> [Double] {
    (0..<count).map { i -> Double in
        let x = Double(i)
        let a: Double = Foundation.sin(x * 1.37 + seed) * 0.8
        let b: Double = Foundation.cos(x * 0.61 * seed + 0.3) * 0.3
        return a + b
    }
}

func refTensor(_ values: [Double], _ shape: [Int]) -> Tensor { Tensor(values.map(Float.init), shape: shape) }
func refDoubles(_ t: Tensor) -> [Double] { t.scalars.map(Double.init) }

func refParameter(_ values: [Double], _ shape: [Int], name: String = "p") -> Parameter {
    Parameter(Memory.withCategory(.parameter) { refTensor(values, shape) }, name: name)
}

/// (m, k) · (k, n).
func refMatmul(_ a: [Double], _ b: [Double], _ m: Int, _ k: Int, _ n: Int) -> [Double] {
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m { for p in 0..<k { let x = a[i * k + p]; for j in 0..<n { c[i * n + j] += x * b[p * n + j] } } }
    return c
}

/// (m, n) → (n, m).
func refTranspose(_ a: [Double], _ m: Int, _ n: Int) -> [Double] {
    var t = [Double](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n { t[j * m + i] = a[i * n + j] } }
    return t
}

/// An (n, n) orthogonal matrix: a product of three Householder reflections of fixed vectors.
func refOrthogonal(_ n: Int, seed: Double) -> [Double] {
    var q = [Double](repeating: 0, count: n * n)
    for i in 0..<n { q[i * n + i] = 1 }
    for r in 0..<3 {
        let v = refWave(n, seed: seed + Double(r) * 2.1)
        let vv = v.reduce(0) { $0 + $1 * $1 }
        // q ← q (I − 2 v vᵀ / vᵀv)
        for i in 0..<n {
            let dot = (0..<n).reduce(0.0) { $0 + q[i * n + $1] * v[$1] }
            for j in 0..<n { q[i * n + j] -= 2 * dot * v[j] / vv }
        }
    }
    return q
}

/// The first `r` columns of an (n, n) matrix: (n, r).
func refLeadingColumns(_ a: [Double], _ n: Int, _ r: Int) -> [Double] {
    (0..<n).flatMap { i in (0..<r).map { a[i * n + $0] } }
}

/// `U diag(s) Vᵀ` for U (m, m), V (n, n), s (min(m, n)): a matrix with a known SVD.
func refWithSingularValues(_ s: [Double], u: [Double], v: [Double], _ m: Int, _ n: Int) -> [Double] {
    var out = [Double](repeating: 0, count: m * n)
    for k in 0..<s.count { for i in 0..<m { for j in 0..<n { out[i * n + j] += u[i * m + k] * s[k] * v[j * n + k] } } }
    return out
}

func refMaxAbs(_ a: [Double]) -> Double { nanAwareMax(a.map(Swift.abs)) }

/// `max |a − b| / max(1e-12, max|b|)`; NaN when any element of either is NaN.
func refRelativeError(_ a: [Double], _ b: [Double]) -> Double {
    nanAwareMax(zip(a, b).map { Swift.abs($0 - $1) }) / Swift.max(1e-12, refMaxAbs(b))
}

/// Fails when `|a − b| > tol · max(1e-12, max|b|)` anywhere, or when anything is NaN.
func assertCloseRef(_ a: [Double], _ b: [Double], relative tol: Double, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "count \(message)", file: file, line: line)
    let error = refRelativeError(a, b)
    XCTAssertLessThanOrEqual(error, tol, "relative error \(error) \(message)", file: file, line: line)
}

/// Bit patterns of a tensor, for exact comparisons (NaN-safe).
func refBits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

func assertSameStateRef(_ a: [String: Tensor], _ b: [String: Tensor], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.keys.sorted(), b.keys.sorted(), file: file, line: line)
    for (k, t) in a {
        guard let u = b[k] else { continue }
        XCTAssertEqual(t.shape, u.shape, k, file: file, line: line)
        XCTAssertEqual(refBits(t), refBits(u), k, file: file, line: line)
    }
}
