import Estimators
import Foundation
import Tensor

/// The bytes a run will hold, estimated from shapes before anything is allocated, by allocator
/// category: the memory pre-flight of every user-facing program.
///
/// An estimate is a list of named terms, one per kind of saved tensor of a block (`blockActivations`
/// lists what each op keeps, at its codec's encoded size and with shared sketches counted once).
/// Every size goes through overflow-checked arithmetic, so
/// absurd sizes become a one-line error, never a trap. `MemoryEstimateTests` compares the estimate
/// with the allocator's measured peaks (it must cover them without overshooting much).
public struct MemoryEstimate: CustomStringConvertible, Sendable {
    /// One contribution; `category` nil for memory outside the tensor allocator (token arrays).
    public struct Term: Sendable, Equatable {
        public var name: String
        public var category: MemoryCategory?
        public var bytes: Int
    }

    public private(set) var terms: [Term] = []

    public init() {}

    /// Adds `bytes` under `name`. - Throws: `SizeOverflowError` when the total overflows.
    public mutating func add(_ name: String, _ category: MemoryCategory?, bytes: Int) throws {
        _ = try Size.sum([total, bytes], what: "memory estimate")
        terms.append(Term(name: name, category: category, bytes: bytes))
    }

    /// Bytes counted under `category` (nil: outside the allocator).
    public func bytes(_ category: MemoryCategory?) -> Int {
        terms.filter { $0.category == category }.reduce(0) { $0 + $1.bytes }
    }

    /// Every term added (cannot overflow: `add` checks).
    public var total: Int { terms.reduce(0) { $0 + $1.bytes } }

    /// `about 619 MiB (parameters 74 MiB, gradients 74 MiB, ...)`, categories with bytes only.
    public var description: String {
        let parts = [(MemoryCategory.parameter, "parameters"), (.gradient, "gradients"), (.optimizer, "optimizer"),
                     (.activation, "activations"), (.workspace, "workspace")]
            .map { (bytes($0.0), $0.1) } + [(bytes(nil), "data")]
        let shown = parts.filter { $0.0 > 0 }.map { "\($0.1) \(formatByteCount($0.0))" }
        return "about \(formatByteCount(total)) (\(shown.joined(separator: ", ")))"
    }

    /// Throws a one-line `RunError` when the estimate exceeds `limit`.
    /// - Parameter advice: what the user can change, e.g. "try a smaller --batch".
    public func check(against limit: MemoryLimit, advice: String) throws {
        guard total > limit.bytes else { return }
        throw RunError("the run needs \(self) but \(limit); \(advice)")
    }
}

/// How much memory a run may use: the physical memory, or less when a cgroup limits the process,
/// or `SKETCHGRAD_MEMORY_LIMIT` (bytes, or with a K/M/G/T suffix) when set.
public struct MemoryLimit: CustomStringConvertible, Sendable {
    public let bytes: Int
    /// Where the limit comes from, for messages.
    public let source: String

    public init(bytes: Int, source: String) { self.bytes = bytes; self.source = source }

    public var description: String { "\(source) is \(formatByteCount(bytes))" }

    /// The limit of this process. - Throws: `RunError` for a malformed `SKETCHGRAD_MEMORY_LIMIT`.
    public static func current(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MemoryLimit {
        if let text = environment["SKETCHGRAD_MEMORY_LIMIT"], !text.isEmpty {
            guard let bytes = parseByteCount(text) else {
                throw RunError("SKETCHGRAD_MEMORY_LIMIT='\(text)' is not a size (e.g. 8G, 512M or 1073741824)")
            }
            return MemoryLimit(bytes: bytes, source: "SKETCHGRAD_MEMORY_LIMIT")
        }
        let physical = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        for file in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = try? String(contentsOfFile: file, encoding: .utf8),
               let limit = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit < physical {
                return MemoryLimit(bytes: limit, source: "the memory limit of this process's cgroup")
            }
        }
        return MemoryLimit(bytes: physical, source: "the physical memory of this machine")
    }

    /// `123`, `64K`, `512M`, `8G`, `1T` (binary multiples); nil when malformed or overflowing.
    static func parseByteCount(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(t), unit = 1
        if let last = t.last, let u = units[last] { unit = u; digits = t.dropLast() }
        if digits.hasSuffix("I") || digits.hasSuffix("B") { return nil }
        guard let n = Int(digits), n > 0 else { return nil }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: unit)
        return overflow ? nil : bytes
    }
}

