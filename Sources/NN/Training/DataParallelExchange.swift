import Autograd
import Estimators
import Tensor

/// Data parallelism over a `Collective` (ALGORITHMS.md §14): exact gradients are mean
/// all-reduced in buckets after the backward; weights whose estimator is a projection estimator
/// are skipped, because their estimator already formed Ĝ from the mean over ranks of its sketch
/// `P` during the backward (`SketchExchange`, installed by `init`).
///
/// Buckets: gradients are packed in parameter order into one reusable buffer of at most
/// `bucketFloats` floats (a larger gradient is sent on its own), so a step makes a few large
/// all-reduces instead of one per tensor.
public final class DataParallelExchange: GradientExchange {
    public let collective: Collective
    /// Default ≈ 25 MB of floats per bucket.
    public let bucketFloats: Int
    private let sketched: Set<ObjectIdentifier>
    private let traffic = ExchangeTraffic()
    private var bucket: [Float] = []

    /// - Parameters:
    ///   - model: its projection-estimator weights are exchanged as sketches.
    ///   - bucketBytes: target size of one all-reduce of exact gradients.
    public init(collective: Collective, model: Module, bucketBytes: Int = 25 << 20) {
        self.collective = collective
        bucketFloats = Swift.max(1, bucketBytes / 4)
        sketched = Set(model.namedLinears.compactMap { _, layer in
            DataParallelExchange.exchangesSketch(layer.estimator) ? ObjectIdentifier(layer.weight) : nil
        })
        SketchExchange.collective = collective
        SketchExchange.traffic.reset()
    }

    /// Whether `estimator` hands its P to `SketchExchange` (the projection kinds).
    public static func exchangesSketch(_ estimator: LinearEstimator) -> Bool { estimator is any SketchingEstimator }

    /// Number of weights whose gradient travels as a sketch.
    public var sketchedWeightCount: Int { sketched.count }

    public var rank: Int { collective.rank }
    public var worldSize: Int { collective.worldSize }

    public func beginStep() {
        traffic.reset()
        SketchExchange.traffic.reset()
    }

    public func exchangeGradients(_ parameters: [Parameter]) {
        var seen = Set<ObjectIdentifier>()
        // Every rank walks the same list in the same order, so the buckets match across ranks.
        // A parameter without a gradient on this rank (e.g. an expert no token reached) sends
        // zeros and takes the mean, so every rank sends the same sizes.
        let exact = parameters.filter { p in
            let id = ObjectIdentifier(p)
            return !sketched.contains(id) && seen.insert(id).inserted
        }
        var start = 0
        while start < exact.count {
            var end = start, floats = 0
            while end < exact.count, end == start || floats + exact[end].value.count <= bucketFloats {
                floats += exact[end].value.count
                end += 1
            }
            reduceBucket(Array(exact[start..<end]), floats: floats)
            start = end
        }
    }

    /// Packs the bucket's gradients, sums them over ranks, and unpacks the mean.
    private func reduceBucket(_ group: [Parameter], floats: Int) {
        if bucket.count < floats { bucket = [Float](repeating: 0, count: floats) }
        let scale = 1 / Float(worldSize)
        bucket.withUnsafeMutableBufferPointer { buffer in
            var offset = 0
            for p in group {
                let n = p.value.count
                if let g = p.grad {
                    g.withUnsafeBufferPointer { src in
                        for i in 0..<n { buffer[offset + i] = src[i] }
                    }
                } else {
                    for i in 0..<n { buffer[offset + i] = 0 }
                }
                offset += n
            }
            collective.sumInPlace(UnsafeMutableBufferPointer(rebasing: buffer[0..<floats]))
            offset = 0
            for p in group {
                let n = p.value.count
                if p.grad == nil { p.grad = Memory.withCategory(.gradient) { Tensor.zeros(p.shape) } }
                p.grad!.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<n { dst[i] = buffer[offset + i] * scale }
                }
                offset += n
            }
        }
        traffic.add(floats * 4, .exact)
    }

    public func meanOverRanks(_ value: Float) -> Float {
        var v = [value]
        v.withUnsafeMutableBufferPointer { collective.sumInPlace($0) }
        traffic.add(4, .norms)
        return v[0] / Float(worldSize)
    }

    public var bytesThisStep: [String: Int]? {
        var total = traffic.report
        for (k, v) in SketchExchange.traffic.report { total[k, default: 0] += v }
        return total
    }
}
