import Autograd
import Foundation
import Tensor

/// File names inside a checkpoint directory (Hugging Face's for the weights and config).
public enum CheckpointFileName {
    public static let weights = "model.safetensors"
    public static let shardIndex = "model.safetensors.index.json"
    public static let trainingState = "training_state.safetensors"
    public static let config = "config.json"
}

/// Writes every parameter of `model` as F32 under its file name (Hugging Face LLaMA names by
/// default), atomically.
/// - Throws: `CheckpointError.unknownName` when a parameter has no file name.
public func saveWeights(of model: Module, to url: URL, nameMap: CheckpointNameMap = .llamaHuggingFace,
                        metadata: [String: String] = [:]) throws {
    try weightsWriter(of: model, nameMap: nameMap, metadata: metadata).write(to: url)
}

func weightsWriter(of model: Module, nameMap: CheckpointNameMap, metadata: [String: String]) throws -> SafetensorsWriter {
    var w = SafetensorsWriter(metadata: metadata.merging(["format": "pt"]) { a, _ in a })
    w.checksummed = true
    var shapes: [String: [Int]] = [:]
    for (path, p) in model.namedParameters() {
        let name = try nameMap.fileName(path)
        let scale = nameMap.fileScale(name)
        w.add(name, scale == 1 ? p.value : p.value * scale)
        shapes[name] = p.shape
    }
    for (name, shape) in nameMap.fixedEntries(shapes) { w.add(name, Tensor.zeros(shape)) }
    return w
}

/// Replaces every parameter of `model` with the tensor of the same (mapped) name in `url`.
///
/// `url` is a `.safetensors` file or a directory holding `model.safetensors` or a sharded
/// `model.safetensors.index.json`. Everything is checked before anything is copied: a missing,
/// unexpected, misshapen or non-float tensor, or a parameter without a file name, is collected,
/// and all of them are thrown together as `CheckpointError.mismatches`; the model is then
/// unchanged. F16 and BF16 tensors are widened to F32.
public func loadWeights(into model: Module, from url: URL, nameMap: CheckpointNameMap = .llamaHuggingFace) throws {
    let source = try WeightSource(url)
    var mismatches: [CheckpointMismatch] = []
    var plan: [(Parameter, SafetensorsFile, String)] = []
    var expected = Set<String>()
    for (path, p) in model.namedParameters() {
        let name: String
        do { name = try nameMap.fileName(path) } catch {
            mismatches.append(.unmappable(parameter: path, reason: "\(error)"))
            continue
        }
        expected.insert(name)
        guard let found = source.lookup(name) else {
            mismatches.append(.missing(name: name, shape: p.shape))
            continue
        }
        let (file, entry) = found
        if !SafetensorsFile.isReadableAsFloat(entry.dtype) {
            mismatches.append(.wrongDType(name: name, found: entry.dtype.rawValue))
        } else if entry.shape != p.shape {
            mismatches.append(.wrongShape(name: name, expected: p.shape, found: entry.shape))
        } else {
            plan.append((p, file, name))
        }
    }
    let fixed = nameMap.fixedEntries(Dictionary(uniqueKeysWithValues: plan.map { ($0.2, $0.0.shape) }))
    for name in source.names where !expected.contains(name) && !nameMap.isIgnoredFileEntry(name) {
        guard let shape = fixed[name], let (file, entry) = source.lookup(name), SafetensorsFile.isReadableAsFloat(entry.dtype) else {
            mismatches.append(.unexpected(name: name))
            continue
        }
        if entry.shape != shape {
            mismatches.append(.wrongShape(name: name, expected: shape, found: entry.shape))
        } else if try file.floatTensor(name).scalars.contains(where: { $0 != 0 }) {
            mismatches.append(.unsupportedValue(name: name, reason: "must be zero (Sketchgrad's shared expert is ungated)"))
        }
    }
    guard mismatches.isEmpty else { throw CheckpointError.mismatches(path: source.path, mismatches) }
    for (p, file, name) in plan {
        let scale = nameMap.fileScale(name)
        p.value = scale == 1 ? try file.floatTensor(name) : try file.floatTensor(name) * (1 / scale)
    }
}

/// Saves a checkpoint directory: `model.safetensors` (weights), and when given,
/// `training_state.safetensors` and `config.json`. Each file is written atomically; weights and
/// state carry the same `checkpoint_id`, so `loadCheckpoint` can tell when a crash between the two
/// writes left files from different saves.
public func saveCheckpoint(model: Module, to directory: URL, trainingState: TrainingState? = nil,
                           config: Data? = nil, nameMap: CheckpointNameMap = .llamaHuggingFace) throws {
    do {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
        throw CheckpointError.writeFailed(path: directory.path, reason: error.localizedDescription)
    }
    let id = UUID().uuidString
    try weightsWriter(of: model, nameMap: nameMap, metadata: ["checkpoint_id": id])
        .write(to: directory.appendingPathComponent(CheckpointFileName.weights))
    if let trainingState {
        try trainingState.write(to: directory.appendingPathComponent(CheckpointFileName.trainingState), checkpointID: id)
    }
    if let config { try writeAtomically(config, to: directory.appendingPathComponent(CheckpointFileName.config)) }
}

