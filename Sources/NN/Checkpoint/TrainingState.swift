import Estimators
import Foundation
import Tensor

/// Everything besides the weights that a run needs to resume bit-identically, stored as the
/// second file of a checkpoint (`training_state.safetensors`).
///
/// Tensors: optimizer state under `optimizer.<key>` (F32, and U8 for the codes of 8-bit states)
/// and estimator state under `estimator.<module path>.<key>` (F32), all bit-exact. Scalars live in `__metadata__` as
/// strings: integers in decimal and structured values as JSON, so no 64-bit counter ever goes
/// through a `Double` and loses bits.
///
/// Resuming bit-identically needs every source of nondeterminism captured here: the step, each
/// RNG's `(seed, stream, counter)` (data sampling), and the optimizer's and estimators' tensors
/// and counters (estimator clocks are among their state tensors).
///
/// Both files of a checkpoint carry an FNV-1a checksum of their data in the metadata
/// (`SafetensorsWriter.checksummed`), so a resume can tell a complete checkpoint from one a kill
/// interrupted.
public struct TrainingState: Equatable {
    /// Identifies the layout; bumped on incompatible changes.
    public static let format = "sketchgrad-training-state-2"

    /// Optimizer steps taken.
    public var step: Int
    /// Named generator positions, e.g. `"data"`.
    public var rngs: [String: RNG]
    /// The run's record (`RunRecord` as JSON text: configuration and input fingerprints), so a
    /// resume can check that it continues the same run.
    public var config: String
    /// Estimator assignment in the CLI's text form, e.g. `layers.*.mlp.*=gradlite(rank:64)`.
    public var estimatorSpec: String
    /// Optimizer description in the CLI's text form.
    public var optimizerSpec: String
    /// The optimizer's `stateTensors()` (moments, projection bases...).
    public var optimizerState: [String: Tensor]
    /// The optimizer's `stateCodes()` (codes of 8-bit states; empty for fp32 states).
    public var optimizerCodes: [String: ByteTensor]
    /// Estimator state per module path (see `estimatorState(of:)`).
    public var estimatorState: [String: [String: Tensor]]

    public init(step: Int = 0, rngs: [String: RNG] = [:], config: String = "", estimatorSpec: String = "",
                optimizerSpec: String = "", optimizerState: [String: Tensor] = [:], optimizerCodes: [String: ByteTensor] = [:],
                estimatorState: [String: [String: Tensor]] = [:]) {
        self.step = step; self.rngs = rngs
        self.config = config; self.estimatorSpec = estimatorSpec; self.optimizerSpec = optimizerSpec
        self.optimizerState = optimizerState; self.optimizerCodes = optimizerCodes; self.estimatorState = estimatorState
    }

    /// Compares tensors bit for bit (so `==` after a round trip means an exact restore).
    public static func == (a: TrainingState, b: TrainingState) -> Bool {
        func same(_ x: [String: Tensor], _ y: [String: Tensor]) -> Bool {
            x.count == y.count && x.allSatisfy { k, t in y[k].map { bitIdentical(t, $0) } ?? false }
        }
        return a.step == b.step && a.rngs == b.rngs && a.config == b.config && a.estimatorSpec == b.estimatorSpec
            && a.optimizerSpec == b.optimizerSpec
            && same(a.optimizerState, b.optimizerState) && a.optimizerCodes == b.optimizerCodes
            && a.estimatorState.count == b.estimatorState.count
            && a.estimatorState.allSatisfy { k, s in b.estimatorState[k].map { same(s, $0) } ?? false }
    }

    // MARK: file

    /// The file's tensors and metadata. `checkpointID` ties it to the weights saved with it.
    public func writer(checkpointID: String? = nil) -> SafetensorsWriter {
        var w = SafetensorsWriter()
        w.checksummed = true
        for (key, t) in optimizerState { w.add("optimizer.\(key)", t) }
        for (key, t) in optimizerCodes { w.add("optimizer.\(key)", bytes: t) }
        for (path, tensors) in estimatorState {
            for (key, t) in tensors { w.add("estimator.\(path).\(key)", t) }
        }
        var m: [String: String] = [
            "format": Self.format,
            "step": String(step),
            "rng": Self.json(rngs),
            "config": config,
            "estimator_spec": estimatorSpec,
            "optimizer_spec": optimizerSpec,
            "estimator_paths": Self.json(estimatorState.keys.sorted()),
        ]
        if let checkpointID { m["checkpoint_id"] = checkpointID }
        w.metadata = m
        return w
    }

    /// Writes the state atomically.
    public func write(to url: URL, checkpointID: String? = nil) throws {
        try writer(checkpointID: checkpointID).write(to: url)
    }

    /// Reads a state written by `write(to:)`.
    public init(contentsOf url: URL) throws {
        try self.init(file: SafetensorsFile(contentsOf: url))
    }

