import Autograd
import Estimators
import Tensor

/// Base class of every layer and model.
///
/// Parameters and submodules are found by reflection over stored properties in declaration
/// order: a `Parameter`, a `Module`, or an array of either. Paths are dotted property names with
/// array indices, e.g. `layers.0.attention.wq.weight`. Subclasses declare their pieces as `let`
/// or `var` properties and need no registration code.
open class Module {
    /// Training mode (e.g. estimator state updates, load-balancing loss); see `train()` / `eval()`.
    public private(set) var isTraining = true
    /// Dotted path from the root of the tree, set by `namedModules()` (empty until then, and for the root).
    public internal(set) var path = ""

    public init() {}

    /// Direct children in declaration order: (property name, child).
    public var children: [(String, Module)] {
        var out: [(String, Module)] = []
        forEachStoredProperty { name, value in
            if let m = value as? Module { out.append((name, m)) }
            if let ms = value as? [Module] { for (i, m) in ms.enumerated() { out.append(("\(name).\(i)", m)) } }
        }
        return out
    }

    /// Parameters owned directly by this module (not by children).
    public var ownParameters: [(String, Parameter)] {
        var out: [(String, Parameter)] = []
        forEachStoredProperty { name, value in
            if let p = value as? Parameter { out.append((name, p)) }
            if let ps = value as? [Parameter] { for (i, p) in ps.enumerated() { out.append(("\(name).\(i)", p)) } }
        }
        return out
    }

    /// Every module below and including this one, with its path (`""` for self). Also sets each module's `path`.
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        path = prefix
        var out = [(prefix, self)]
        for (name, child) in children { out += child.namedModules(prefix: join(prefix, name)) }
        return out
    }

    /// Every parameter in declaration order with its path. Also sets each parameter's `name`.
    public func namedParameters(prefix: String = "") -> [(String, Parameter)] {
        var out: [(String, Parameter)] = []
        var seen = Set<ObjectIdentifier>()
        for (path, module) in namedModules(prefix: prefix) {
            for (name, p) in module.ownParameters where seen.insert(ObjectIdentifier(p)).inserted {
                let full = join(path, name)
                p.name = full
                out.append((full, p))
            }
        }
        return out
    }

    public var parameters: [Parameter] { namedParameters().map(\.1) }

    /// Total number of scalar parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Sets of this module's `Linear` descendants (paths relative to this module) that read one
    /// input tensor, so that their estimators can share one sketch (ALGORITHMS.md §11).
    open var linearsSharingInput: [[String]] { [] }

    public func train() { for (_, m) in namedModules() { m.isTraining = true } }
    public func eval() { for (_, m) in namedModules() { m.isTraining = false } }

    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    private func forEachStoredProperty(_ body: (String, Any) -> Void) {
        var mirror: Mirror? = Mirror(reflecting: self)
        var levels: [Mirror] = []
        while let m = mirror { levels.append(m); mirror = m.superclassMirror }
        // Base class properties first, then subclasses', each in declaration order.
        for m in levels.reversed() {
            for child in m.children {
                guard let label = child.label else { continue }
                body(label.hasPrefix("_") ? String(label.dropFirst()) : label, child.value)
            }
        }
    }
}

func join(_ prefix: String, _ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }
