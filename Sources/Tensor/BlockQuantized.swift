/// A state tensor in the block-wise dynamic 8-bit encoding (ALGORITHMS.md §13): consecutive blocks
/// of `blockSize` values, each stored as its absmax (fp32) and one byte per value, the index of the
/// `DynamicCode` value nearest to value/absmax. Decoding is `code[index] · absmax`.
///
/// Bytes per value: 1 + 4/2048. Both parts are counted by the allocator under the category given
/// at construction (`.optimizer` for optimizer moments).
public struct BlockQuantized: @unchecked Sendable {
    public static let blockSize = 2048

    /// One code per value, shaped like the encoded tensor.
    public private(set) var codes: ByteTensor
    /// One absmax per block: (ceil(count / blockSize)).
    public private(set) var absmax: Tensor
    public let isSigned: Bool

    public var shape: [Int] { codes.shape }
    public var count: Int { codes.count }
    public var blockCount: Int { absmax.count }
    public var code: DynamicCode { isSigned ? .signed : .unsigned }
    /// Bytes of codes plus scales.
    public var bytes: Int { codes.bytes + absmax.bytes }

    public static func blockCount(_ count: Int) -> Int { (count + blockSize - 1) / blockSize }

    /// All zeros.
    public init(zeros shape: [Int], signed: Bool, category: MemoryCategory = Memory.currentCategory) {
        isSigned = signed
        codes = ByteTensor(shape: shape, repeating: UInt8((signed ? DynamicCode.signed : .unsigned).zeroIndex), category: category)
        let blocks = BlockQuantized.blockCount(shape.reduce(1, *))
        absmax = Memory.withCategory(category) { Tensor.zeros([blocks]) }
    }

    /// Wraps stored parts (a checkpoint's), checking that they fit each other.
    public init(codes: ByteTensor, absmax: Tensor, signed: Bool) {
        precondition(absmax.shape == [BlockQuantized.blockCount(codes.count)],
                     "BlockQuantized: absmax of shape \(absmax.shape) for \(codes.count) codes")
        self.codes = codes; self.absmax = absmax; isSigned = signed
    }

    /// Encodes `t`.
    public init(quantizing t: Tensor, signed: Bool, category: MemoryCategory = Memory.currentCategory) {
        self.init(zeros: t.shape, signed: signed, category: category)
        updateBlocks { _, range, scratch in scratch.update(from: t.pointer + range.lowerBound, count: range.count) }
    }

    /// The decoded values as a tensor counted under `category`.
    public func dequantized(category: MemoryCategory = Memory.currentCategory) -> Tensor {
        var out = Tensor(uninitializedShape: shape, category: category)
        out.withUnsafeMutableBufferPointer { o in
            let po = UncheckedSendable(o.baseAddress!)
            Parallel.forEachChunk(blockCount, minPerThread: 16) { blocks in
                for b in blocks { decode(block: b, into: po.value + b * BlockQuantized.blockSize) }
            }
        }
        return out
    }

    /// The range of values block `b` covers.
    @inline(__always) public func range(ofBlock b: Int) -> Range<Int> {
        b * BlockQuantized.blockSize..<Swift.min((b + 1) * BlockQuantized.blockSize, count)
    }

    /// Writes the decoded values of block `b` to `out` (`range(ofBlock: b).count` floats).
    @inline(__always) public func decode(block b: Int, into out: UnsafeMutablePointer<Float>) {
        let r = range(ofBlock: b), a = absmax.pointer[b]
        // The block's 256 scaled values first (the same products a per-value multiply would
        // give), so decoding a value is one lookup.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 256) { scaled in
            let s = scaled.baseAddress!
            code.values.withUnsafeBufferPointer { table in
                var k = 0
                while k < 256 { store(load(table.baseAddress!, k) * a, s, k); k += 16 }
            }
            codes.withUnsafeBufferPointer { c in
                let src = c.baseAddress! + r.lowerBound
                for i in 0..<r.count { out[i] = s[Int(src[i])] }
            }
        }
    }

    /// Decodes every block into fp32 scratch, lets `body(block, range, scratch)` change the values
    /// (`range` is the block's place in the tensor), then encodes them again with the block's new
    /// absmax. Blocks run in parallel over the cores; `body` must touch only its own block's data.
    public mutating func updateBlocks(_ body: (Int, Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        let blocks = blockCount
        let pc = codes.withUnsafeMutableBufferPointer { UncheckedSendable($0.baseAddress) }
        let pa = absmax.withUnsafeMutableBufferPointer { UncheckedSendable($0.baseAddress!) }
        let me = self
        Parallel.forEachChunk(blocks, minPerThread: 16) { chunk in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: BlockQuantized.blockSize) { scratch in
                let s = scratch.baseAddress!
                for b in chunk {
                    let r = me.range(ofBlock: b)
                    me.decode(block: b, into: s)
                    body(b, r, s)
                    pa.value[b] = me.code.encode(s, count: r.count, into: pc.value! + r.lowerBound)
                }
            }
        }
    }

    /// `updateBlocks` over two tensors of the same shape at once (Adam's two moments): `body`
    /// gets the block's range and both blocks' decoded values.
    public static func updateBlocks(_ a: inout BlockQuantized, _ b: inout BlockQuantized,
                                    _ body: (Range<Int>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        precondition(a.shape == b.shape, "BlockQuantized.updateBlocks: shapes \(a.shape) and \(b.shape) differ")
        let pbc = b.codes.withUnsafeMutableBufferPointer { UncheckedSendable($0.baseAddress) }
        let pba = b.absmax.withUnsafeMutableBufferPointer { UncheckedSendable($0.baseAddress!) }
        let other = b
        a.updateBlocks { block, r, sa in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: BlockQuantized.blockSize) { scratch in
                let sb = scratch.baseAddress!
                other.decode(block: block, into: sb)
                body(r, sa, sb)
                pba.value[block] = other.code.encode(sb, count: r.count, into: pbc.value! + r.lowerBound)
            }
        }
    }
}

extension DynamicCode {
    /// Encodes `count` values as indices of the code scaled by their absmax and returns the absmax
    /// (0 for an all-zero block, whose codes are then all the code's 0). A block holding NaN or
    /// ±inf gets a NaN absmax, so it decodes to NaN as an fp32 state would, instead of silently
    /// turning into finite codes.
    @inline(__always) func encode(_ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<UInt8>) -> Float {
        var mv = Vec(), finite = Vec()
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self)
            let a = absolute(v)
            mv = mv.replacing(with: a, where: a .> mv) // (`pointwiseMax` runs lane by lane)
            finite += v - v // 0 for finite lanes, NaN otherwise
            i += 16
        }
        var m = mv.max(), check = finite.sum()
        while i < count { m = Swift.max(m, Swift.abs(x[i])); check += x[i] - x[i]; i += 1 }
        guard check == 0 else {
            out.update(repeating: UInt8(zeroIndex), count: count)
            return .nan
        }
        guard m > 0 else {
            out.update(repeating: UInt8(zeroIndex), count: count)
            return 0
        }
        let inverse = 1 / m
        withLookup { lookup in
            for i in 0..<count { out[i] = lookup.index(of: x[i] * inverse) }
        }
        return m
    }
}

@inline(__always) private func absolute(_ v: Vec) -> Vec {
    unsafeBitCast(unsafeBitCast(v, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: Vec.self)
}
