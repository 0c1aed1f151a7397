import ArgumentParser
import COpenBLAS
import Foundation
import Tensor

struct KernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "sgemm, elementwise, softmax, codec, 8-bit state and attention throughput of the Tensor kernels (one JSON object).",
        discussion: "Example: sketchgrad-bench kernels --reps 9")

    @Option(help: "Repetitions per figure, 5...10000 (the cheap memory-bound kernels run 3× as many). Example: --reps 9")
    var reps = 7

    func validate() throws {
        guard (5...10_000).contains(reps) else { throw ValidationError("--reps must be in 5...10000, got \(reps)") }
    }

    func run() throws { try benchmark("kernels") { try runKernelBenchmark(reps: reps) } }
}

/// `sketchgrad-bench kernels [--reps N]`
///
/// Throughput of the Tensor kernels, printed as one JSON object:
/// - sgemm GFLOP/s at 1024³, 2048³ and the LLaMA-20M shapes M×K×N = 2048×256×688, 2048×688×256,
///   2048×256×32000, through `Tensor.matmul` (output allocated by the wrapper; steady state, so the
///   allocator's cache serves it, and the sgemm split over the kernel threads) and through a direct
///   `cblas_sgemm` on OpenBLAS's own pool of as many threads into a preallocated buffer (all
///   wrapper runs first, then all direct ones), with the ratio of the two times (target:
///   wrapper ≤ 1.05 × direct);
/// - elementwise add and fused SiLU·mul GB/s on 16M floats (bytes read + written) beside a plain
///   `memcpy` measured in the same run (target: add ≥ 60% of memcpy), and a single-threaded SIMD
///   copy loop for context (glibc's memcpy is not always the fastest copy);
/// - softmax over 256 rows of 32000 (ms, and GB/s counting one read and one write);
/// - the saved-tensor codecs (bf16, int8 with stochastic rounding) encoding and decoding the
///   2048×688 SwiGLU activation of LLaMA-20M (ms, and GB/s of fp32 data);
/// - 8-bit optimizer states: one pass of `BlockQuantized.updateBlocks` over two moments of
///   LLaMA-20M's embedding (32000×256, decode both, leave the values, encode both), beside the
///   same pass over fp32 moments (read and write both), in ms.
/// - tiled causal attention forward and backward (all three gradients) at the LLaMA-20M
///   (B 8, S 256, 4 heads of 64) and LLaMA-130M (B 4, S 1024, 12 heads of 64) shapes, in ms and
///   GFLOP/s of the causal half of the products.
/// Every figure is the median of at least 5 repetitions (`--reps`, default 7; the cheap
/// memory-bound kernels run 3× as many), after warm-up runs.
func runKernelBenchmark(reps: Int) throws {
    let env = ProcessInfo.processInfo.environment
    var report = KernelBenchReport(
        benchmark: "kernels", repetitions: reps, threads: Parallel.threads,
        openblasThreads: Int(openblas_get_num_threads()), // 1: Tensor.sgemm splits the calls itself
        openblasCore: String(cString: openblas_get_corename()),
        openblasCoretypeEnv: env["OPENBLAS_CORETYPE"] ?? "unset",
        sgemm: [], elementwise: nil, softmax: nil, codecs: [], states8: nil, attention: [],
        targets: .init(wrapperOverDirectMax: 1.05, addOverMemcpyMin: 0.60))
    for (m, k, n) in [(1024, 1024, 1024), (2048, 2048, 2048), (2048, 256, 688), (2048, 688, 256), (2048, 256, 32000)] {
        report.sgemm.append(benchSgemm(m: m, k: k, n: n, reps: reps))
    }
    report.elementwise = benchElementwise(count: 1 << 24, reps: 3 * reps)
    report.softmax = benchSoftmax(rows: 256, cols: 32000, reps: 3 * reps)
    report.codecs = [TensorCodec.bf16, .int8].map { benchCodec($0, rows: 2048, cols: 688, reps: 3 * reps) }
    report.states8 = benchStates8(count: 32000 * 256, reps: reps)
    report.attention = [benchAttention(batch: 8, seq: 256, heads: 4, headDim: 64, reps: reps),
                        benchAttention(batch: 4, seq: 1024, heads: 12, headDim: 64, reps: reps)]
    try printJSON(report)
}

