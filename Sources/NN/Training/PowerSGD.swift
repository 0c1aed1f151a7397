import Autograd
import Estimators
import Tensor

/// PowerSGD (Vogels, Karimireddy & Jaggi 2019) for the exact gradient matrices of a
/// data-parallel step, ALGORITHMS.md §14: per m×n matrix, with this rank's gradient `G_r` and its
/// error-feedback memory `E_r` (m×n, zero at start),
/// `M = G_r + E_r`, `P = M Q` (m×r, Q warm-started from the previous step), mean all-reduce of P,
/// orthonormalise P's columns, `Q = Mᵀ P` (n×r), mean all-reduce of Q, `Ĝ = P Qᵀ`, `E_r = M − Ĝ`.
/// Each rank sends (m + n)·r floats instead of m·n. Vectors (norm scales) and matrices whose
/// factors would not be smaller stay exact, and the first `plainSteps` steps are plain all-reduces.
///
/// Q starts as a Gaussian drawn from the seed, the same on every rank, and every later Q is a mean
/// over ranks, so all ranks hold the same P, Q and Ĝ (E_r differs per rank: it is this rank's own
/// residual). The memories are not checkpointed: a resumed run starts them at zero again (and Q
/// from the seed), continuing the step count, so it compresses at once where the uninterrupted
/// run did but is not bit-identical to it.
public final class PowerSGDCompression {
    public let rank: Int
    public let plainSteps: Int
    private let seed: UInt64
    /// Exchanges so far (one per optimizer step).
    public private(set) var step = 0
    private var states: [ObjectIdentifier: State] = [:]

    private final class State {
        var error: Tensor
        var q: Tensor
        init(error: Tensor, q: Tensor) { self.error = error; self.q = q }
    }

    /// - Parameters: rank: r ≥ 1; plainSteps: steps sent uncompressed first; seed: Q's start;
    ///   startingStep: the optimizer step a resumed run continues from (its plain steps are behind it).
    public init(rank: Int = 4, plainSteps: Int = 10, seed: UInt64, startingStep: Int = 0) {
        precondition(rank >= 1, "PowerSGD: rank \(rank) must be ≥ 1")
        self.rank = rank
        self.plainSteps = plainSteps
        self.seed = seed
        step = startingStep
    }

    /// Whether `p` travels compressed once past the plain steps: a matrix with `(m + n)·r < m·n`.
    public func compresses(_ p: Parameter) -> Bool {
        guard p.shape.count == 2 else { return false }
        let m = p.shape[0], n = p.shape[1]
        return rank <= Swift.min(m, n) && (m + n) * rank < m * n
    }

    /// Whether this step compresses (the step counter advances in `exchange`).
    public var isCompressing: Bool { step >= plainSteps }

    /// Replaces every gradient of `matrices` (same list and order on every rank) by the PowerSGD
    /// estimate of its mean over ranks. Returns the floats this rank sent.
    func exchange(_ matrices: [Parameter], over collective: Collective) -> Int {
        defer { step += 1 }
        guard isCompressing, !matrices.isEmpty else { return 0 }
        let ranks = Float(collective.worldSize)
        // M = G + E is formed in the gradient's own buffer and, once Ĝ replaces the gradient,
        // becomes the new E in place: no extra gradient-sized buffer per matrix.
        var ms: [Tensor] = []
        var ps: [Tensor] = []
        for (index, p) in matrices.enumerated() {
            let s = state(of: p, index: index)
            if p.grad == nil { p.grad = Memory.withCategory(.gradient) { Tensor.zeros(p.shape) } }
            p.grad!.addScaled(s.error)                              // M = G + E
            ms.append(p.grad!)
            ps.append(Tensor.matmul(p.grad!, s.q))                  // P = M Q, (m, r)
        }
        var sent = meanInPlace(&ps, collective, ranks)
        ps = ps.map { Stiefel.orthonormalize($0) }
        var qs = zip(ms, ps).map { m, p in Tensor.matmul(m, p, transposeA: true) }   // Q = Mᵀ P, (n, r)
        sent += meanInPlace(&qs, collective, ranks)
        for (index, p) in matrices.enumerated() {
            let s = states[ObjectIdentifier(p)]!
            let estimate = Memory.withCategory(.gradient) { Tensor.matmul(ps[index], qs[index], transposeB: true) }   // Ĝ = P Qᵀ
            var residual = ms[index]
            ms[index] = Tensor.zeros([0])
            p.grad = estimate                                       // residual now holds M's buffer alone
            residual.addScaled(estimate, -1)                        // E = M − Ĝ
            residual.storage.recategorize(.optimizer)
            s.error = residual
            s.q = qs[index].copy(category: .optimizer)
        }
        return sent
    }

    private func state(of p: Parameter, index: Int) -> State {
        if let s = states[ObjectIdentifier(p)] { return s }
        var rng = RNG(seed: seed, stream: 0x9057_5D00 &+ UInt64(index))
        let s = State(error: Memory.withCategory(.optimizer) { Tensor.zeros(p.shape) },
                      q: Memory.withCategory(.optimizer) { Tensor.randomNormal([p.shape[1], rank], rng: &rng) })
        states[ObjectIdentifier(p)] = s
        return s
    }

    /// Sums `tensors` over ranks in one buffer and divides by the world size. Returns the floats sent.
    private func meanInPlace(_ tensors: inout [Tensor], _ collective: Collective, _ ranks: Float) -> Int {
        let total = tensors.reduce(0) { $0 + $1.count }
        var buffer = [Float](repeating: 0, count: total)
        var offset = 0
        for t in tensors {
            t.withUnsafeBufferPointer { src in for i in 0..<src.count { buffer[offset + i] = src[i] } }
            offset += t.count
        }
        buffer.withUnsafeMutableBufferPointer { collective.sumInPlace($0) }
        offset = 0
        for i in tensors.indices {
            tensors[i].withUnsafeMutableBufferPointer { dst in
                for j in 0..<dst.count { dst[j] = buffer[offset + j] / ranks }
            }
            offset += tensors[i].count
        }
        return total
    }
}
