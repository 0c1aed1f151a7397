import Foundation
import Tensor

/// Rotary position embedding tables, Hugging Face LLaMA layout ("rotate half"): feature pair
/// `(i, i + d/2)` of each head turns by angle `pos · θ^(−2i/d)`.
///
/// Not a `Module`: it has no parameters. One instance is shared by every attention layer of a model.
/// The angles follow `LlamaRotaryEmbedding` in fp32 (`inv_freq = 1 / θ^(2i/d)`, `angle = pos · inv_freq`)
/// so that gradients can be compared with PyTorch's.
public final class RotaryEmbedding {
    public let headDim: Int
    public let maxPositions: Int
    public let theta: Float
    /// (maxPositions, headDim / 2): cos and sin of `pos · inv_freq[i]`.
    public let cos: Tensor
    public let sin: Tensor

    public init(headDim: Int, maxPositions: Int, theta: Float = 10_000) {
        precondition(headDim > 0 && headDim % 2 == 0, "RotaryEmbedding: head dimension \(headDim) must be even")
        self.headDim = headDim
        self.maxPositions = maxPositions
        self.theta = theta
        let half = headDim / 2
        let invFreq = (0..<half).map { i in 1 / Foundation.pow(theta, Float(2 * i) / Float(headDim)) }
        // Resident tables but not parameters: counted under `.workspace` so that parameter memory
        // matches the parameter count (they are a few hundred KiB).
        (cos, sin) = Memory.withCategory(.workspace) {
            var c = Tensor(uninitializedShape: [maxPositions, half]), s = Tensor(uninitializedShape: [maxPositions, half])
            c.withUnsafeMutableBufferPointer { cp in
                s.withUnsafeMutableBufferPointer { sp in
                    for pos in 0..<maxPositions {
                        for i in 0..<half {
                            let angle = Double(Float(pos) * invFreq[i]) // fp32 product, as torch
                            cp[pos * half + i] = Float(Foundation.cos(angle))
                            sp[pos * half + i] = Float(Foundation.sin(angle))
                        }
                    }
                }
            }
            return (c, s)
        }
    }
}
