import Autograd
import Estimators
import Tensor

/// Data parallelism over a `Collective` (ALGORITHMS.md §14): exact gradients are mean
/// all-reduced in buckets of ~25 MB, started from the gradient-complete hooks while the backward
/// continues and finished before the optimizer step; weights whose estimator is a projection
/// estimator are skipped, because their estimator already formed Ĝ from the mean over ranks of
/// its sketch `P` during the backward (`SketchExchange`, installed by `init`).
///
/// Buckets: as the last backward of a step completes each exact gradient, it is copied into the
/// open bucket; a bucket that reaches `bucketFloats` floats starts its non-blocking sum (a larger
/// gradient is a bucket of its own). `exchangeGradients` adds the gradients no hook delivered, in
/// parameter order, starts the last bucket, waits for all and writes the means back. Every rank
/// runs the same graph, so the hooks fire in the same order and the buckets match across ranks.
public final class DataParallelExchange: GradientExchange {
    public let collective: Collective
    /// Default ≈ 25 MB of floats per bucket.
    public let bucketFloats: Int
    private let sketched: Set<ObjectIdentifier>
    /// The exact parameters in parameter order (those the exchange averages).
    private let exact: [Parameter]
    private let traffic = ExchangeTraffic()
    /// Buffers reused from step to step (the bucket layout is the same every step).
    private var pool: [UnsafeMutableBufferPointer<Float>] = []
    private var buckets: [Bucket] = []
    private var open = Bucket()
    private var queued = Set<ObjectIdentifier>()
    /// Compression of the exact matrices (nil: plain all-reduce).
    public let powerSGD: PowerSGDCompression?
    /// The exact parameters PowerSGD compresses (when it is past its plain steps).
    private let compressible: [Parameter]
    private let compressibleIDs: Set<ObjectIdentifier>
    /// Whether the backward in flight is the step's last (hooks of earlier micro-batches would see
    /// partial sums).
    private var armed = false

    private struct Bucket {
        var members: [Parameter] = []
        var floats = 0
        var buffer: UnsafeMutableBufferPointer<Float>?
        var pending: PendingSum?
    }

    /// - Parameters:
    ///   - model: its projection-estimator weights are exchanged as sketches; hooks are added to
    ///     its other trainable parameters.
    ///   - bucketBytes: target size of one all-reduce of exact gradients.
    ///   - powerSGD: compresses the exact matrices (ALGORITHMS.md §14), or nil.
    public init(collective: Collective, model: Module, bucketBytes: Int = 25 << 20, powerSGD: PowerSGDCompression? = nil) {
        self.collective = collective
        bucketFloats = Swift.max(1, bucketBytes / 4)
        let sketched = Set(model.namedLinears.compactMap { _, layer in
            DataParallelExchange.exchangesSketch(layer.estimator) ? ObjectIdentifier(layer.weight) : nil
        })
        self.sketched = sketched
        var seen = Set<ObjectIdentifier>()
        let exact = model.parameters.filter { p in
            let id = ObjectIdentifier(p)
            return p.requiresGrad && !sketched.contains(id) && seen.insert(id).inserted
        }
        self.exact = exact
        self.powerSGD = powerSGD
        compressible = powerSGD.map { c in exact.filter { c.compresses($0) } } ?? []
        compressibleIDs = Set(compressible.map(ObjectIdentifier.init))
        SketchExchange.collective = collective
        SketchExchange.traffic.reset()
        for p in exact { p.onGradientComplete { [weak self] in self?.gradientCompleted($0) } }
    }

    deinit {
        for b in pool { b.deallocate() }
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

    public func willRunBackward(isLast: Bool) { armed = isLast }

    /// Whether `p` goes through PowerSGD this step instead of a bucket.
    private func isCompressed(_ p: Parameter) -> Bool {
        powerSGD?.isCompressing == true && compressibleIDs.contains(ObjectIdentifier(p))
    }

    private func gradientCompleted(_ p: Parameter) {
        guard armed, !isCompressed(p), queued.insert(ObjectIdentifier(p)).inserted else { return }
        add(p)
        for b in buckets { b.pending?.poll() }
    }

    /// Copies `p`'s gradient (zeros when it has none) into the open bucket, starting it when full.
    private func add(_ p: Parameter) {
        let n = p.value.count
        if !open.members.isEmpty && open.floats + n > bucketFloats { startOpen() }
        if open.buffer == nil {
            let index = buckets.count
            let capacity = Swift.max(bucketFloats, n)
            if index == pool.count || pool[index].count < capacity {
                let fresh = UnsafeMutableBufferPointer<Float>.allocate(capacity: capacity)
                if index == pool.count { pool.append(fresh) } else { pool[index].deallocate(); pool[index] = fresh }
            }
            open.buffer = pool[index]
        }
        let dst = open.buffer!.baseAddress! + open.floats
        if let g = p.grad {
            g.withUnsafeBufferPointer { src in dst.update(from: src.baseAddress!, count: n) }
        } else {
            dst.update(repeating: 0, count: n)
        }
        open.members.append(p)
        open.floats += n
        if open.floats >= bucketFloats { startOpen() }
    }

    private func startOpen() {
        guard !open.members.isEmpty else { return }
        open.pending = collective.startSum(UnsafeMutableBufferPointer(rebasing: open.buffer![0..<open.floats]))
        traffic.add(open.floats * 4, .exact)
        buckets.append(open)
        open = Bucket()
    }

    public func exchangeGradients(_ parameters: [Parameter]) {
        armed = false
        // What no hook delivered (a single-backward caller that did not arm, unused parameters),
        // in parameter order on every rank.
        for p in exact where !isCompressed(p) && queued.insert(ObjectIdentifier(p)).inserted { add(p) }
        startOpen()
        // PowerSGD's two blocking rounds run while the buckets are in flight.
        if let power = powerSGD {
            let floats = power.exchange(power.isCompressing ? compressible : [], over: collective)
            traffic.add(floats * 4, .powerSGD)
        }
        let scale = 1 / Float(worldSize)
        for b in buckets {
            b.pending?.wait()
            var offset = 0
            for p in b.members {
                let n = p.value.count
                if p.grad == nil { p.grad = Memory.withCategory(.gradient) { Tensor.zeros(p.shape) } }
                p.grad!.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<n { dst[i] = b.buffer![offset + i] * scale }
                }
                offset += n
            }
        }
        buckets.removeAll(keepingCapacity: true)
        queued.removeAll(keepingCapacity: true)
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
