import Autograd
import Foundation
import Tensor

/// Central finite differences in Double-accumulated fp32.
///
/// Checks `d f / d p` for every element of every parameter against `(f(p+h) − f(p−h)) / 2h`.
/// `f` must return a scalar variable built from the parameters' `.variable`s.
/// - Returns: the largest relative error `|a − n| / max(1, |a|, |n|)`-style over all elements
///   (scaled by `scale` = max |gradient| so tiny gradients do not dominate).
public func maxGradientError(_ params: [Parameter], h: Float = 1e-2, _ f: () -> Variable) -> Float {
    for p in params { p.zeroGrad() }
    Tape.current.reset()
    f().backward()
    var worst: Float = 0
    for p in params {
        let analytic = p.grad ?? Tensor.zeros(p.shape)
        let scale = max(analytic.withUnsafeBufferPointer { $0.map(abs).max() ?? 0 }, 1e-3)
        for i in 0..<p.value.count {
            let orig = p.value.pointer[i]
            p.value.withUnsafeMutableBufferPointer { $0[i] = orig + h }
            let fp = withNoGrad { Double(f().value.item) }
            p.value.withUnsafeMutableBufferPointer { $0[i] = orig - h }
            let fm = withNoGrad { Double(f().value.item) }
            p.value.withUnsafeMutableBufferPointer { $0[i] = orig }
            let numeric = Float((fp - fm) / (2 * Double(h)))
            worst = max(worst, abs(numeric - analytic.pointer[i]) / scale)
        }
    }
    return worst
}

/// A parameter with N(0, std²) entries from a fixed seed.
public func randomParameter(_ shape: [Int], seed: UInt64, std: Float = 1, name: String = "p") -> Parameter {
    var rng = RNG(seed: seed)
    return Parameter(Tensor.randomNormal(shape, std: std, rng: &rng), name: name)
}

/// A constant tensor with N(0, std²) entries from a fixed seed.
public func randomTensor(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
    var rng = RNG(seed: seed)
    return Tensor.randomNormal(shape, std: std, rng: &rng)
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