/// Loads the weights of a checkpoint directory into `model` and returns its training state (nil
/// when the directory has none). Estimator state is restored into the model's estimators; the
/// optimizer state, RNGs and counters are for the caller to apply.
@discardableResult
public func loadCheckpoint(into model: Module, from directory: URL,
                           nameMap: CheckpointNameMap = .llamaHuggingFace) throws -> TrainingState? {
    let weightsURL = directory.appendingPathComponent(CheckpointFileName.weights)
    let stateURL = directory.appendingPathComponent(CheckpointFileName.trainingState)
    let weights = try SafetensorsFile(contentsOf: weightsURL)
    if weights.metadata[SafetensorsFile.checksumKey] != nil { try weights.verifyChecksum() }
    var state: TrainingState?
    if FileManager.default.fileExists(atPath: stateURL.path) {
        let stateFile = try SafetensorsFile(contentsOf: stateURL)
        try stateFile.verifyChecksum()
        if let a = weights.metadata["checkpoint_id"], let b = stateFile.metadata["checkpoint_id"], a != b {
            throw CheckpointError.invalidContent(path: directory.path,
                reason: "\(CheckpointFileName.weights) and \(CheckpointFileName.trainingState) come from different saves (interrupted save?)")
        }
        state = try TrainingState(file: stateFile)
    }
    try loadWeights(into: model, from: weightsURL, nameMap: nameMap)
    try state?.restoreEstimatorState(into: model, path: stateURL.path)
    return state
}

/// The tensors of one weights file, or of the shards listed by a Hugging Face index.
struct WeightSource {
    let path: String
    private(set) var files: [SafetensorsFile] = []
    private var owner: [String: Int] = [:]
    private(set) var names: [String] = []

    init(_ url: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw CheckpointError.fileNotFound(path: url.path)
        }
        guard isDirectory.boolValue else {
            path = url.path
            add(try SafetensorsFile(contentsOf: url))
            return
        }
        let single = url.appendingPathComponent(CheckpointFileName.weights)
        let index = url.appendingPathComponent(CheckpointFileName.shardIndex)
        if FileManager.default.fileExists(atPath: single.path) {
            path = single.path
            add(try SafetensorsFile(contentsOf: single))
        } else if FileManager.default.fileExists(atPath: index.path) {
            path = index.path
            let weightMap = try Self.weightMap(index)
            for shard in Self.shardNames(weightMap, index: index.path) {
                let file = try SafetensorsFile(contentsOf: url.appendingPathComponent(shard))
                try Self.checkShard(file, named: shard, weightMap: weightMap, owners: owner, files: files, index: index.path)
                add(file)
            }
            for (name, shard) in weightMap.sorted(by: { $0.key < $1.key }) where owner[name] == nil {
                throw CheckpointError.invalidContent(path: index.path, reason: "weight_map puts '\(name)' in \(shard), which does not hold it")
            }
        } else {
            throw CheckpointError.fileNotFound(path: single.path)
        }
    }

    /// An index's `weight_map` (tensor name → shard file). - Throws: for an unreadable index, a
    /// repeated tensor name, or a shard name that is not a plain file name.
    private static func weightMap(_ index: URL) throws -> [String: String] {
        struct Index: Decodable { let weight_map: [String: String] }
        guard let data = try? Data(contentsOf: index),
              let parsed = try? JSONDecoder().decode(Index.self, from: data) else {
            throw CheckpointError.invalidContent(path: index.path, reason: "not a valid index (expected a JSON object with a 'weight_map')")
        }
        if let key = firstDuplicateKey(inJSON: data) {
            throw CheckpointError.invalidContent(path: index.path, reason: "'\(key)' is listed twice")
        }
        for shard in Set(parsed.weight_map.values).sorted() where shard.contains("/") || shard.hasPrefix(".") || shard.isEmpty {
            throw CheckpointError.invalidContent(path: index.path, reason: "shard name '\(shard)' is not a plain file name")
        }
        return parsed.weight_map
    }

    /// The distinct shard files of a weight map, in the order of their first tensor name.
    private static func shardNames(_ weightMap: [String: String], index: String) -> [String] {
        var seen = Set<String>()
        return weightMap.keys.sorted().compactMap { weightMap[$0] }.filter { seen.insert($0).inserted }
    }

    /// Every tensor of a shard must be mapped to that shard, and to no other shard before it.
    private static func checkShard(_ file: SafetensorsFile, named shard: String, weightMap: [String: String],
                                   owners: [String: Int], files: [SafetensorsFile], index: String) throws {
        for name in file.names {
            if let earlier = owners[name] {
                throw CheckpointError.invalidContent(path: index, reason: "tensor '\(name)' is in two shards (\(URL(fileURLWithPath: files[earlier].path).lastPathComponent) and \(shard))")
            }
            guard let mapped = weightMap[name] else {
                throw CheckpointError.invalidContent(path: index, reason: "shard \(shard) holds '\(name)', which weight_map does not list")
            }
            guard mapped == shard else {
                throw CheckpointError.invalidContent(path: index, reason: "shard \(shard) holds '\(name)', which weight_map puts in \(mapped)")
            }
        }
    }

    private mutating func add(_ file: SafetensorsFile) {
        for name in file.names {
            owner[name] = files.count
            names.append(name)
        }
        files.append(file)
    }

    func lookup(_ name: String) -> (SafetensorsFile, SafetensorsEntry)? {
        guard let i = owner[name], let e = files[i].entry(name) else { return nil }
        return (files[i], e)
    }
}
