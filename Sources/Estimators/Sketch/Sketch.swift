import Autograd
import Tensor

/// The input side of a projection estimator: the basis `V` (n, k) of each step and the saved
/// sketch `z = x V`, shared by the layers that read one input (ALGORITHMS.md §11).
///
/// Layers fed by the same tensor `x` (q, k and v; gate and up; a shared expert with its router)
/// whose estimators have the same kind and options form one group around one sketch: one basis,
/// one random stream (keyed by the group, not by the member), one step clock and one saved `z`.
/// Each member forms its own `Ĝ = (δᵀ z) Vᵀ` with its own scaling and memory, so each member's
/// estimator keeps its law (unbiasedness, MSE) exactly, while the group saves N·k floats instead
/// of (members)·N·k. A sketch with one member is the plain per-layer estimator.
///
/// Sharing works per forward: the first member to call `sketch(of:for:)` with an input makes z
/// (refreshing an adaptive basis, advancing the clock) and the other members that call with the
/// same input storage before they have been served get the same z, so the tape counts it once.
/// A member calling again (the layer applied twice) starts a new sketch.
///
/// Subclasses supply `prepare(input:step:)` (refresh; the resident tensors valid for this step)
/// and `basis(step:context:)` (or `stepState`/`basis(stepState:context:)`), plus their state.
public class Sketch: RecomputeStateful {
    public let inFeatures: Int
    public let rank: Int
    public internal(set) var clock: EstimatorClock
    private var members: [ObjectIdentifier] = []
    /// This forward's sketch while some members have not yet taken it.
    private var pending: Pending?
    /// What the step in flight's basis is rebuilt from (`stepState`, under `.optimizer`), so the
    /// backward of every member reuses the forward's draws instead of regenerating them; any other
    /// step is made anew.
    private var lastStep: (step: UInt64, state: Tensor)?

    private struct Pending {
        weak var input: TensorStorage?
        let saved: EstimatorSaved
        var served: Set<ObjectIdentifier>
    }

    init(inFeatures n: Int, rank: Int, seed: UInt64, stream: UInt64) {
        precondition(rank >= 1 && rank <= n, "\(Self.self): rank \(rank) out of 1...\(n)")
        inFeatures = n
        self.rank = rank
        clock = EstimatorClock(seed: seed, stream: stream)
    }

    /// Layers sharing this sketch.
    public var memberCount: Int { members.count }

    func register(_ member: AnyObject) { members.append(ObjectIdentifier(member)) }

    /// The first member: it reports the sketch's state and saved bytes, the others only their own.
    func isLeader(_ member: AnyObject) -> Bool { members.first == ObjectIdentifier(member) }

    /// This step's `z = x V` for `member`'s forward. - Parameter x: (N, n). - Returns: z (N, k) as
    /// the saved activation, the resident tensors of this step in `context`, and the step.
    func sketch(of x: Tensor, for member: AnyObject) -> EstimatorSaved {
        precondition(x.rank == 2 && x.shape[1] == inFeatures, "\(Self.self): input \(x.shape) for n = \(inFeatures)")
        let id = ObjectIdentifier(member)
        if var p = pending, p.input === x.storage, !p.served.contains(id) {
            p.served.insert(id)
            pending = p.served.count < members.count ? p : nil
            return p.saved
        }
        Checkpointing.willMutate(self)
        let step = clock.step
        let context = prepare(input: x, step: step)
        clock.step += 1
        let z = ProjectionMath.project(x, basis(for: EstimatorSaved(activations: [], context: context, step: step)))
        let saved = EstimatorSaved(activations: [z], context: context, step: step)
        pending = members.count > 1 ? Pending(input: x.storage, saved: saved, served: [id]) : nil
        return saved
    }

    /// Whether the forward at `step` refreshes an adaptive basis (the step's extra cost).
    public func refreshes(atStep step: UInt64) -> Bool { false }

    /// V of the step a forward saved, (n, k).
    public func basis(for saved: EstimatorSaved) -> Tensor {
        if let c = lastStep, c.step == saved.step { return basis(stepState: c.state, context: saved.context) }
        let state = stepState(step: saved.step, context: saved.context)
        lastStep = (saved.step, keep(state, as: .optimizer))
        return basis(stepState: state, context: saved.context)
    }

    /// What `basis(for:)` keeps of `step` between the forward and the backward: V itself by
    /// default; a subclass whose V contains resident state keeps only the rest.
    func stepState(step: UInt64, context: [Tensor]) -> Tensor { basis(step: step, context: context) }

    /// V from `stepState(step:context:)`'s result and the step's resident tensors.
    func basis(stepState: Tensor, context: [Tensor]) -> Tensor { stepState }

