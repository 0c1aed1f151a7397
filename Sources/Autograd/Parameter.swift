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
    /// The accumulated gradient, counted under `.gradient`. A factored contribution that no one
    /// took (`accumulateGrad(left:right:)`) is added on the first access.
    public var grad: Tensor? {
        get { materializeFactors(); return _grad }
        _modify { materializeFactors(); yield &_grad }
        set { factors = nil; _grad = newValue }
    }
    private var _grad: Tensor?
    /// A gradient `left · rightᵀ` not formed yet (a projection estimator's estimate, ALGORITHMS.md §2–§4).
    private var factors: (left: Tensor, right: Tensor)?
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

    /// Adds the gradient `left · rightᵀ` — left (m, k), right (n, k) — keeping it factored while it
    /// is the only contribution, so an optimizer that projects it (GaLore between refreshes) can
    /// skip the (m, n) product (`takeFactoredGrad()`); any read of `grad` forms it.
    public func accumulateGrad(left: Tensor, right: Tensor) {
        precondition(left.rank == 2 && right.rank == 2 && [left.shape[0], right.shape[0]] == value.shape
                        && left.shape[1] == right.shape[1],
                     "factored gradient \(left.shape)·\(right.shape)ᵀ for parameter \(name) of shape \(value.shape)")
        if _grad == nil && factors == nil {
            factors = (left, right)
        } else {
            accumulateGrad(Parameter.product(left, right))
        }
    }

    /// The gradient's factors when it is exactly one factored contribution, which this removes (so
    /// the gradient is then nil); nil otherwise, leaving the gradient as it is.
    public func takeFactoredGrad() -> (left: Tensor, right: Tensor)? {
        guard _grad == nil, let f = factors else { return nil }
        factors = nil
        return f
    }

    private func materializeFactors() {
        guard let f = factors else { return }
        factors = nil
        accumulateGrad(Parameter.product(f.left, f.right))
    }

    /// `left · rightᵀ`, (m, n), counted under `.gradient`.
    private static func product(_ left: Tensor, _ right: Tensor) -> Tensor {
        Memory.withCategory(.gradient) { Tensor.matmul(left, right, transposeB: true) }
    }

    public func zeroGrad() { grad = nil }

    /// Registers `hook`, called with this parameter whenever a backward pass completes its gradient.
    public func onGradientComplete(_ hook: @escaping (Parameter) -> Void) { gradientCompleteHooks.append(hook) }
    public func removeGradientHooks() { gradientCompleteHooks.removeAll() }

    func gradientCompleted() { for h in gradientCompleteHooks { h(self) } }
}
