import Tensor
import TestSupport
import XCTest

// Naive reference implementations (plain index loops, Double accumulation) that the kernels are
// checked against, plus assertion helpers shared by the TensorTests files.

/// Row-major strides of `shape`.
func strides(of shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
    return s
}

/// Multi-index of flat position `flat` in `shape`.
func multiIndex(_ flat: Int, _ shape: [Int]) -> [Int] {
    var idx = [Int](repeating: 0, count: shape.count)
    var r = flat
    for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
        idx[d] = r % shape[d]; r /= shape[d]
    }
    return idx
}

/// Flat position of `idx` in `shape`.
func flatIndex(_ idx: [Int], _ shape: [Int]) -> Int {
    zip(idx, strides(of: shape)).reduce(0) { $0 + $1.0 * $1.1 }
}

/// Element of `t` at the broadcast index `outIdx` (right-aligned, size-1 dims repeat).
func broadcastElement(_ t: Tensor, _ outIdx: [Int]) -> Float {
    let off = outIdx.count - t.rank
    let idx = (0..<t.rank).map { t.shape[$0] == 1 ? 0 : outIdx[$0 + off] }
    return t.scalars[flatIndex(idx, t.shape)]
}

/// `op(a) · op(b)` for 2-D `a`, `b` with Double accumulation.
func naiveMatmul(_ a: [Float], _ aShape: [Int], _ b: [Float], _ bShape: [Int], transposeA: Bool, transposeB: Bool) -> [Float] {
    let (m, k) = transposeA ? (aShape[1], aShape[0]) : (aShape[0], aShape[1])
    let n = transposeB ? bShape[0] : bShape[1]
    var out = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let x = transposeA ? a[p * aShape[1] + i] : a[i * aShape[1] + p]
                let y = transposeB ? b[j * bShape[1] + p] : b[p * bShape[1] + j]
                s += Double(x) * Double(y)
            }
            out[i * n + j] = Float(s)
        }
    }
    return out
}

/// Asserts that `actual` has `shape` and its elements are within `tol · max(1, |expected|)`.
func assertClose(_ actual: Tensor, _ expected: [Float], shape: [Int], tol: Float, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, shape, "shape \(message)", file: file, line: line)
    guard actual.count == expected.count else {
        XCTFail("count \(actual.count) vs \(expected.count) \(message)", file: file, line: line); return
    }
    let a = actual.scalars
    var worst: Float = 0, at = -1
    for i in a.indices {
        let e = abs(a[i] - expected[i]) / max(1, abs(expected[i]))
        if !(e <= worst) { worst = e; at = i }
    }
    if !(worst <= tol) {
        XCTFail("\(message): error \(worst) > \(tol) at \(at): \(a[at]) vs \(expected[at])", file: file, line: line)
    }
}

/// Asserts two tensors have the same shape and elements within `tol` (absolute, scaled by max(1, |b|)).
func assertClose(_ a: Tensor, _ b: Tensor, tol: Float, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    assertClose(a, b.scalars, shape: b.shape, tol: tol, message, file: file, line: line)
}

/// A tensor of `shape` with N(0, 1) entries from `seed`.
func randn(_ shape: [Int], seed: UInt64) -> Tensor { randomTensor(shape, seed: seed) }
