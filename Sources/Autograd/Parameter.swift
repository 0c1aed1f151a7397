import Tensor

/// A trainable tensor: a leaf of the tape with a stable identity.
///
/// `value` is counted under `.parameter` and `grad` under `.gradient`. Gradients accumulate over
/// backward passes until `zeroGrad()`. Hooks registered with `onGradientComplete` run as soon as
/// a backward pass has delivered every contribution to `grad` (LOMO-style fused updates use them).
public final class Parameter {
    /// `_modify` (not `didSet`) so that in-place updates from other modules (`p.value.addScaled`)
    /// mutate the storage in place instead of copying it through a get/set pair.
    public var value: Tensor {
        get { _value }
        _modify {
            yield &_value
            _value.storage.recategorize(.parameter)
        }
        set {
            _value = newValue
            _value.storage.recategorize(.parameter)
        }
    }
    private var _value: Tensor
    public var grad: Tensor?
    public var requiresGrad: Bool
    /// Dotted path, e.g. `layers.0.attention.wq.weight`; set by the module that owns it.
    public var name: String

    var gradientCompleteHooks: [(Parameter) -> Void] = []

    public init(_ value: Tensor, name: String = "", requiresGrad: Bool = true) {
        value.storage.recategorize(.parameter)
        _value = value
        self.name = name
        self.requiresGrad = requiresGrad
    }

    /// A temporary leaf that leaves its value's memory category alone (inputs of a recomputed
    /// checkpoint segment stay counted where they were).
    init(temporaryLeaf value: Tensor, requiresGrad: Bool) {
        _value = value
        name = "checkpoint.input"
        self.requiresGrad = requiresGrad
    }

    public var shape: [Int] { value.shape }

    /// This parameter as a tape leaf (a constant when `requiresGrad` is false or grad is disabled).
    public var variable: Variable {
        Tape.current.noteUse(self)
        return Variable(value, parameter: requiresGrad ? self : nil)
    }

    /// Adds `g` to `grad` (allocating it under `.gradient` on first use).
    public func accumulateGrad(_ g: Tensor) {
        precondition(g.shape == value.shape, "gradient of shape \(g.shape) for parameter \(name) of shape \(value.shape)")
        if grad == nil {
            // No copy: copy-on-write protects any other holder of `g`'s storage.
            g.storage.recategorize(.gradient)
            grad = g
        } else {
            grad!.addScaled(g)
        }
    }

    public func zeroGrad() { grad = nil }

    /// Registers `hook`, called with this parameter whenever a backward pass completes its gradient.
    public func onGradientComplete(_ hook: @escaping (Parameter) -> Void) { gradientCompleteHooks.append(hook) }
    public func removeGradientHooks() { gradientCompleteHooks.removeAll() }

    func gradientCompleted() { for h in gradientCompleteHooks { h(self) } }
}
