import Tensor

/// How an optimizer stores its Adam moments: `states:fp32` (the default) or `states:int8`, the
/// block-wise dynamic 8-bit encoding of ALGORITHMS.md §13 (`BlockQuantized`).
public enum StateEncoding: String, Sendable, CaseIterable, CustomStringConvertible {
    case fp32, int8

    /// Tensors with fewer values keep fp32 states under `int8` (norm scales: the scales would
    /// cost more than they save, and these parameters are sensitive).
    public static let smallestQuantized = 4096

    public var description: String { rawValue }
}

/// Adam's first and second moments of one tensor (`exp_avg` m, `exp_avg_sq` v), in fp32 or 8 bits.
///
/// With `.int8` (and at least `StateEncoding.smallestQuantized` values) m uses the signed code and
/// v the unsigned one; `update` decodes a block of 2048 values of both into fp32 scratch, runs the
/// caller's fp32 kernel on it and encodes the new values with the block's new absmax, so the
/// update itself is computed from the new fp32 moments (§13). Checkpoints store an 8-bit moment
/// `k` as `k.codes` (U8, the tensor's shape) and `k.absmax` (F32, one per block).
final class AdamMoments {
    let shape: [Int]
    /// The encoding used (fp32 for small tensors even when `.int8` was asked for).
    let encoding: StateEncoding
    // Exactly one pair is set. Stored properties, so kernels write them in place (no copy-on-write).
    private var m32: Tensor?, v32: Tensor?
    private var m8: BlockQuantized?, v8: BlockQuantized?

    /// Zero moments counted under `.optimizer`.
    init(shape: [Int], encoding requested: StateEncoding) {
        self.shape = shape
        encoding = requested == .int8 && shape.reduce(1, *) >= StateEncoding.smallestQuantized ? .int8 : .fp32
        Memory.withCategory(.optimizer) {
            if encoding == .int8 {
                (m8, v8) = (BlockQuantized(zeros: shape, signed: true), BlockQuantized(zeros: shape, signed: false))
            } else {
                (m32, v32) = (Tensor.zeros(shape), Tensor.zeros(shape))
            }
        }
    }

    /// Runs `body(range, m, v, form)` on fp32 moments: once over the whole tensor for fp32 states;
    /// per block of 2048 values (in parallel, with decoded scratch, re-encoded afterwards) for 8-bit
    /// ones, whose codes hold √v, so the second moment is handed over as √v (`form`) and the
    /// kernel reads and writes that form (one square root per value, the one the update needs).
    /// `range` places the pointers' first value in the tensor (index the gradient and weight with it).
    func update(_ body: (Range<Int>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, SecondMomentForm) -> Void) {
        if encoding == .int8 {
            BlockQuantized.updateBlocks(&m8!, &v8!) { r, m, root in body(r, m, root, .root) }
            return
        }
        m32!.withUnsafeMutableBufferPointer { pm in
            v32!.withUnsafeMutableBufferPointer { pv in body(0..<pm.count, pm.baseAddress!, pv.baseAddress!, .value) }
        }
    }

    /// Both moments as fp32 tensors (decoded copies for 8-bit states, the states themselves otherwise).
    var values: (m: Tensor, v: Tensor) {
        encoding == .int8 ? (m8!.dequantized(), v8!.dequantized().square()) : (m32!, v32!)
    }

    /// Replaces both moments (shaped like `shape`), encoded as this state's `encoding`.
    func assign(m: Tensor, v: Tensor) {
        precondition(m.shape == shape && v.shape == shape, "AdamMoments.assign: \(m.shape), \(v.shape) for \(shape)")
        Memory.withCategory(.optimizer) {
            if encoding == .int8 {
                (m8, v8) = (BlockQuantized(quantizing: m, signed: true), BlockQuantized(quantizing: v.sqrt(), signed: false))
            } else {
                (m32, v32) = (m.copy(), v.copy())
            }
        }
    }

    /// Checkpoint entries `<prefix>.exp_avg` and `<prefix>.exp_avg_sq` (8-bit: their `.codes` and `.absmax`).
    func entries(prefix p: String) -> [StateEntry] {
        guard encoding == .int8 else {
            return [.tensor("\(p).exp_avg", { [unowned self] in m32! }, { [unowned self] in m32 = $0 }, shape: shape),
                    .tensor("\(p).exp_avg_sq", { [unowned self] in v32! }, { [unowned self] in v32 = $0 }, shape: shape)]
        }
        let blocks = [BlockQuantized.blockCount(shape.reduce(1, *))]
        func parts(_ key: String, _ state: ReferenceWritableKeyPath<AdamMoments, BlockQuantized?>, signed: Bool) -> [StateEntry] {
            [.codes(QuantizedStateKeys.codes(key), { [unowned self] in self[keyPath: state]!.codes }, { [unowned self] in
                self[keyPath: state] = BlockQuantized(codes: $0, absmax: self[keyPath: state]!.absmax, signed: signed)
            }, shape: shape),
             .tensor(QuantizedStateKeys.absmax(key), { [unowned self] in self[keyPath: state]!.absmax }, { [unowned self] in
                 self[keyPath: state] = BlockQuantized(codes: self[keyPath: state]!.codes, absmax: $0, signed: signed)
             }, shape: blocks)]
        }
        return parts("\(p).exp_avg", \.m8, signed: true) + parts("\(p).exp_avg_sq", \.v8, signed: false)
    }
}

/// Names of the two parts of an 8-bit state `k` in a checkpoint, and the recognition of a state
/// saved in the other encoding (so a resume names the cause instead of listing keys).
enum QuantizedStateKeys {
    static func codes(_ key: String) -> String { key + ".codes" }
    static func absmax(_ key: String) -> String { key + ".absmax" }

    /// Whether the keys a load found missing and unexpected are one encoding's keys in place of the
    /// other's: `k.codes` + `k.absmax` expected where `k` was stored (stored fp32), or the reverse.
    /// - Returns: the encodings, the state keys concerned and every missing/unexpected key they explain.
    static func mismatch(missing: [String], unexpected: [String])
        -> (stored: StateEncoding, expected: StateEncoding, states: [String], explainedKeys: [String])? {
        let unexpectedSet = Set(unexpected), missingSet = Set(missing)
        func pairs(_ quantized: Set<String>, _ plain: Set<String>) -> [String] {
            plain.filter { quantized.contains(codes($0)) && quantized.contains(absmax($0)) }.sorted()
        }
        let storedFP32 = pairs(missingSet, unexpectedSet)
        if !storedFP32.isEmpty {
            return (.fp32, .int8, storedFP32, storedFP32.flatMap { [$0, codes($0), absmax($0)] })
        }
        let storedInt8 = pairs(unexpectedSet, missingSet)
        if !storedInt8.isEmpty {
            return (.int8, .fp32, storedInt8, storedInt8.flatMap { [$0, codes($0), absmax($0)] })
        }
        return nil
    }
}