/// Bytes as `512 MiB` or `1.25 GiB` (1024-based, as the memory report prints them).
public func formatByteCount(_ bytes: Int) -> String {
    let mib = Double(bytes) / 1_048_576
    if mib >= 1024 * 1024 { return String(format: "%.1f TiB", mib / (1024 * 1024)) }
    if mib >= 1024 { return String(format: "%.2f GiB", mib / 1024) }
    if mib >= 1 { return String(format: "%.0f MiB", mib) }
    return String(format: "%.0f KiB", Double(bytes) / 1024)
}

// MARK: training runs

extension MemoryEstimate {
    /// What one training step of `LlamaModel(config:)` holds at its peak, from shapes alone.
    ///
    /// - parameters, gradients (one per trainable parameter; LOMO/AdaLomo only those in flight);
    /// - optimizer state (`OptimizerSpec.estimatedStateBytes`) plus each estimator's resident state;
    /// - saved activations of every block (each linear layer's `LinearEstimator.savedBytes`, one
    ///   sketch per group of layers that share it; every compressible tensor at the encoded size of
    ///   its module's codec in `codecs`; with checkpointed blocks, every block's input plus one block
    ///   recomputed), the final norm and the fused head + loss;
    /// - workspace: the largest transient (a loss chunk of logits, or one block's activation
    ///   gradients: tiled attention needs no S×S scratch) plus the rotary tables;
    /// - `dataBytes` of text and tokens, outside the allocator.
    /// - Throws: `SizeOverflowError` when a size overflows.
    public static func training(model config: LlamaConfig, batch: Int, seq: Int, estimators: EstimatorAssignment,
                                codecs: ActivationCodecAssignment = ActivationCodecAssignment(),
                                optimizer: OptimizerSpec, checkpointBlocks: Bool, lossChunk: Int? = nil,
                                dataBytes: Int = 0) throws -> MemoryEstimate {
        var e = MemoryEstimate()
        let shapes = try e.addModel(config)
        let largest = try shapes.map { try Size.product($0.shape + [4], what: "gradient") }.max() ?? 0
        try e.add("gradients", .gradient,
                  bytes: optimizer.updatesDuringBackward ? 2 * largest : e.bytes(.parameter))
        var sizer = LinearSizer(assignment: estimators, codecs: codecs)
        try e.add("optimizer state", .optimizer,
                  bytes: optimizer.estimatedStateBytes(parameters: shapes.map { ($0.path, $0.shape) }))
        var estimatorState = 0
        for p in shapes where p.isLinear && p.path != "head.weight" {
            estimatorState = try Size.sum([estimatorState, sizer.stateBytes(layer: layerPath(p.path), weightShape: p.shape)],
                                          what: "estimator state")
        }
        try e.add("estimator state", .optimizer, bytes: estimatorState)
        let recompute = checkpointBlocks || sizer.assignment.requestsCheckpointing
        try e.addActivations(config, batch: batch, seq: seq, sizer: &sizer, checkpointBlocks: recompute, lossChunk: lossChunk)
        try e.add("text and tokens", nil, bytes: dataBytes)
        return e
    }

    /// One forward and backward with exact gradients and no optimizer (`llama-gradients`).
    public static func gradients(model config: LlamaConfig, batch: Int, seq: Int) throws -> MemoryEstimate {
        var e = MemoryEstimate()
        _ = try e.addModel(config)
        try e.add("gradients", .gradient, bytes: e.bytes(.parameter))
        var sizer = LinearSizer(assignment: EstimatorAssignment(), codecs: ActivationCodecAssignment())
        try e.addActivations(config, batch: batch, seq: seq, sizer: &sizer, checkpointBlocks: false, lossChunk: nil)
        return e
    }

    /// Parameters and rotary tables; returns the parameter shapes.
    private mutating func addModel(_ config: LlamaConfig) throws -> [LlamaConfig.ParameterShape] {
        try config.validate()
        let count = try config.checkedParameterCount()
        try add("parameters", .parameter, bytes: Size.product(count, 4, what: "parameter bytes"))
        try add("rotary tables", .workspace, bytes: Size.product(config.maxSequenceLength, config.headDim, 4, what: "rotary tables"))
        return config.parameterShapes
    }

