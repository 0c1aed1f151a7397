import Autograd
import Foundation
import Tensor

extension LlamaModel {
    /// Continues `prompt` by `count` tokens, sampling from softmax(logits / temperature) (greedy
    /// when `temperature` is 0). The context is the last `maxContext` tokens; no KV cache, so each
    /// new token re-runs the model on the context, which is fine for the short samples it is for.
    /// Only ids below `vocabularyLimit` are drawn (a tokenizer may use fewer ids than the model has).
    public func generate(prompt: [Int32], count: Int, maxContext: Int, temperature: Float = 0.8,
                         vocabularyLimit: Int? = nil, rng: inout RNG) -> [Int32] {
        let limit = min(vocabularyLimit ?? config.vocabSize, config.vocabSize)
        var tokens = prompt.isEmpty ? [0] : prompt
        let wasTraining = isTraining
        eval()
        defer { if wasTraining { train() } }
        withNoGrad {
            for _ in 0..<count {
                let context = Array(tokens.suffix(maxContext))
                let logits = self.logits(tokens: context, batch: 1, seq: context.count).value
                let v = logits.shape.last!
                let last = logits.reshaped([-1, v]).sliced(axis: 0, (context.count - 1)..<context.count)
                    .sliced(axis: 1, 0..<limit)
                tokens.append(Int32(sample(last.reshaped([limit]), temperature: temperature, rng: &rng)))
            }
        }
        return Array(tokens.suffix(count))
    }
}

/// An index drawn from softmax(logits / temperature); the arg-max when temperature is 0.
func sample(_ logits: Tensor, temperature: Float, rng: inout RNG) -> Int {
    if temperature <= 0 { return logits.argmax(axis: 0)[0] }
    let p = (logits * (1 / temperature)).softmax().scalars
    var u = rng.nextUniform(), i = 0
    while i < p.count - 1 && u > p[i] { u -= p[i]; i += 1 }
    return i
}