struct KernelBenchReport: Encodable {
    struct Sgemm: Encodable {
        var m: Int, k: Int, n: Int
        var wrapperMs: Double, directMs: Double
        var wrapperGflops: Double, directGflops: Double
        /// Median wrapper time / median direct time (1.00 = no overhead).
        var wrapperOverDirect: Double
    }
    struct Elementwise: Encodable {
        var floats: Int
        var memcpyGBs: Double
        /// A 16-lane SIMD copy loop (ordinary, cached stores like the kernels'), for context.
        var simdCopyGBs: Double
        var addGBs: Double
        var addOverMemcpy: Double
        var siluMulGBs: Double
        var siluMulOverMemcpy: Double
        var bytesCounted: String
    }
    struct Softmax: Encodable {
        var rows: Int, cols: Int
        var ms: Double
        var GBs: Double
    }
    struct States8: Encodable {
        var values: Int
        var int8Ms: Double, fp32Ms: Double
        var int8OverFP32: Double
    }
    struct Attention: Encodable {
        var batch: Int, seq: Int, heads: Int, headDim: Int
        var forwardMs: Double, backwardMs: Double
        /// Over the causal half of each product (B·H·S²/2 scores of d multiply-adds): forward
        /// Q Kᵀ and P V, backward Q Kᵀ recomputed, Pᵀ dO, dO Vᵀ, dS K and dSᵀ Q.
        var forwardGflops: Double, backwardGflops: Double
    }
    struct Codec: Encodable {
        var codec: String
        var rows: Int, cols: Int
        var encodeMs: Double, decodeMs: Double
        /// fp32 bytes per second through the codec.
        var encodeGBs: Double, decodeGBs: Double
    }
    struct Targets: Encodable {
        var wrapperOverDirectMax: Double
        var addOverMemcpyMin: Double
    }
    var benchmark: String
    var repetitions: Int
    var threads: Int
    var openblasThreads: Int
    var openblasCore: String
    var openblasCoretypeEnv: String
    var sgemm: [Sgemm]
    var elementwise: Elementwise?
    var softmax: Softmax?
    var codecs: [Codec]
    var states8: States8?
    var attention: [Attention]
    var targets: Targets
}

/// Keeps results observable so the timed work cannot be optimised away.
nonisolated(unsafe) private var kernelBenchSink: Float = 0

private func kernelBenchNow() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

private func kernelBenchMedian(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Seconds taken by `body`.
@inline(__always) private func kernelBenchTime(_ body: () -> Void) -> Double {
    let t0 = kernelBenchNow()
    body()
    return Double(kernelBenchNow() - t0) * 1e-9
}

/// Runs `bodies` `warmup` times each, then `reps` times each in alternation (so drift reaches all
/// alike), and returns each body's median time in seconds.
private func kernelBenchMedians(reps: Int, warmup: Int, _ bodies: [() -> Void]) -> [Double] {
    for _ in 0..<warmup { for body in bodies { body() } }
    var times = [[Double]](repeating: [], count: bodies.count)
    for _ in 0..<reps { for (i, body) in bodies.enumerated() { times[i].append(kernelBenchTime(body)) } }
    return times.map(kernelBenchMedian)
}

private func kernelBenchRound(_ x: Double, _ digits: Double = 1000) -> Double { (x * digits).rounded() / digits }

private func benchSgemm(m: Int, k: Int, n: Int, reps: Int) -> KernelBenchReport.Sgemm {
    var rng = RNG(seed: 1, stream: UInt64(m * 31 + k * 7 + n))
    let a = Tensor.randomNormal([m, k], rng: &rng), b = Tensor.randomNormal([k, n], rng: &rng)
    let c = Tensor(uninitializedShape: [m, n], category: .workspace)
    let direct = {
        openblas_set_num_threads(Int32(Parallel.threads))
        defer { openblas_set_num_threads(1) }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
                    a.pointer, Int32(k), b.pointer, Int32(n), 0, c.storage.base, Int32(n))
        kernelBenchSink += c.storage.base[0]
    }
    let wrapper = {
        let out = Tensor.matmul(a, b)
        kernelBenchSink += out.pointer[0]
    }
    // Not interleaved: after a direct call OpenBLAS's pool spins for ~0.1 s on the cores the
    // wrapper's split then needs (the contention `Tensor.sgemm` avoids by not using the pool).
    for _ in 0..<2 { wrapper() }
    let tw = (0..<reps).map { _ in kernelBenchTime(wrapper) }
    for _ in 0..<2 { direct() }
    let td = (0..<reps).map { _ in kernelBenchTime(direct) }
    let flops = 2 * Double(m) * Double(k) * Double(n)
    let (md, mw) = (kernelBenchMedian(td), kernelBenchMedian(tw))
    return .init(m: m, k: k, n: n, wrapperMs: kernelBenchRound(mw * 1e3), directMs: kernelBenchRound(md * 1e3),
                 wrapperGflops: kernelBenchRound(flops / mw * 1e-9, 10), directGflops: kernelBenchRound(flops / md * 1e-9, 10),
                 wrapperOverDirect: kernelBenchRound(mw / md))
}