    /// Called once per sketch before z is formed: refreshes an adaptive basis and returns the
    /// resident tensors the backward needs for this step (not counted as saved bytes).
    func prepare(input x: Tensor, step: UInt64) -> [Tensor] { [] }

    /// V for `step`, (n, k); regenerated in the backward for random kinds.
    func basis(step: UInt64, context: [Tensor]) -> Tensor {
        preconditionFailure("\(Self.self) must override basis(step:context:)")
    }

    // MARK: state

    /// Bytes of resident state once warmed up (bases, covariance, the step's basis), for the
    /// memory pre-flight.
    var stateBytes: Int { inFeatures * rank * 4 }

    /// Keys of `stateTensors()` (for rejecting a checkpoint of another estimator).
    var stateKeys: Set<String> { ["clock"] }

    func stateTensors() -> [String: Tensor] { ["clock": clock.encoded] }

    /// Restores the clock (subclasses restore the rest, after validating everything).
    func loadState(_ tensors: [String: Tensor], owner: String) throws {
        clock = try EstimatorClock(decoding: requireState(tensors, "clock", shape: [12], owner: owner), owner: owner)
        forgetStep()
    }

    /// Drops what belongs to the step in flight (after a restore, the clock may be elsewhere).
    private func forgetStep() {
        pending = nil
        lastStep = nil
    }

    /// State a forward mutates besides the clock (for checkpointed recomputation).
    func captureBasis() -> Any { () }
    func restoreBasis(_ state: Any) {}

    public func captureRecomputeState() -> Any { (clock, captureBasis()) }
    public func restoreRecomputeState(_ state: Any) {
        let (c, b) = state as! (EstimatorClock, Any)
        clock = c
        restoreBasis(b)
        forgetStep()
    }
}

/// An estimator whose forward saves its (possibly shared) sketch's z and whose backward lifts
/// `P = δᵀ z` (m, k) back to (m, n); the projection kinds of ALGORITHMS.md §2–§4.
public protocol SketchingEstimator: LinearEstimator {
    associatedtype SketchKind: Sketch
    /// The input side, shared with the other layers of the group (`Sketch.memberCount`).
    var sketch: SketchKind { get }
    /// Per-member state (e.g. GradLite's error-feedback memory), without the sketch's.
    var memberState: [String: Tensor] { get }
    var memberStateKeys: Set<String> { get }
    func loadMemberState(_ tensors: [String: Tensor]) throws
}

extension SketchingEstimator {
    /// k.
    public var rank: Int { sketch.rank }
    /// n.
    public var inFeatures: Int { sketch.inFeatures }

    public func save(input x: Tensor, weightShape: [Int]) -> EstimatorSaved { sketch.sketch(of: x, for: self) }

    /// `Ĝ = left · rightᵀ` from `factoredWeightGradient`, (m, n). - Parameter delta: (N, m).
    public func weightGradient(outputGradient delta: Tensor, saved: EstimatorSaved, weightShape: [Int]) -> Tensor {
        guard let f = factoredWeightGradient(outputGradient: delta, saved: saved, weightShape: weightShape) else {
            preconditionFailure("\(self): a sketching estimator gives factoredWeightGradient or its own weightGradient")
        }
        return ProjectionMath.lift(f.left, f.right)
    }

    /// The group saves one z of `rows · k` floats, counted with its first member.
    public func savedBytes(rows: Int, weightShape: [Int]) -> Int { sketch.isLeader(self) ? rows * sketch.rank * 4 : 0 }

    /// The sketch's state, counted with the group's first member; error-feedback memory replaces
    /// the layer's gradient buffer and is counted with the gradients.
    public func stateBytes(weightShape: [Int]) -> Int { sketch.isLeader(self) ? sketch.stateBytes : 0 }

    public var memberState: [String: Tensor] { [:] }
    public var memberStateKeys: Set<String> { [] }
    public func loadMemberState(_ tensors: [String: Tensor]) throws {}

    /// The member's state, with the sketch's when this member leads the group.
    public func stateTensors() -> [String: Tensor] {
        guard sketch.isLeader(self) else { return memberState }
        return sketch.stateTensors().merging(memberState) { a, _ in a }
    }

    public func loadState(_ tensors: [String: Tensor]) throws {
        let owner = description
        let leads = sketch.isLeader(self)
        try rejectUnknownState(tensors, known: memberStateKeys.union(leads ? sketch.stateKeys : []), owner: owner)
        if leads { try sketch.loadState(tensors.filter { sketch.stateKeys.contains($0.key) }, owner: owner) }
        try loadMemberState(tensors.filter { memberStateKeys.contains($0.key) })
    }
}
