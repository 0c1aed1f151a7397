import Autograd
import Foundation
import Tensor

/// Target value that `crossEntropy` and `linearCrossEntropy` skip (PyTorch's default).
public let crossEntropyIgnoreIndex: Int32 = -100

/// Mean cross-entropy of the logits `h Wᵀ` against `targets`, fused with the projection and
/// chunked over tokens so that no (N, V) matrix is ever alive: one op for the LM head and its loss
/// (`CrossEntropyKernel.linear`).
///
/// When a gradient is needed, the forward forms both gradients chunk by chunk (the logits buffer
/// turns into `δ = (softmax − onehot) / count`, then `dh_chunk = δ W`, `dW += δᵀ h_chunk`).
/// `dh` (N, D) is the op's only saved tensor. `dW` (V, D) is the weight's gradient itself: it is
/// allocated under `.gradient`, kept out of the tape's saved tensors, and handed to the weight by
/// the backward (scaled by the upstream scalar), where a parameter adopts it without a copy.
/// Rows whose target is `ignoreIndex` add nothing; `count` is the number of the other rows (a
/// loss of 0 with zero gradients when there are none).
/// - Parameters:
///   - h: (N, D) final hidden states
///   - weight: (V, D) head weight
///   - targets: N class indices in `0..<V` or `ignoreIndex`
///   - chunkSize: rows per chunk; nil picks `CrossEntropyKernel.defaultChunkRows` (about 32M
///     logits, clamped to 32...1024 rows: 1024 rows, 125 MiB of workspace, at V = 32000)
/// - Returns: a scalar
public func linearCrossEntropy(_ h: Variable, weight: Variable, targets: [Int32],
                               ignoreIndex: Int32 = crossEntropyIgnoreIndex, chunkSize: Int? = nil) -> Variable {
    let d = h.shape.last ?? 0, n = h.count / Swift.max(d, 1)
    precondition(weight.rank == 2 && weight.shape[1] == d,
                 "linearCrossEntropy: weight of shape \(weight.shape) for hidden states of shape \(h.shape)")
    precondition(targets.count == n, "linearCrossEntropy: \(targets.count) targets for \(n) rows")
    let vocab = weight.shape[0]
    checkTargets(targets, classes: vocab, ignoreIndex: ignoreIndex, op: "linearCrossEntropy")
    let needs = Tape.current.needsGrad([h, weight])
    let count = targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
    let wantGrad = needs.contains(true) && count > 0
    // Every element of dh is written by a chunk's sgemm, and the first chunk writes dW with beta = 0.
    func gradient(_ shape: [Int], category: MemoryCategory) -> Tensor {
        wantGrad ? Tensor(uninitializedShape: shape, category: category) : Memory.withCategory(category) { Tensor.zeros(shape) }
    }
    let dh = needs[0] ? gradient(h.shape, category: Memory.currentCategory) : nil
    let dw = needs[1] ? gradient(weight.shape, category: .gradient) : nil
    let total = CrossEntropyKernel.linear(h: h.value, weight: weight.value, targets: targets, ignoreIndex: ignoreIndex,
                                          chunkRows: chunkSize ?? CrossEntropyKernel.defaultChunkRows(classes: vocab),
                                          gradScale: wantGrad ? 1 / Float(count) : nil, dh: dh, dw: dw)
    let loss = Tensor(scalar: count == 0 ? 0 : Float(total / Double(count)))
    guard needs.contains(true) else { return Variable(loss) }
    let weightGradient = TensorHandoff(dw)
    return Tape.current.record("linear-cross-entropy", inputs: [h, weight], output: loss, saved: dh.map { [$0] } ?? []) { g, saved in
        let s = g.item
        var gh = saved.first, gw = weightGradient.take()
        if s != 1 { gh?.scale(by: s); gw?.scale(by: s) }
        return [gh, gw]
    }
}

/// Holds a tensor for a backward closure that hands it on: `take()` gives up the closure's
/// reference, so the receiver owns the only one and can scale it or adopt it without a copy.
private final class TensorHandoff {
    private var tensor: Tensor?
    init(_ tensor: Tensor?) { self.tensor = tensor }
    func take() -> Tensor? { defer { tensor = nil }; return tensor }
}

/// Mean cross-entropy of `logits` against `targets` (softmax fused with the loss).
///
/// For small batches and for heads whose weight gradient comes from an estimator (which needs the
/// full logit gradient). The forward writes `(softmax − onehot) / count` into a new (N, V) tensor
/// and saves only that; the logits are not kept.
/// - Parameters:
///   - logits: (..., V)
///   - targets: one per row of `logits`, in `0..<V` or `ignoreIndex`
/// - Returns: a scalar
public func crossEntropy(_ logits: Variable, targets: [Int32], ignoreIndex: Int32 = crossEntropyIgnoreIndex) -> Variable {
    let vocab = logits.shape.last ?? 0, n = logits.count / Swift.max(vocab, 1)
    precondition(targets.count == n, "crossEntropy: \(targets.count) targets for \(n) rows of logits \(logits.shape)")
    checkTargets(targets, classes: vocab, ignoreIndex: ignoreIndex, op: "crossEntropy")
    let needs = Tape.current.needsGrad([logits])
    let count = targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
    let wantGrad = needs[0] && count > 0
    // With a gradient the kernel overwrites its rows with δ, so it works on a copy of the logits.
    let work = wantGrad ? logits.value.copy() : logits.value
    var losses = [Float](repeating: 0, count: n)
    losses.withUnsafeMutableBufferPointer { lp in
        targets.withUnsafeBufferPointer { tp in
            CrossEntropyKernel.rows(UnsafeMutablePointer(mutating: work.pointer), rows: n, classes: vocab,
                             targets: tp.baseAddress!, ignoreIndex: ignoreIndex,
                             gradScale: wantGrad ? 1 / Float(count) : nil, losses: lp.baseAddress!)
        }
    }
    let total = losses.reduce(0.0) { $0 + Double($1) }
    let loss = Tensor(scalar: count == 0 ? 0 : Float(total / Double(count)))
    guard needs[0] else { return Variable(loss) }
    let grad = wantGrad ? work : Tensor.zeros(logits.shape)
    return Tape.current.record("cross-entropy", inputs: [logits], output: loss, saved: [grad]) { g, saved in
        var d = saved[0]
        if g.item != 1 { d.scale(by: g.item) }
        return [d]
    }
}

func checkTargets(_ targets: [Int32], classes: Int, ignoreIndex: Int32, op: String) {
    for t in targets where t != ignoreIndex {
        precondition(t >= 0 && Int(t) < classes, "\(op): target \(t) out of range 0..<\(classes) (ignore index \(ignoreIndex))")
    }
}
