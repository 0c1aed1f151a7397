import Autograd
@testable import NN
import Tensor
import TestSupport
import XCTest

final class AttentionTests: XCTestCase {
    /// Attention built from generic autograd ops, head by head (the reference).
    func reference(_ q: Variable, _ k: Variable, _ v: Variable, batch: Int, seq: Int, heads: Int, kvHeads: Int) -> Variable {
        let d = q.shape[1] / heads, group = heads / kvHeads
        var mask = Tensor.zeros([seq, seq])
        for i in 0..<seq { for j in (i + 1)..<seq { mask[i, j] = -1e9 } }
        let scale = 1 / Float(d).squareRoot()
        var rows: [Variable] = []
        for b in 0..<batch {
            var outs: [Variable] = []
            for h in 0..<heads {
                let r = b * seq..<(b + 1) * seq
                let kv = h / group
                let qh = q.sliced(axis: 0, r).sliced(axis: 1, h * d..<(h + 1) * d)
                let kh = k.sliced(axis: 0, r).sliced(axis: 1, kv * d..<(kv + 1) * d)
                let vh = v.sliced(axis: 0, r).sliced(axis: 1, kv * d..<(kv + 1) * d)
                let p = (matmul(qh, kh, transposeB: true) * scale + Variable(mask)).softmax()
                outs.append(matmul(p, vh))
            }
            rows.append(Variable.concatenate(outs, axis: 1))
        }
        return Variable.concatenate(rows, axis: 0)
    }

    func compareWithReference(batch: Int, seq: Int, heads: Int, kvHeads: Int, d: Int, file: StaticString = #filePath, line: UInt = #line) {
        let q = randomParameter([batch * seq, heads * d], seed: 1), k = randomParameter([batch * seq, kvHeads * d], seed: 2)
        let v = randomParameter([batch * seq, kvHeads * d], seed: 3)
        let probe = Variable(randomTensor([batch * seq, heads * d], seed: 4))
        func grads(_ f: () -> Variable) -> (Tensor, [Tensor]) {
            for p in [q, k, v] { p.zeroGrad() }
            let out = f()
            (out * probe).sum().backward()
            return (out.value, [q.grad!, k.grad!, v.grad!])
        }
        let (fused, fusedGrads) = grads {
            causalAttention(q: q.variable, k: k.variable, v: v.variable, batch: batch, seq: seq, heads: heads, kvHeads: kvHeads)
        }
        let (ref, refGrads) = grads { reference(q.variable, k.variable, v.variable, batch: batch, seq: seq, heads: heads, kvHeads: kvHeads) }
        XCTAssertLessThan(maxAbsDifference(fused, ref), 1e-4, "output", file: file, line: line)
        for (name, (a, b)) in zip(["dq", "dk", "dv"], zip(fusedGrads, refGrads)) {
            XCTAssertLessThan(maxAbsDifference(a, b), 1e-4, name, file: file, line: line)
        }
    }

    func testMatchesReferenceMultiHead() { compareWithReference(batch: 2, seq: 7, heads: 2, kvHeads: 2, d: 4) }

    /// seq > 128 spans two forward query tiles and three backward key tiles of the kernel.
    func testMatchesReferenceLongSequenceBlocks() { compareWithReference(batch: 1, seq: 150, heads: 2, kvHeads: 2, d: 4) }

    func testMatchesReferenceGroupedQuery() { compareWithReference(batch: 2, seq: 5, heads: 4, kvHeads: 2, d: 4) }

    /// Tolerance 1e-2 relative to the largest gradient (central differences, h = 1e-2).
    func testGradientMatchesFiniteDifferences() {
        let q = randomParameter([8, 8], seed: 5), k = randomParameter([8, 4], seed: 6), v = randomParameter([8, 4], seed: 7)
        let probe = Variable(randomTensor([8, 8], seed: 8))
        let err = maxGradientError([q, k, v]) {
            (causalAttention(q: q.variable, k: k.variable, v: v.variable, batch: 2, seq: 4, heads: 2, kvHeads: 1) * probe).sum()
        }
        XCTAssertLessThan(err, 1e-2)
    }

