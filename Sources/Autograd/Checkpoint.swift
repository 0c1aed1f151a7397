import Tensor

/// State that a forward pass mutates (an estimator's step counter and basis, a dropout RNG) and
/// that must be rewound so that a checkpointed segment's recomputation sees what the original
/// forward saw. Conformers call `Checkpointing.willMutate(self)` before mutating in a forward.
public protocol RecomputeStateful: AnyObject {
    func captureRecomputeState() -> Any
    func restoreRecomputeState(_ state: Any)
}

public enum Checkpointing {
    nonisolated(unsafe) static var participants: [[ObjectIdentifier: (RecomputeStateful, Any)]] = []

    /// Whether a checkpointed segment is being recomputed inside the backward.
    nonisolated(unsafe) public private(set) static var isRecomputing = false

    /// Call before a forward pass mutates `object`; inside a checkpointed segment its state is
    /// captured once so the recomputation can start from it.
    public static func willMutate(_ object: RecomputeStateful) {
        guard !participants.isEmpty else { return }
        let key = ObjectIdentifier(object)
        if participants[participants.count - 1][key] == nil {
            participants[participants.count - 1][key] = (object, object.captureRecomputeState())
        }
    }

    static func withRecomputing<T>(_ body: () throws -> T) rethrows -> T {
        let was = isRecomputing
        isRecomputing = true
        defer { isRecomputing = was }
        return try body()
    }
}

/// Runs `body` as a checkpointed segment: its forward runs without saving anything but `inputs`,
/// and the backward recomputes it (rewinding `RecomputeStateful` state) to get exact gradients.
///
/// - Parameters:
///   - inputs: the variables the segment reads; gradients flow back into those that need them.
///   - compressingInputs: keep `inputs` in the current scope's codec (`SavedTensor.compressible`);
///     the recomputation then starts from their decodings, so its gradients are approximate.
///   - body: the segment; it may read parameters (they receive gradients as usual).
public func checkpoint(_ inputs: [Variable], label: String = "checkpoint", compressingInputs: Bool = false,
                       _ body: @escaping ([Variable]) -> Variable) -> Variable {
    let tape = Tape.current
    guard tape.isRecording else { return body(inputs) }
    var params: [Parameter] = []
    var seen = Set<ObjectIdentifier>()
    Checkpointing.participants.append([:])
    let output = tape.observingParameterUse({ p in
        if p.requiresGrad, seen.insert(ObjectIdentifier(p)).inserted { params.append(p) }
    }) {
        tape.withNoGrad { body(inputs.map { $0.detached() }) }
    }
    let before = Checkpointing.participants.removeLast()
    let after = before.mapValues { ($0.0, $0.0.captureRecomputeState()) }
    let needs = tape.needsGrad(inputs)
    let allInputs = inputs + params.map { Variable($0.value, parameter: $0) }
    let saving = inputs.map { compressingInputs ? SavedTensor.compressible($0.value) : .exact($0.value) }
    return tape.record(label, inputs: allInputs, output: output.value, saving: saving) { g, saved in
        for (obj, state) in before.values { obj.restoreRecomputeState(state) }
        defer { for (obj, state) in after.values { obj.restoreRecomputeState(state) } }
        // Inputs become temporary leaves of an inner tape; parameters accumulate as usual.
        let leaves = zip(saved, needs).map { Parameter(temporaryLeaf: $0, requiresGrad: $1) }
        let inner = Tape()
        inner.firesHooks = false
        let outer = Tape.current
        Tape.current = inner
        defer { Tape.current = outer }
        Checkpointing.withRecomputing {
            let out = Memory.withCategory(.activation) { body(leaves.map(\.variable)) }
            inner.backward(out, gradient: g)
        }
        // The leaves' gradients flow on as workspace, not as parameter gradients.
        let inputGrads = leaves.map { leaf -> Tensor? in
            guard var g = leaf.grad else { return nil }
            leaf.grad = nil
            if g.isUniquelyReferenced() { g.storage.recategorize(.workspace) }
            return g
        }
        return inputGrads + params.map { _ in nil }
    }
}