    private mutating func addActivations(_ c: LlamaConfig, batch: Int, seq: Int, sizer: inout LinearSizer,
                                         checkpointBlocks: Bool, lossChunk: Int?) throws {
        let what = "activations of batch \(batch) × seq \(seq)"
        func floats(_ factors: Int...) throws -> Int { try Size.product(factors + [4], what: what) }
        let n = try Size.product(batch, seq, what: what), d = c.hiddenSize
        var blocks: [Int] = []
        for i in 0..<c.numLayers {
            blocks.append(try Self.blockActivations(c, layer: i, batch: batch, seq: seq, sizer: &sizer, what: what))
        }
        let blockInputs = try floats(n, d)
        let saved: Int
        if checkpointBlocks {
            saved = try Size.sum([Size.product(blockInputs, c.numLayers, what: what), blocks.max() ?? 0], what: what)
        } else {
            saved = try Size.sum(blocks, what: what)
        }
        try add("saved activations of the blocks", .activation, bytes: saved)
        // Final norm (its input, encoded, and inverse RMS) and the fused head + loss (dh; the head's
        // weight gradient is a gradient, counted with the others).
        try add("final norm and fused loss", .activation,
                bytes: Size.sum([sizer.encoded("norm", floats(n, d), rows: n), floats(n), floats(n, d)], what: what))
        _ = try Size.product(24, n, c.numLayers, d, what: what) // defaultLossChunkSize's arithmetic
        let chunk = Swift.min(lossChunk ?? c.defaultLossChunkSize(tokens: n), n)
        let lossChunkBytes = try floats(chunk, c.vocabSize)
        let f = c.moe.map { $0.expertIntermediateSize ?? c.intermediateSize } ?? c.intermediateSize
        let backward = try floats(n, 4 * d + 3 * f)
        try add("largest transient (loss chunk or a block's activation gradients)", .workspace, bytes: Swift.max(lossChunkBytes, backward))
    }

    /// Saved activations of block `layer` at the end of the forward, physical bytes (a tensor
    /// several ops save is counted once).
    static func blockActivations(_ c: LlamaConfig, layer: Int, batch: Int, seq: Int,
                                 sizer: inout LinearSizer, what: String) throws -> Int {
        func floats(_ factors: Int...) throws -> Int { try Size.product(factors + [4], what: what) }
        let n = try Size.product(batch, seq, what: what), d = c.hiddenSize
        let q = c.numHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim
        let p = "layers.\(layer)", attention = "\(p).attention"
        // Tiled attention keeps q, k, v, its output o and one log-sum-exp per row and head; o is
        // the output projection's input, stored once when that projection keeps its input whole
        // in the same codec.
        let wo = "\(attention).wo"
        let sharesOutput = sizer.keepsInput(layer: wo, weightShape: [d, q], rows: n)
            && sizer.codecs.codec(forPath: wo) == sizer.codecs.codec(forPath: attention)
        // A lossy attention codec keeps only the block input and recomputes the norm, q/k/v and o.
        let attentionTerms = CausalSelfAttention.recomputes(codec: sizer.codecs.codec(forPath: attention))
            ? [try sizer.encoded(attention, floats(n, d), rows: n)]
            : [try sizer.encoded("\(p).attentionNorm", floats(n, d), rows: n), try floats(n), // x, 1/rms
               try sizer.groupBytes(["\(attention).wq": [q, d], "\(attention).wk": [kv, d], "\(attention).wv": [kv, d]], rows: n),
               try sizer.encoded(attention, floats(n, q + 2 * kv), rows: 3 * n), // q, k, v after rotary
               sharesOutput ? 0 : try sizer.encoded(attention, floats(n, q), rows: n),
               try floats(batch, c.numHeads, seq)]                              // log-sum-exp
        var terms: [Int] = attentionTerms + [
            try sizer.groupBytes([wo: [d, q]], rows: n),
            try sizer.encoded("\(p).mlpNorm", floats(n, d), rows: n), try floats(n), // h, 1/rms
        ]
        if let moe = c.moe {
            let f = moe.expertIntermediateSize ?? c.intermediateSize
            var readers = ["\(p).mlp.router": [moe.experts, d]]
            if moe.sharedExpert {
                readers["\(p).mlp.shared.gate"] = [f, d]; readers["\(p).mlp.shared.up"] = [f, d]
                terms += [try sizer.encoded("\(p).mlp.shared", floats(n, 2 * f), rows: 2 * n),
                          try sizer.groupBytes(["\(p).mlp.shared.down": [d, f]], rows: n)]
            }
            terms.append(try sizer.groupBytes(readers, rows: n))
            terms.append(try floats(n, 3 * moe.experts))                    // router probabilities, gates, sums
            // Each expert sees its share of the n·topK (token, slot) pairs, as a gathered copy.
            let assigned = try Size.product(n, moe.topK, what: what)
            let rows = (assigned + moe.experts - 1) / moe.experts
            for e in 0..<moe.experts {
                let x = "\(p).mlp.experts.\(e)"
                terms += [try sizer.encoded(x, floats(rows, 2 * f), rows: 2 * rows), // SwiGLU's gate and up
                          try sizer.groupBytes(["\(x).gate": [f, d], "\(x).up": [f, d]], rows: rows),
                          try sizer.groupBytes(["\(x).down": [d, f]], rows: rows)]
            }
            terms.append(try floats(assigned, d))                           // expert outputs kept by the combine
        } else {
            let f = c.intermediateSize, mlp = "\(p).mlp"
            // A lossy MLP codec keeps up and the norm's input (stored once if the norm's codec is
            // the same) and rebuilds the gate.
            let codec = sizer.codecs.codec(forPath: mlp)
            let sharesNormInput = codec == sizer.codecs.codec(forPath: "\(p).mlpNorm")
            let swiglu = SwiGLUMLP.recomputesGate(codec: codec)
                ? sizer.encoded(mlp, try floats(n, f + (sharesNormInput ? 0 : d)), rows: sharesNormInput ? n : 2 * n)
                : sizer.encoded(mlp, try floats(n, 2 * f), rows: 2 * n)        // SwiGLU's gate and up
            terms += [try sizer.groupBytes(["\(mlp).gate": [f, d], "\(mlp).up": [f, d]], rows: n), swiglu,
                      try sizer.groupBytes(["\(mlp).down": [d, f]], rows: n)]
        }
        return try Size.sum(terms, what: what)
    }

