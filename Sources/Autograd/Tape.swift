import Tensor

/// The reverse-mode tape: nodes in execution order, each holding its saved tensors and its
/// backward. See `docs/ARCHITECTURE.md` for the life cycle of a node.
///
/// One tape is current per process (`Tape.current`); training is driven from one thread and
/// kernels parallelise internally. A backward pass visits only the nodes that lead to the
/// requested output, frees each node's saved tensors right after its backward, and then clears
/// the tape (like PyTorch's default `retain_graph=False`).
public final class Tape {
    nonisolated(unsafe) public static var current = Tape()

    /// A recorded op. `backward(g, saved)` returns one gradient per input (nil where not needed).
    final class Node {
        let op: String
        let label: String
        let inputs: [Variable.Origin?]
        var saved: [KeptTensor]
        var backward: ((Tensor, [Tensor]) -> [Tensor?])?
        let outputShape: [Int]

        init(op: String, label: String, inputs: [Variable.Origin?], saved: [KeptTensor],
             outputShape: [Int], backward: @escaping (Tensor, [Tensor]) -> [Tensor?]) {
            self.op = op; self.label = label; self.inputs = inputs; self.saved = saved
            self.outputShape = outputShape; self.backward = backward
        }
    }

    /// A module scope: the label of the nodes recorded in it and the codec of their compressible tensors.
    private struct Scope {
        var label: String
        var codec: TensorCodec
    }

    var nodes: [Node] = []
    var generation = 0
    private var noGradDepth = 0
    private var scopes: [Scope] = []
    private var encodings = EncodingCache()
    private var useObservers: [(Parameter) -> Void] = []
    /// When false, gradient-complete hooks do not fire (inner passes of checkpointed segments).
    var firesHooks = true

    public init() {}

    /// Whether ops record nodes now.
    public var isRecording: Bool { noGradDepth == 0 }

    /// Number of nodes recorded since the last backward.
    public var nodeCount: Int { nodes.count }

    // MARK: scopes

