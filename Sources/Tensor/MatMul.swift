import COpenBLAS
import Dispatch

/// Matrix products through `cblas_sgemm`; transposes are passed as flags, never materialised.
extension Tensor {
    /// `op(a) · op(b)` where `op` transposes the last two axes when asked.
    ///
    /// - `a` (M, K) or (..., M, K), `b` (K, N): leading dims of `a` fold into M (one sgemm) when
    ///   `a` is not transposed; otherwise one sgemm per batch with `b` shared.
    /// - `a` (M, K), `b` (B..., K, N): `a` shared across the batch of `b`, one sgemm per batch.
    /// - `a` (B..., M, K), `b` (B..., K, N): batched, one sgemm per batch.
    /// - Returns: (B..., M, N).
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank >= 2 && b.rank >= 2, "matmul: needs rank ≥ 2, got \(a.shape) and \(b.shape)")
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (k2, n) = transposeB ? (bc, br) : (br, bc)
        precondition(k == k2, "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
        if b.rank == 2 && !transposeA {
            let out = Tensor(uninitializedShape: aBatch + [m, n])
            sgemm(a.pointer, transposeA: false, b.pointer, transposeB: transposeB, out.storage.base,
                  m: aBatch.reduce(1, *) * m, n: n, k: k, lda: ac, ldb: bc, ldc: n, alpha: 1, beta: 0)
            return out
        }
        precondition(aBatch.isEmpty || bBatch.isEmpty || aBatch == bBatch,
                     "matmul: batch dimensions differ: \(a.shape) · \(b.shape)")
        let batchShape = aBatch.isEmpty ? bBatch : aBatch
        let batch = batchShape.reduce(1, *)
        let out = Tensor(uninitializedShape: batchShape + [m, n])
        let aStride = aBatch.isEmpty ? 0 : ar * ac, bStride = bBatch.isEmpty ? 0 : br * bc
        for i in 0..<batch {
            sgemm(a.pointer + i * aStride, transposeA: transposeA, b.pointer + i * bStride, transposeB: transposeB,
                  out.storage.base + i * m * n, m: m, n: n, k: k, lda: ac, ldb: bc, ldc: n, alpha: 1, beta: 0)
        }
        return out
    }

    /// `Σᵢ op(aᵢ) · op(bᵢ)` over the common batch dims of `a` (B..., ·, ·) and `b` (B..., ·, ·):
    /// the gradient of an operand that was shared across a batch. One accumulating sgemm per batch.
    /// - Returns: (M, N).
    public static func matmulSummingBatches(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank >= 2 && b.rank >= 2 && a.shape.dropLast(2) == b.shape.dropLast(2),
                     "matmulSummingBatches: batch dimensions differ: \(a.shape) · \(b.shape)")
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (k2, n) = transposeB ? (bc, br) : (br, bc)
        precondition(k == k2, "matmulSummingBatches: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        let batch = a.shape.dropLast(2).reduce(1, *)
        let out = Tensor.zeros([m, n])
        for i in 0..<batch {
            sgemm(a.pointer + i * ar * ac, transposeA: transposeA, b.pointer + i * br * bc, transposeB: transposeB,
                  out.storage.base, m: m, n: n, k: k, lda: ac, ldb: bc, ldc: n, alpha: 1, beta: 1)
        }
        return out
    }

    /// In place: `self = alpha · op(a)·op(b) + beta · self` for 2-D operands (a, b may have
    /// leading dims folded into rows when not transposed). Used to accumulate gradients.
    public mutating func addMatmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                                   alpha: Float = 1, beta: Float = 1) {
        precondition(a.rank >= 1 && b.rank >= 1 && rank >= 1,
                     "addMatmul: needs rank ≥ 1, got \(a.shape) · \(b.shape) into \(shape)")
        let ac = a.shape[a.rank - 1], ar = a.count / Swift.max(ac, 1)
        let bc = b.shape[b.rank - 1], br = b.count / Swift.max(bc, 1)
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (k2, n) = transposeB ? (bc, br) : (br, bc)
        precondition(k == k2 && count == m * n && shape.last == n,
                     "addMatmul: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "") does not fit \(shape)")
        ensureUnique()
        Tensor.sgemm(a.pointer, transposeA: transposeA, b.pointer, transposeB: transposeB, storage.base,
                     m: m, n: n, k: k, lda: ac, ldb: bc, ldc: n, alpha: alpha, beta: beta)
    }

    /// Row-major `cblas_sgemm`, split over `Parallel.threads` into blocks of C's rows (or of its
    /// columns when C is wider than tall), each a single-threaded OpenBLAS call.
    ///
    /// Why not OpenBLAS's own pool: after each call its threads spin in `sched_yield` for up to
    /// 2²⁸ cycles, on the same cores where the kernels' dispatch workers then run; at LLaMA-20M
    /// that spinning held 10–12% of the CPU samples, and splitting here made steps 11–14% faster
    /// (docs/ARCHITECTURE.md). LAPACK routines run single-threaded as a result. The split depends only
    /// on the shape and the thread count, so results stay reproducible for a given thread count.
    /// Inside `Parallel.forEachItem` (one sgemm per worker) there is no further split.
    public static func sgemm(_ a: UnsafePointer<Float>, transposeA: Bool, _ b: UnsafePointer<Float>, transposeB: Bool,
                             _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int,
                             alpha: Float, beta: Float) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            if beta == 0 { c.update(repeating: 0, count: m * ldc) } else { for i in 0..<m * ldc { c[i] *= beta } }
            return
        }
        let byRows = m >= n, length = byRows ? m : n
        let parts = Parallel.gemmParts(length: length, work: m * n * k)
        guard parts > 1 else {
            blasSgemm(a, transposeA, b, transposeB, c, m, n, k, lda, ldb, ldc, alpha, beta)
            return
        }
        let pa = UncheckedSendable(a), pb = UncheckedSendable(b), pc = UncheckedSendable(c)
        DispatchQueue.concurrentPerform(iterations: parts) { i in
            // Block edges on multiples of 16 keep the kernels off their edge paths.
            let lo = i == 0 ? 0 : length * i / parts / 16 * 16
            let hi = i == parts - 1 ? length : length * (i + 1) / parts / 16 * 16
            if byRows {
                blasSgemm(transposeA ? pa.value + lo : pa.value + lo * lda, transposeA, pb.value, transposeB,
                          pc.value + lo * ldc, hi - lo, n, k, lda, ldb, ldc, alpha, beta)
            } else {
                blasSgemm(pa.value, transposeA, transposeB ? pb.value + lo * ldb : pb.value + lo, transposeB,
                          pc.value + lo, m, hi - lo, k, lda, ldb, ldc, alpha, beta)
            }
        }
    }

    @inline(__always)
    private static func blasSgemm(_ a: UnsafePointer<Float>, _ transposeA: Bool, _ b: UnsafePointer<Float>, _ transposeB: Bool,
                                  _ c: UnsafeMutablePointer<Float>, _ m: Int, _ n: Int, _ k: Int, _ lda: Int, _ ldb: Int, _ ldc: Int,
                                  _ alpha: Float, _ beta: Float) {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