    /// Over several tiles of the default sizes: three forward query tiles, two forward key tiles
    /// (the online softmax rescales), five backward key tiles; grouped-query heads. 150 elements
    /// of each input, spread over all rows.
    func testGradientMatchesFiniteDifferencesAcrossTiles() {
        let seq = 270
        let q = randomParameter([seq, 8], seed: 12), k = randomParameter([seq, 4], seed: 13), v = randomParameter([seq, 4], seed: 14)
        let probe = Variable(randomTensor([seq, 8], seed: 15))
        let err = sampledGradientError([q, k, v], samples: 150) {
            (causalAttention(q: q.variable, k: k.variable, v: v.variable, batch: 1, seq: seq, heads: 2, kvHeads: 1) * probe).sum()
        }
        XCTAssertLessThan(err, 1e-2)
    }

    /// Forward + backward allocate O(S): from S = 1024 to 2048 the peak above the inputs (output,
    /// log-sum-exps, the gradients, per-worker tiles of a fixed size) grows by a small multiple of
    /// one q, and stays far below the B·heads·S² floats of a probability matrix.
    func testMemoryIsLinearInSequenceLength() {
        func peakIncrease(seq: Int) -> (bytes: Int, qBytes: Int, squareBytes: Int) {
            let (batch, heads, kvHeads, d) = (1, 4, 2, 16)
            let q = randomParameter([batch * seq, heads * d], seed: 1), k = randomParameter([batch * seq, kvHeads * d], seed: 2)
            let v = randomParameter([batch * seq, kvHeads * d], seed: 3)
            let probe = Variable(randomTensor([batch * seq, heads * d], seed: 4))
            Tape.current.reset()
            let before = Memory.stats.liveTotal
            let (_, stats) = Memory.measure {
                (causalAttention(q: q.variable, k: k.variable, v: v.variable, batch: batch, seq: seq, heads: heads, kvHeads: kvHeads)
                    * probe).sum().backward()
            }
            return (stats.peakTotal - before, q.value.bytes, batch * heads * seq * seq * 4)
        }
        let short = peakIncrease(seq: 1024), long = peakIncrease(seq: 2048)
        // An S² buffer would add 12 MiB per head between the two lengths; O(S) memory adds ~1.5 MiB in all.
        XCTAssertLessThan(long.bytes - short.bytes, 12 * (long.qBytes - short.qBytes), "\(short.bytes) → \(long.bytes) bytes")
        XCTAssertLessThan(long.bytes, long.squareBytes / 16, "peak increase \(long.bytes) bytes at S = 2048")
    }

    /// Same inputs, same thread count: bitwise the same output and gradients.
    func testDeterministic() {
        let (batch, seq, heads, kvHeads, d) = (2, 200, 4, 2, 16)
        let q = randomParameter([batch * seq, heads * d], seed: 21), k = randomParameter([batch * seq, kvHeads * d], seed: 22)
        let v = randomParameter([batch * seq, kvHeads * d], seed: 23)
        let probe = Variable(randomTensor([batch * seq, heads * d], seed: 24))
        func run() -> [[Float]] {
            for p in [q, k, v] { p.zeroGrad() }
            let out = causalAttention(q: q.variable, k: k.variable, v: v.variable, batch: batch, seq: seq, heads: heads, kvHeads: kvHeads)
            (out * probe).sum().backward()
            return [out.value.scalars, q.grad!.scalars, k.grad!.scalars, v.grad!.scalars]
        }
        let first = run()
        for _ in 0..<3 { XCTAssertEqual(run(), first) }
    }

    func testFirstPositionAttendsOnlyToItself() {
        let v = randomTensor([6, 4], seed: 9)
        let out = causalAttention(q: Variable(randomTensor([6, 4], seed: 10)), k: Variable(randomTensor([6, 4], seed: 11)),
                                  v: Variable(v), batch: 2, seq: 3, heads: 1, kvHeads: 1).value
        for b in 0..<2 { for i in 0..<4 { XCTAssertEqual(out[b * 3, i], v[b * 3, i], accuracy: 1e-6) } }
    }
}