    /// Parses an opened state file.
    public init(file: SafetensorsFile) throws {
        let path = file.path, m = file.metadata
        func value(_ key: String) throws -> String {
            guard let v = m[key] else { throw CheckpointError.invalidMetadata(path: path, key: key, reason: "is missing") }
            return v
        }
        func decode<T: Decodable>(_ key: String, _ type: T.Type) throws -> T {
            guard let v = try? JSONDecoder().decode(T.self, from: Data(try value(key).utf8)) else {
                throw CheckpointError.invalidMetadata(path: path, key: key, reason: "is not valid JSON of the expected form")
            }
            return v
        }
        guard try value("format") == Self.format else {
            throw CheckpointError.invalidMetadata(path: path, key: "format", reason: "is '\(m["format"]!)', expected '\(Self.format)'")
        }
        guard let step = Int(try value("step")), step >= 0 else {
            throw CheckpointError.invalidMetadata(path: path, key: "step", reason: "is not a non-negative integer")
        }
        self.init(step: step, rngs: try decode("rng", [String: RNG].self),
                  config: try value("config"), estimatorSpec: try value("estimator_spec"),
                  optimizerSpec: try value("optimizer_spec"))
        // Longest path first, so `layers.1.x` is never taken for a key of module `layers.1`'s parent.
        let paths = try decode("estimator_paths", [String].self).sorted { $0.count > $1.count }
        for name in file.names {
            if name.hasPrefix("optimizer."), file.entry(name)?.dtype == .u8 {
                optimizerCodes[String(name.dropFirst("optimizer.".count))] = try Memory.withCategory(.optimizer) { try file.byteTensor(name) }
                continue
            }
            // Counted where the memory report expects it: optimizer moments under `.optimizer`.
            let t = try Memory.withCategory(name.hasPrefix("optimizer.") ? .optimizer : Memory.currentCategory) {
                try file.floatTensor(name)
            }
            if name.hasPrefix("optimizer.") {
                optimizerState[String(name.dropFirst("optimizer.".count))] = t
            } else if name.hasPrefix("estimator.") {
                let rest = name.dropFirst("estimator.".count)
                guard let p = paths.first(where: { rest.hasPrefix($0 + ".") }) else {
                    throw CheckpointError.invalidContent(path: path, reason: "tensor '\(name)' belongs to no path in estimator_paths")
                }
                estimatorState[p, default: [:]][String(rest.dropFirst(p.count + 1))] = t
            } else {
                throw CheckpointError.invalidContent(path: path, reason: "unexpected tensor '\(name)' in a training state file")
            }
        }
    }

    private static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try! encoder.encode(value), as: UTF8.self)
    }

    // MARK: estimator state of a model

    /// The state of every estimator in `model`, keyed by the path of the module that owns it;
    /// stateless estimators are left out.
    public static func estimatorState(of model: Module) -> [String: [String: Tensor]] {
        var out: [String: [String: Tensor]] = [:]
        for (path, module) in model.namedModules() {
            guard let carrier = module as? EstimatorStateCarrying else { continue }
            let s = carrier.estimatorStateTensors()
            if !s.isEmpty { out[path] = s }
        }
        return out
    }

    /// Gives every estimator in `model` its saved state (stateless ones get none). Every problem
    /// — state for a module that does not exist or has no estimator, state an estimator rejects,
    /// missing state — is reported together in one `CheckpointError.invalidContent`.
    public func restoreEstimatorState(into model: Module, path: String = "training state") throws {
        var problems: [String] = []
        var remaining = estimatorState
        for (modulePath, module) in model.namedModules() {
            guard let carrier = module as? EstimatorStateCarrying else { continue }
            let state = remaining.removeValue(forKey: modulePath) ?? [:]
            do {
                try carrier.loadEstimatorState(state)
            } catch {
                problems.append("\(modulePath.isEmpty ? "<root>" : modulePath): \(error)")
            }
        }
        for p in remaining.keys.sorted() { problems.append("state for \(p), which has no estimator in the model") }
        guard problems.isEmpty else {
            throw CheckpointError.invalidContent(path: path, reason: "estimator state does not fit the model: " + problems.joined(separator: "; "))
        }
    }
}

/// A module whose backward estimator has state to checkpoint. `Linear` conforms; other modules
/// that own estimators should too, so `TrainingState.estimatorState(of:)` finds them.
public protocol EstimatorStateCarrying: AnyObject {
    func estimatorStateTensors() -> [String: Tensor]
    func loadEstimatorState(_ tensors: [String: Tensor]) throws
}

extension Linear: EstimatorStateCarrying {
    public func estimatorStateTensors() -> [String: Tensor] { estimator.stateTensors() }
    public func loadEstimatorState(_ tensors: [String: Tensor]) throws { try estimator.loadState(tensors) }
}

/// Same shape and the same bits in every element (NaNs included).
func bitIdentical(_ a: Tensor, _ b: Tensor) -> Bool {
    a.shape == b.shape && a.withUnsafeBufferPointer { x in
        b.withUnsafeBufferPointer { y in zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern } }
    }
}
