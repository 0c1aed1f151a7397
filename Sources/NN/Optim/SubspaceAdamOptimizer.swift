import Autograd
import Tensor

/// What GaLore and Grass share around their `SubspaceAdamCore`: the learning rate, the plain and
/// layer-wise steps, clipping's measuring pass and the state a checkpoint holds. A subclass gives
/// the per-weight update (`update(_:_:)`: refresh or move the basis, then `core.update`) and its
/// `description`.
public class SubspaceAdamOptimizer: FusedBackwardOptimizer {
    let core: SubspaceAdamCore
    /// Whether the state includes each weight's `recovery_norm` (Grass's recovery scaling).
    private let includesRecovery: Bool

    init(core: SubspaceAdamCore, includesRecovery: Bool, layerwise: Bool) {
        self.core = core
        self.includesRecovery = includesRecovery
        if layerwise { attach() }
    }

    public var learningRate: Float {
        get { core.learningRate }
        set { core.learningRate = newValue }
    }
    public var stepCount: Int { core.stepCount }

    public var updatesDuringBackward: Bool { core.fused.attached }
    public func attach() {
        core.attach(projected: { [weak self] s, g in self?.update(s, g) },
                    acceptsFactored: { [weak self] s in self?.acceptsFactored(s) ?? false })
    }
    public func detach() { core.fused.detach() }
    public func measureGradientNorm(maxNorm: Float, _ backward: () throws -> Void) rethrows -> Float {
        try core.fused.measure(maxNorm: maxNorm, backward)
    }

    public func step() {
        Memory.withCategory(.workspace) {
            for s in core.states { if let g = s.slot.parameter.grad { update(s, .dense(g)) } }
        }
        core.finishStep()
    }

    /// The projected update of one weight from its gradient `g` (already clipped).
    func update(_ s: SubspaceState, _ g: WeightGradient) {
        preconditionFailure("\(type(of: self)) does not define its update")
    }

    /// Whether the update of `s` can take a factored gradient without forming it. Default false.
    func acceptsFactored(_ s: SubspaceState) -> Bool { false }

    public func zeroGrad() { core.zeroGrad() }

    public func stateTensors() -> [String: Tensor] { core.entries(includeRecovery: includesRecovery).collect() }
    public func stateCodes() -> [String: ByteTensor] { core.entries(includeRecovery: includesRecovery).collectCodes() }
    public func loadState(_ tensors: [String: Tensor], codes: [String: ByteTensor]) throws {
        try core.entries(includeRecovery: includesRecovery).load(tensors, codes: codes, optimizer: description)
    }

    public var description: String { "\(type(of: self))" }
}
