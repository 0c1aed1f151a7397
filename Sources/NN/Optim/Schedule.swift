import Foundation

/// Linear warmup then cosine decay to `minRatio · peak` (GaLore's schedule; decays to 10% by default).
///
/// Steps count from 0: `learningRate(atStep: s)` is the rate of the (s+1)-th update.
/// - Warmup, `s < warmup`: `peak · (s + 1) / warmup` (starts near 0, reaches `peak` at `s = warmup − 1`).
/// - Decay, `warmup ≤ s ≤ total`: `peak · (minRatio + (1 − minRatio) · ½(1 + cos(π · (s − warmup) / (total − warmup))))`.
/// - After `total`: `minRatio · peak`.
public struct CosineSchedule: Equatable, Sendable {
    public let peak: Float
    public let warmup: Int
    public let total: Int
    public let minRatio: Float

    public init(peak: Float, warmup: Int, total: Int, minRatio: Float = 0.1) {
        precondition(warmup >= 0 && total >= 0, "CosineSchedule: negative warmup \(warmup) or total \(total)")
        precondition(minRatio >= 0 && minRatio <= 1, "CosineSchedule: minRatio \(minRatio) is not in [0, 1]")
        self.peak = peak; self.warmup = warmup; self.total = total; self.minRatio = minRatio
    }

    public func learningRate(atStep s: Int) -> Float {
        if s < warmup { return peak * Float(s + 1) / Float(warmup) }
        let span = total - warmup
        guard span > 0 else { return peak * minRatio }
        let progress = Swift.min(Double(s - warmup) / Double(span), 1)
        let cosine = 0.5 * (1 + Foundation.cos(Double.pi * progress))
        return Float(Double(peak) * (Double(minRatio) + (1 - Double(minRatio)) * cosine))
    }
}