private func benchElementwise(count: Int, reps: Int) -> KernelBenchReport.Elementwise {
    var rng = RNG(seed: 2)
    let a = Tensor.randomNormal([count], rng: &rng), b = Tensor.randomNormal([count], rng: &rng)
    let dst = Tensor(uninitializedShape: [count], category: .workspace)
    let bytes = Double(count * 4)
    let copy = {
        memcpy(dst.storage.base, a.pointer, count * 4)
        kernelBenchSink += dst.storage.base[count - 1]
    }
    let simdCopy = {
        let s = a.pointer, d = dst.storage.base
        var i = 0
        while i + 16 <= count {
            UnsafeMutableRawPointer(d + i).storeBytes(of: UnsafeRawPointer(s + i).loadUnaligned(as: Vec.self), as: Vec.self)
            i += 16
        }
        kernelBenchSink += d[count - 1]
    }
    let add = {
        let out = a + b
        kernelBenchSink += out.pointer[count - 1]
    }
    let siluMul = {
        let out = Tensor.combine(a, b, { $0 * vsigmoid($0) * $1 }, { $0 * vsigmoid(Vec(repeating: $0))[0] * $1 })
        kernelBenchSink += out.pointer[count - 1]
    }
    let t = kernelBenchMedians(reps: reps, warmup: 3, [copy, simdCopy, add, siluMul])
    let memcpyGBs = 2 * bytes / t[0] * 1e-9
    let simdCopyGBs = 2 * bytes / t[1] * 1e-9
    let addGBs = 3 * bytes / t[2] * 1e-9
    let siluGBs = 3 * bytes / t[3] * 1e-9
    return .init(floats: count, memcpyGBs: kernelBenchRound(memcpyGBs, 100), simdCopyGBs: kernelBenchRound(simdCopyGBs, 100), addGBs: kernelBenchRound(addGBs, 100),
                 addOverMemcpy: kernelBenchRound(addGBs / memcpyGBs), siluMulGBs: kernelBenchRound(siluGBs, 100),
                 siluMulOverMemcpy: kernelBenchRound(siluGBs / memcpyGBs),
                 bytesCounted: "memcpy, simdCopy: read + write (2 × 4 B/float); add, siluMul: 2 reads + 1 write (3 × 4 B/float)")
}

private func benchSoftmax(rows: Int, cols: Int, reps: Int) -> KernelBenchReport.Softmax {
    var rng = RNG(seed: 3)
    let x = Tensor.randomNormal([rows, cols], std: 3, rng: &rng)
    let run = {
        let y = x.softmax()
        kernelBenchSink += y.pointer[0]
    }
    let med = kernelBenchMedians(reps: reps, warmup: 3, [run])[0]
    return .init(rows: rows, cols: cols, ms: kernelBenchRound(med * 1e3), GBs: kernelBenchRound(2 * Double(rows * cols * 4) / med * 1e-9, 100))
}

