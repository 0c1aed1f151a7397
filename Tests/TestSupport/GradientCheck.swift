import Autograd
import Foundation
import Tensor

/// Outcome of a finite-difference gradient check (see `gradientCheck`).
public struct GradientCheckResult: CustomStringConvertible {
    /// Largest `|analytic − numeric| / scale` over all checked elements, where `scale` is the
    /// largest |gradient| (analytic or numeric) of that parameter, at least `1e-3`.
    public var maxError: Float
    /// Where the largest error occurred.
    public var parameter: String
    public var index: Int
    public var analytic: Float
    public var numeric: Float

    public var description: String {
        "max error \(maxError) at \(parameter)[\(index)]: analytic \(analytic), numeric \(numeric)"
    }
}

/// Central finite differences against the tape's gradients.
///
/// For every element `pᵢ` of every parameter, the numeric derivative is
/// `(f(p + hᵢ) − f(p − hᵢ)) / 2hᵢ` with `hᵢ = h · max(1, |pᵢ|)` (a relative step, so large
/// entries are not perturbed below fp32 resolution), the two losses taken in Double. The
/// truncation error is O(hᵢ² f‴) and the rounding error about `ulp(f) / hᵢ`; with the default
/// `h = 1e-2` and O(1) losses both stay around 1e-4 relative to the gradient scale.
/// `f` must return a scalar variable built from the parameters' `.variable`s (use
/// `projectedSum` to check an op with a non-scalar output).
public func gradientCheck(_ params: [Parameter], h: Float = 1e-2, _ f: () -> Variable) -> GradientCheckResult {
    for p in params { p.zeroGrad() }
    Tape.current.reset()
    f().backward()
    var result = GradientCheckResult(maxError: 0, parameter: "", index: -1, analytic: 0, numeric: 0)
    for (pi, p) in params.enumerated() {
        let analytic = p.grad ?? Tensor.zeros(p.shape)
        p.zeroGrad()
        var numeric = [Float](repeating: 0, count: p.value.count)
        for i in 0..<p.value.count {
            let orig = p.value.pointer[i]
            let step = h * max(1, abs(orig))
            p.value.withUnsafeMutableBufferPointer { $0[i] = orig + step }
            let fp = withNoGrad { Double(f().value.item) }
            p.value.withUnsafeMutableBufferPointer { $0[i] = orig - step }
            let fm = withNoGrad { Double(f().value.item) }
            p.value.withUnsafeMutableBufferPointer { $0[i] = orig }
            numeric[i] = Float((fp - fm) / (2 * Double(step)))
        }
        let a = analytic.scalars
        let scale = max(nanAwareMax(a.map(abs)), nanAwareMax(numeric.map(abs)), 1e-3)
        for i in numeric.indices {
            let e = abs(numeric[i] - a[i]) / scale
            // NaN is the worst error: once seen it stays (a NaN gradient must fail the check).
            if !(e <= result.maxError) && !result.maxError.isNaN || result.index < 0 {
                result = GradientCheckResult(maxError: e, parameter: p.name.isEmpty ? "param\(pi)" : p.name,
                                             index: i, analytic: a[i], numeric: numeric[i])
            }
        }
    }
    return result
}

/// The largest relative error of `gradientCheck` (see there for `h` and the error measure).
public func maxGradientError(_ params: [Parameter], h: Float = 1e-2, _ f: () -> Variable) -> Float {
    gradientCheck(params, h: h, f).maxError
}

/// `Σ y ∘ r` for a fixed random `r` of `y`'s shape: turns any output into a scalar loss whose
/// gradient with respect to `y` is `r` (a generic, non-symmetric upstream gradient).
public func projectedSum(_ y: Variable, seed: UInt64 = 0x5EED) -> Variable {
    (y * Variable(randomTensor(y.shape, seed: seed))).sum()
}

/// A parameter with N(0, std²) entries from a fixed seed.
public func randomParameter(_ shape: [Int], seed: UInt64, std: Float = 1, name: String = "p") -> Parameter {
    var rng = RNG(seed: seed)
    return Parameter(Tensor.randomNormal(shape, std: std, rng: &rng), name: name)
}

/// A parameter with U(low, high) entries from a fixed seed (e.g. positive inputs for log/sqrt).
public func randomUniformParameter(_ shape: [Int], seed: UInt64, low: Float, high: Float, name: String = "p") -> Parameter {
    var rng = RNG(seed: seed)
    return Parameter(Tensor.randomUniform(shape, low: low, high: high, rng: &rng), name: name)
}

/// A constant tensor with N(0, std²) entries from a fixed seed.
public func randomTensor(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
    var rng = RNG(seed: seed)
    return Tensor.randomNormal(shape, std: std, rng: &rng)
}

/// The largest element, NaN when any element is NaN (`Sequence.max()` and `Swift.max` skip NaN,
/// which would let a NaN error pass a tolerance check); 0 for an empty sequence.
public func nanAwareMax<S: Sequence>(_ values: S) -> S.Element where S.Element: FloatingPoint {
    var m: S.Element = 0
    for v in values {
        if v.isNaN { return v }
        if v > m { m = v }
    }
    return m
}

/// Largest `|a − b|` over two equally shaped tensors (+inf when the shapes differ, NaN when any
/// difference is NaN).
public func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    guard a.shape == b.shape else { return .infinity }
    var m: Float = 0
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
        for i in 0..<pa.count {
            let d = abs(pa[i] - pb[i])
            if d.isNaN { m = .nan; return }
            m = max(m, d)
        }
    } }
    return m
}

/// Path of `../shared/data/<name>` relative to the package root, or nil when absent.
public func sharedDataFile(_ name: String, filePath: String = #filePath) -> URL? {
    var url = URL(fileURLWithPath: filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            let data = url.deletingLastPathComponent().appendingPathComponent("shared/data/\(name)")
            return FileManager.default.fileExists(atPath: data.path) ? data : nil
        }
    }
    return nil
}
