import Tensor

extension LlamaConfig {
    /// A parameter of `LlamaModel(config:)`, known before the model is built.
    public struct ParameterShape: Equatable, Sendable {
        /// Module path of the parameter, e.g. `layers.0.attention.wq.weight`.
        public var path: String
        public var shape: [Int]
        /// Whether it is the weight of a `Linear` layer (which gets an estimator).
        public var isLinear: Bool
    }

    /// Every parameter of `LlamaModel(config:)` with its path and shape, in declaration order
    /// (the paths listed in `LlamaModel`'s documentation), without allocating anything: what the
    /// memory pre-flight sizes a run from.
    public var parameterShapes: [ParameterShape] {
        let d = hiddenSize, kv = numKeyValueHeads * headDim, q = numHeads * headDim
        func linear(_ path: String, _ out: Int, _ inFeatures: Int) -> ParameterShape {
            ParameterShape(path: path + ".weight", shape: [out, inFeatures], isLinear: true)
        }
        func mlp(_ path: String, hidden f: Int) -> [ParameterShape] {
            [linear("\(path).gate", f, d), linear("\(path).up", f, d), linear("\(path).down", d, f)]
        }
        var out = [ParameterShape(path: "embed.weight", shape: [vocabSize, d], isLinear: false)]
        for i in 0..<numLayers {
            let p = "layers.\(i)"
            out.append(ParameterShape(path: "\(p).attentionNorm.weight", shape: [d], isLinear: false))
            out += [linear("\(p).attention.wq", q, d), linear("\(p).attention.wk", kv, d),
                    linear("\(p).attention.wv", kv, d), linear("\(p).attention.wo", d, q)]
            out.append(ParameterShape(path: "\(p).mlpNorm.weight", shape: [d], isLinear: false))
            if let moe {
                let f = moe.expertIntermediateSize ?? intermediateSize
                out.append(linear("\(p).mlp.router", moe.experts, d))
                for e in 0..<moe.experts { out += mlp("\(p).mlp.experts.\(e)", hidden: f) }
                if moe.sharedExpert { out += mlp("\(p).mlp.shared", hidden: f) }
            } else {
                out += mlp("\(p).mlp", hidden: intermediateSize)
            }
        }
        out.append(ParameterShape(path: "norm.weight", shape: [d], isLinear: false))
        out.append(linear("head", vocabSize, d))
        return out
    }

    /// `parameterCount` with overflow-checked arithmetic.
    /// - Throws: `SizeOverflowError` when a size product overflows `Int`.
    public func checkedParameterCount() throws -> Int {
        let what = "parameter count of the model"
        let d = hiddenSize, kv = try Size.product(numKeyValueHeads, headDim, what: what)
        let attention = try Size.sum([Size.product(2, d, d, what: what), Size.product(2, d, kv, what: what)], what: what)
        let mlp: Int
        if let moe {
            let f = moe.expertIntermediateSize ?? intermediateSize
            let expert = try Size.product(3, d, f, what: what)
            mlp = try Size.sum([Size.product(moe.experts, d, what: what), Size.product(moe.experts, expert, what: what),
                                moe.sharedExpert ? expert : 0], what: what)
        } else {
            mlp = try Size.product(3, d, intermediateSize, what: what)
        }
        let layer = try Size.sum([attention, mlp, 2 * d], what: what)
        return try Size.sum([Size.product(2, vocabSize, d, what: what), Size.product(numLayers, layer, what: what), d], what: what)
    }
}
