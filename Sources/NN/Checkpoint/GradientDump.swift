import Autograd
import Estimators
import Foundation
import Tensor

// The core of the `llama-gradients` tool, here rather than in the executable so that tests can
// call it without a subprocess.

/// Loss and exact gradients of a LLaMA on one batch, named as in Hugging Face.
public struct LlamaGradientDump {
    /// Mean next-token cross-entropy over the `batch · (seq − 1)` targets.
    public let loss: Float
    /// (Hugging Face parameter name, gradient) in the model's parameter order.
    public let gradients: [(name: String, gradient: Tensor)]
    public let batch: Int
    public let seq: Int

    /// The output file: `loss` (F32, shape `[]`) and `grad.<name>` for every parameter.
    public func writer() -> SafetensorsWriter {
        var w = SafetensorsWriter(metadata: [
            "format": "pt",
            "loss": "mean next-token cross-entropy over batch*(seq-1) targets (Hugging Face shift)",
            "batch": String(batch), "seq": String(seq),
        ])
        w.add("loss", Tensor(scalar: loss))
        for (name, g) in gradients { w.add("grad.\(name)", g) }
        return w
    }
}

/// Hugging Face's causal-LM shift: in each row, position `s` predicts token `s + 1`, and the last
/// position has no target (-100, ignored by `LlamaModel.loss`).
/// - Parameter ids: (batch, seq) row-major. - Returns: (batch, seq) row-major.
public func huggingFaceShiftTargets(_ ids: [Int32], batch: Int, seq: Int) -> [Int32] {
    precondition(ids.count == batch * seq, "huggingFaceShiftTargets: \(ids.count) ids for batch \(batch) × seq \(seq)")
    var targets = [Int32](repeating: -100, count: ids.count)
    for b in 0..<batch {
        for s in 0..<Swift.max(seq - 1, 0) { targets[b * seq + s] = ids[b * seq + s + 1] }
    }
    return targets
}

/// One forward and backward of `model` on `ids` with the exact backward in every layer.
///
/// For the duration of the call every linear layer uses `ExactEstimator`, so the gradients are the
/// true ones, and the model is in eval mode, so the loss is the cross-entropy alone (no MoE
/// load-balancing term, as in Hugging Face by default); both are restored afterwards.
/// Gradients accumulated before the call are discarded.
/// - Parameter ids: (batch, seq) row-major token ids, each in `0..<vocab`; `seq ≥ 2`.
public func computeLlamaGradients(model: LlamaModel, ids: [Int32], batch: Int, seq: Int,
                                  nameMap: CheckpointNameMap = .llamaHuggingFace) throws -> LlamaGradientDump {
    let linears = model.namedModules().compactMap { $0.1 as? Linear }
    let estimators = linears.map(\.estimator)
    let wasTraining = model.isTraining
    for layer in linears { layer.estimator = ExactEstimator() }
    model.eval()
    defer {
        for (layer, e) in zip(linears, estimators) { layer.estimator = e }
        if wasTraining { model.train() }
    }
    model.zeroGrad()
    Tape.current.reset()
    let loss = model.loss(tokens: ids, targets: huggingFaceShiftTargets(ids, batch: batch, seq: seq), batch: batch, seq: seq)
    let value = loss.value.item
    loss.backward()
    var gradients: [(name: String, gradient: Tensor)] = []
    for (path, p) in model.namedParameters() {
        // A parameter the loss does not reach has gradient zero (as PyTorch reports after zeroing).
        // A file value stored as scale × parameter has gradient grad / scale.
        let name = try nameMap.fileName(path), scale = nameMap.fileScale(name)
        let g = p.grad ?? Tensor.zeros(p.shape)
        gradients.append((name, scale == 1 ? g : g * (1 / scale)))
    }
    model.zeroGrad()
    return LlamaGradientDump(loss: value, gradients: gradients, batch: batch, seq: seq)
}

/// Reads `input_ids` (I64 or I32, shape (batch, seq)) and checks it against the model.
/// - Throws: `CheckpointError` naming the file: missing key, wrong dtype or rank, `seq < 2` (no
///   targets), a sequence longer than the model's, or an id outside `0..<vocabSize`.
public func readInputIDs(from url: URL, config: LlamaConfig) throws -> (ids: [Int32], batch: Int, seq: Int) {
    let file = try SafetensorsFile(contentsOf: url)
    let key = "input_ids"
    guard let entry = file.entry(key) else {
        throw CheckpointError.missingTensor(path: url.path, name: key)
    }
    guard entry.shape.count == 2 else {
        throw CheckpointError.invalidContent(path: url.path, reason: "'\(key)' has shape \(entry.shape), expected [batch, seq]")
    }
    let (batch, seq) = (entry.shape[0], entry.shape[1])
    guard batch >= 1, seq >= 2 else {
        throw CheckpointError.invalidContent(path: url.path, reason: "'\(key)' has shape \(entry.shape); need batch ≥ 1 and seq ≥ 2 for next-token targets")
    }
    guard seq <= config.maxSequenceLength else {
        throw CheckpointError.invalidContent(path: url.path, reason: "'\(key)' has \(seq) positions, more than the model's \(config.maxSequenceLength)")
    }
    let wide = try file.int64Values(key)
    if let i = wide.firstIndex(where: { $0 < 0 || $0 >= Int64(config.vocabSize) }) {
        throw CheckpointError.invalidContent(path: url.path,
            reason: "'\(key)' holds token \(wide[i]) at [\(i / seq), \(i % seq)], outside the vocabulary 0..<\(config.vocabSize)")
    }
    return (wide.map { Int32($0) }, batch, seq)
}

/// Reads a Hugging Face `config.json` into a validated `LlamaConfig`.
/// - Throws: `CheckpointError` naming the file for a missing or unreadable file or a bad config.
public func readLlamaConfig(from url: URL) throws -> LlamaConfig {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
        throw CheckpointError.fileNotFound(path: url.path)
    }
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
        throw CheckpointError.unreadable(path: url.path, reason: error.localizedDescription)
    }
    do {
        let config = try LlamaConfig(huggingFaceJSON: data)
        try config.validate()
        return config
    } catch {
        throw CheckpointError.invalidContent(path: url.path, reason: "\(error)")
    }
}

/// The whole `llama-gradients` run: config and weights → model, ids → loss and exact gradients,
/// written atomically to `output`.
///
/// Refused before anything large is allocated: a run whose memory estimate
/// (`MemoryEstimate.gradients`) exceeds `memoryLimit`. Refused after loading: weights with NaN or
/// infinite values (naming the first such tensor). A non-finite loss or gradient is reported as an
/// error and nothing is written.
///
/// - Parameters:
///   - model: a `.safetensors` file or a Hugging Face model directory (single or sharded).
///   - config: the model's Hugging Face `config.json`.
///   - input: a safetensors file with `input_ids`, I64 or I32, shape (batch, seq).
///   - output: where to write `loss` and `grad.<name>`.
@discardableResult
public func runLlamaGradients(model modelURL: URL, config configURL: URL, input inputURL: URL,
                              output outputURL: URL, memoryLimit: MemoryLimit? = nil) throws -> LlamaGradientDump {
    let config = try readLlamaConfig(from: configURL)
    let (ids, batch, seq) = try readInputIDs(from: inputURL, config: config)
    do {
        try MemoryEstimate.gradients(model: config, batch: batch, seq: seq)
            .check(against: memoryLimit ?? MemoryLimit.current(), advice: "use fewer or shorter sequences in \(inputURL.path)")
    } catch let error as SizeOverflowError {
        throw RunError("\(error): the model is too large for this machine")
    }
    var rng = RNG(seed: 0) // every weight is overwritten by the file
    let model = LlamaModel(config: config, rng: &rng)
    let names = CheckpointNameMap.huggingFace(config)
    try loadWeights(into: model, from: modelURL, nameMap: names)
    for (path, p) in model.namedParameters() where !p.value.isAllFinite {
        throw CheckpointError.invalidContent(path: modelURL.path,
            reason: "tensor '\((try? names.fileName(path)) ?? path)' has \(p.value.nonFiniteCount) non-finite values (NaN or ±inf)")
    }
    let dump = try computeLlamaGradients(model: model, ids: ids, batch: batch, seq: seq, nameMap: names)
    guard dump.loss.isFinite else {
        throw RunError("the loss is \(dump.loss) (the weights are finite but too large for fp32); nothing written")
    }
    if let bad = dump.gradients.first(where: { !$0.gradient.isAllFinite }) {
        throw RunError("the gradient of \(bad.name) has \(bad.gradient.nonFiniteCount) non-finite values (loss \(dump.loss)); nothing written")
    }
    try dump.writer().write(to: outputURL)
    return dump
}