    /// Runs `body` without recording (inference, optimizer updates, recomputation setup).
    @discardableResult
    public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
        noGradDepth += 1
        defer { noGradDepth -= 1 }
        return try body()
    }

    /// The key of the stochastic rounding of saved tensors (see `CodecNoiseKey`); set by the
    /// training loop before each micro-batch's forward.
    nonisolated(unsafe) public static var codecNoise = CodecNoiseKey()

    /// Runs `body` with `component` appended to the label of every node it records
    /// (module paths: `layers.0` → `layers.0.mlp`); the codec stays the enclosing scope's.
    @discardableResult
    public func withLabel<T>(_ component: String, _ body: () throws -> T) rethrows -> T {
        let label = currentLabel.isEmpty ? component : "\(currentLabel).\(component)"
        scopes.append(Scope(label: label, codec: currentCodec))
        defer { scopes.removeLast() }
        return try body()
    }

    /// Runs `body` as the forward of the module at `path` (absolute; empty keeps the current
    /// label), whose ops keep their compressible saved tensors in `codec`.
    @discardableResult
    public func withModuleScope<T>(path: String, codec: TensorCodec, _ body: () throws -> T) rethrows -> T {
        scopes.append(Scope(label: path.isEmpty ? currentLabel : path, codec: codec))
        defer { scopes.removeLast() }
        return try body()
    }

    public var currentLabel: String { scopes.last?.label ?? "" }

    /// The codec compressible saved tensors get now (fp32 outside any module scope).
    public var currentCodec: TensorCodec { scopes.last?.codec ?? .fp32 }

    /// Calls `observer` for every parameter read inside `body` (used by checkpointed segments,
    /// whose forward runs without recording but must still list the parameters it uses).
    func observingParameterUse<T>(_ observer: @escaping (Parameter) -> Void, _ body: () throws -> T) rethrows -> T {
        useObservers.append(observer)
        defer { useObservers.removeLast() }
        return try body()
    }

    func noteUse(_ p: Parameter) { for o in useObservers { o(p) } }

    // MARK: recording

    /// Whether an op with these inputs would record: recording is on and some input needs a
    /// gradient. `needsGrad(x)[i]` tells the forward which saved tensors it must keep.
    public func needsGrad(_ inputs: [Variable]) -> [Bool] {
        let on = isRecording
        return inputs.map { on && isLive($0.origin) }
    }

    private func isLive(_ origin: Variable.Origin?) -> Bool {
        switch origin {
        case nil: return false
        case .parameter: return true
        case let .node(_, tape, gen):
            precondition(tape == ObjectIdentifier(self) && gen == generation,
                         "Variable from an earlier graph (already backpropagated or from another tape) used in a new op; detach() it first")
            return true
        }
    }

    /// Records an op and returns its output as a variable.
    ///
    /// This is the public way to give any computation a custom (e.g. approximate) backward:
    /// compute `output` yourself, pass the tensors the backward needs as `saved` (they are counted
    /// as saved activation bytes and freed right after the backward), and return from `backward`
    /// one gradient per input, shaped like that input, or nil for inputs that need none.
    ///
    /// ```swift
    /// // y = x · 2 with a backward that only keeps the sign of the gradient.
    /// let y = Tape.current.record("signgrad-double", inputs: [x], output: x.value * 2, saved: []) { g, _ in
    ///     [g.map({ $0.replacing(with: 2, where: $0 .> 0).replacing(with: -2, where: $0 .< 0) },
    ///            { $0 > 0 ? 2 : ($0 < 0 ? -2 : 0) })]
    /// }
    /// ```
    /// If no input needs a gradient (or recording is off) nothing is recorded and the output is a constant.
    /// `saved` is kept exactly; use `record(_:inputs:output:saving:backward:)` for tensors a codec may compress.
    public func record(_ op: String, inputs: [Variable], output: Tensor, saved: [Tensor],
                       backward: @escaping (_ gradOutput: Tensor, _ saved: [Tensor]) -> [Tensor?]) -> Variable {
        record(op, inputs: inputs, output: output, saving: saved.map { .exact($0) }, backward: backward)
    }

    /// `record` with each saved tensor marked exact or compressible: compressible ones are kept
    /// in the current scope's codec (`currentCodec`) and decoded for the backward, which receives
    /// one fp32 tensor per entry of `saving`, in order. The tape counts the encoded bytes.
    public func record(_ op: String, inputs: [Variable], output: Tensor, saving: [SavedTensor],
                       backward: @escaping (_ gradOutput: Tensor, _ saved: [Tensor]) -> [Tensor?]) -> Variable {
        let needs = needsGrad(inputs)
        guard needs.contains(true) else { return Variable(output) }
        let kept = saving.enumerated().map { slot, s in keep(s, op: op, slot: slot) }
        let node = Node(op: op, label: currentLabel,
                        inputs: zip(inputs, needs).map { $1 ? $0.origin : nil },
                        saved: kept, outputShape: output.shape, backward: backward)
        nodes.append(node)
        return Variable(output, origin: .node(index: nodes.count - 1, tape: ObjectIdentifier(self), generation: generation))
    }

    /// Whether `t`, saved now as `.compressible`, is kept as an encoding. The backward then gets a
    /// fresh decode that it owns and may overwrite; a tensor kept plainly is the forward's own.
    public func keepsEncoded(_ t: Tensor) -> Bool { currentCodec != .fp32 && t.count > 0 }

    private func keep(_ s: SavedTensor, op: String, slot: Int) -> KeptTensor {
        let codec = currentCodec
        guard case .compressible(let t) = s, keepsEncoded(t) else {
            switch s { case .exact(let t), .compressible(let t): return .plain(t) }
        }
        if let e = encodings.lookup(t, codec) { return .encoded(e) }
        let e = t.encoded(codec, noise: Tape.codecNoise.rng(path: currentLabel, op: op, slot: slot), category: .activation)
        encodings.insert(t, e)
        return .encoded(e)
    }

    /// Call before writing new contents into `t`'s storage (an op reusing a dead input's buffer
    /// for its output), so a later op saving that storage is not handed the old contents' encoding.
    public func willOverwrite(_ t: Tensor) { encodings.remove(t) }

    // MARK: saved memory

    /// One entry per recorded node still holding saved tensors.
    public struct SavedEntry: Sendable {
        public let op: String
        public let label: String
        /// Bytes of the storages this node is the first (in recording order) to keep, so that a
        /// tensor saved by several nodes (one encoding of q/k/v's input) counts once and the
        /// entries sum to `savedBytes`.
        public let bytes: Int
    }

    public var savedEntries: [SavedEntry] {
        var seen = Set<ObjectIdentifier>()
        return nodes.filter { $0.backward != nil }.map { n in
            SavedEntry(op: n.op, label: n.label, bytes: n.saved.reduce(0) { seen.insert($1.storageID).inserted ? $0 + $1.bytes : $0 })
        }
    }

    /// Bytes of distinct storages kept alive by the tape (a tensor saved by two nodes counts once).
    public var savedBytes: Int { savedEntries.reduce(0) { $0 + $1.bytes } }

    /// Drops every node (and its saved tensors) without backpropagating.
    public func reset() {
        nodes.removeAll()
        encodings.removeAll()
        generation += 1
    }

    // MARK: backward

    /// Backpropagates from `output` (a scalar, unless `gradient` is given), accumulating into the
    /// `grad` of every parameter it reaches, then clears the tape.
    public func backward(_ output: Variable, gradient: Tensor? = nil) {
        let seed = gradient ?? Memory.withCategory(.workspace) { Tensor.ones(output.shape) }
        precondition(gradient != nil || output.count == 1,
                     "backward: output of shape \(output.shape) is not a scalar; pass gradient:")
        precondition(seed.shape == output.shape, "backward: gradient shape \(seed.shape) differs from output shape \(output.shape)")
        switch output.origin {
        case nil:
            return
        case .parameter(let p):
            p.accumulateGrad(seed)
            if firesHooks { p.gradientCompleted() }
            return
        case let .node(index, _, _):
            _ = isLive(output.origin)
            run(from: index, seed: seed)
        }
    }

    private func run(from last: Int, seed: Tensor) {
        // Which nodes lead to the output, and how many contributions each parameter will receive.
        var needed = [Bool](repeating: false, count: last + 1)
        needed[last] = true
        var pending: [ObjectIdentifier: Int] = [:]
        for i in stride(from: last, through: 0, by: -1) where needed[i] {
            for input in nodes[i].inputs {
                switch input {
                case .node(let j, _, _)?: needed[j] = true
                case .parameter(let p)?: pending[ObjectIdentifier(p), default: 0] += 1
                case nil: break
                }
            }
        }
        var grads = [Tensor?](repeating: nil, count: last + 1)
        grads[last] = seed
        Memory.withCategory(.workspace) {
            for i in stride(from: last, through: 0, by: -1) where needed[i] {
                let node = nodes[i]
                guard let g = grads[i], let backward = node.backward else {
                    // No gradient reached this node (every consumer returned nil for it): free what
                    // it saved; its parameters get no contribution from it, but their hooks must
                    // still fire.
                    node.saved = []
                    node.backward = nil
                    for case .parameter(let p)? in node.inputs {
                        let key = ObjectIdentifier(p)
                        pending[key]! -= 1
                        if pending[key] == 0, firesHooks { p.gradientCompleted() }
                    }
                    continue
                }
                grads[i] = nil
                let inputGrads = backward(g, node.saved.map(\.tensor))
                node.saved = []
                node.backward = nil
                precondition(inputGrads.count == node.inputs.count,
                             "\(node.op): backward returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
                for (input, ig) in zip(node.inputs, inputGrads) {
                    switch input {
                    case .node(let j, _, _)?:
                        guard let ig else { continue }
                        precondition(ig.shape == nodes[j].outputShape,
                                     "\(node.op): gradient of shape \(ig.shape) for an input of shape \(nodes[j].outputShape)")
                        if grads[j] == nil { grads[j] = ig } else { grads[j]! += ig }
                    case .parameter(let p)?:
                        if let ig {
                            precondition(ig.shape == p.shape,
                                         "\(node.op): gradient of shape \(ig.shape) for parameter '\(p.name)' of shape \(p.shape)")
                            p.accumulateGrad(ig)
                        }
                        let key = ObjectIdentifier(p)
                        pending[key]! -= 1
                        if pending[key] == 0, firesHooks { p.gradientCompleted() }
                    case nil:
                        break
                    }
                }
            }
        }
        reset()
    }
}

/// Runs `body` on the current tape without recording.
@discardableResult
public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T { try Tape.current.withNoGrad(body) }