    /// `layers.0.mlp.gate.weight` → `layers.0.mlp.gate` (estimators are assigned by module path).
    static func layerPath(_ parameterPath: String) -> String {
        parameterPath.hasSuffix(".weight") ? String(parameterPath.dropLast(".weight".count)) : parameterPath
    }
}

/// What the linear layers of a model save and keep, from each path's estimator (one instance per
/// distinct spec and shape, so sizing a model makes a handful of estimators, not one per layer),
/// and what a saved tensor costs in its module's codec.
struct LinearSizer {
    let assignment: EstimatorAssignment
    let codecs: ActivationCodecAssignment
    private var made: [String: LinearEstimator] = [:]

    init(assignment: EstimatorAssignment, codecs: ActivationCodecAssignment) {
        self.assignment = assignment; self.codecs = codecs
    }

    /// `fp32Bytes` of compressible tensors saved under module `path`, in `rows` rows, as its codec stores them.
    func encoded(_ path: String, _ fp32Bytes: Int, rows: Int) -> Int {
        codecs.codec(forPath: path).encodedBytes(count: fp32Bytes / 4, rows: rows)
    }

    /// Whether the layer at `layer` saves its whole input (an exact backward) rather than a sketch.
    mutating func keepsInput(layer: String, weightShape: [Int], rows: Int) -> Bool {
        guard let inputBytes = try? Size.product(rows, weightShape[1], 4, what: "saved input of \(layer)") else { return false }
        return estimator(layer: layer, weightShape: weightShape).savedBytes(rows: rows, weightShape: weightShape) >= inputBytes
    }

    private mutating func estimator(layer: String, weightShape: [Int]) -> LinearEstimator {
        let spec = assignment.spec(forPath: layer)
        let key = "\(spec) \(weightShape)"
        if let e = made[key] { return e }
        let e = spec.make(weightShape: weightShape, seed: 0, stream: 0)
        made[key] = e
        return e
    }

    mutating func stateBytes(layer: String, weightShape: [Int]) -> Int {
        estimator(layer: layer, weightShape: weightShape).stateBytes(weightShape: weightShape)
    }

    /// Bytes the layers reading one input (`rows` × in) save, in their codec: one sketch per set of
    /// layers whose specs share it (ALGORITHMS.md §11), and the input once when any layer keeps it
    /// whole (exact saves the input itself, shared).
    mutating func groupBytes(_ layers: [String: [Int]], rows: Int) throws -> Int {
        var sketches = 0, keepsInput = false, inputBytes = 0, codecPath = ""
        var counted: [EstimatorSpec] = []
        for (path, shape) in layers.sorted(by: { $0.key < $1.key }) {
            codecPath = path
            inputBytes = try Size.product(rows, shape[1], 4, what: "saved input of \(path)")
            let spec = assignment.spec(forPath: path)
            let saved = estimator(layer: path, weightShape: shape).savedBytes(rows: rows, weightShape: shape)
            if saved >= inputBytes {
                keepsInput = true
            } else if !counted.contains(where: { $0.sharesSketch(with: spec) }) {
                counted.append(spec)
                sketches = try Size.sum([sketches, saved], what: "sketches")
            }
        }
        return encoded(codecPath, try Size.sum([sketches, keepsInput ? inputBytes : 0], what: "saved inputs"), rows: rows)
    }
}

extension EstimatorAssignment {
    /// Whether some rule asks for checkpointed blocks (`recompute`).
    public var requestsCheckpointing: Bool { ([defaultSpec] + rules.map(\.spec)).contains { $0.kind == .recompute } }
}