private func benchCodec(_ codec: TensorCodec, rows: Int, cols: Int, reps: Int) -> KernelBenchReport.Codec {
    var rng = RNG(seed: 4)
    let x = Tensor.randomNormal([rows, cols], rng: &rng)
    var encoded = x.encoded(codec, noise: RNG(seed: 5))
    let encode = {
        encoded = x.encoded(codec, noise: RNG(seed: 5))
        kernelBenchSink += encoded.storage.base[0]
    }
    let decode = {
        let y = encoded.decoded()
        kernelBenchSink += y.pointer[0]
    }
    let t = kernelBenchMedians(reps: reps, warmup: 3, [encode, decode])
    let (me, md) = (t[0], t[1]), bytes = Double(x.bytes)
    return .init(codec: codec.rawValue, rows: rows, cols: cols, encodeMs: kernelBenchRound(me * 1e3), decodeMs: kernelBenchRound(md * 1e3),
                 encodeGBs: kernelBenchRound(bytes / me * 1e-9, 100), decodeGBs: kernelBenchRound(bytes / md * 1e-9, 100))
}

private func benchStates8(count: Int, reps: Int) -> KernelBenchReport.States8 {
    var rng = RNG(seed: 6)
    let m = Tensor.randomNormal([count], rng: &rng) * 1e-3, v = m.square()
    var (m8, v8) = (BlockQuantized(quantizing: m, signed: true), BlockQuantized(quantizing: v.sqrt(), signed: false))
    var (m32, v32) = (m.copy(), v.copy())
    let int8 = {
        BlockQuantized.updateBlocks(&m8, &v8) { _, a, b in kernelBenchSink += a[0] + b[0] }
    }
    let fp32 = {
        m32.withUnsafeMutableBufferPointer { pm in
            v32.withUnsafeMutableBufferPointer { pv in
                let (a, b) = (UncheckedSendable(pm.baseAddress!), UncheckedSendable(pv.baseAddress!))
                Parallel.forEachChunk(count, minPerThread: 1 << 14) { r in
                    for i in r { a.value[i] = a.value[i] * 0.9 + 1e-9; b.value[i] = b.value[i] * 0.999 + 1e-12 }
                }
            }
        }
    }
    let t = kernelBenchMedians(reps: reps, warmup: 2, [int8, fp32])
    let (a, b) = (t[0], t[1])
    return .init(values: count, int8Ms: kernelBenchRound(a * 1e3), fp32Ms: kernelBenchRound(b * 1e3), int8OverFP32: kernelBenchRound(a / b, 100))
}

private func benchAttention(batch: Int, seq: Int, heads: Int, headDim: Int, reps: Int) -> KernelBenchReport.Attention {
    var rng = RNG(seed: 7)
    let shape = [batch * seq, heads * headDim]
    let (q, k, v, dO) = (Tensor.randomNormal(shape, rng: &rng), Tensor.randomNormal(shape, rng: &rng),
                         Tensor.randomNormal(shape, rng: &rng), Tensor.randomNormal(shape, rng: &rng))
    let kernel = CausalAttentionKernel(batch: batch, seq: seq, heads: heads, kvHeads: heads, headDim: headDim)
    var (out, lse) = kernel.forward(q: q, k: k, v: v)
    let forward = {
        (out, lse) = kernel.forward(q: q, k: k, v: v)
        kernelBenchSink += out.pointer[0]
    }
    let backward = {
        let g = kernel.backward(gradOutput: dO, q: q, k: k, v: v, out: out, logSumExp: lse, needs: (true, true, true))
        kernelBenchSink += g.dq!.pointer[0]
    }
    let t = kernelBenchMedians(reps: reps, warmup: 2, [forward, backward])
    // One product of the causal half: B·H·S²/2 score entries, d multiply-adds each.
    let product = Double(batch * heads) * Double(seq) * Double(seq) / 2 * Double(headDim) * 2
    let (f, b) = (t[0], t[1])
    return .init(batch: batch, seq: seq, heads: heads, headDim: headDim,
                 forwardMs: kernelBenchRound(f * 1e3), backwardMs: kernelBenchRound(b * 1e3),
                 forwardGflops: kernelBenchRound(2 * product / f * 1e-9, 10), backwardGflops: kernelBenchRound(5 * product / b * 1e-9, 10))
}
