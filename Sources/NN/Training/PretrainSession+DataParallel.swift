import Estimators
import Foundation
import Tensor

extension PretrainSession {
    /// Makes this session one rank of a data-parallel run over `collective` (ALGORITHMS.md §14):
    /// `--batch` stays the global batch, split evenly across ranks in rank order. Call it on every
    /// rank before training, after the session (weights, estimators: the same seed on every rank)
    /// is built; the configuration hash is compared across ranks first.
    /// - Parameters:
    ///   - bucketBytes: size of one all-reduce of exact gradients (default ≈ 25 MB).
    ///   - compression: `none`, or `powersgd(rank:R)` for the exact matrices (R = 4 by default).
    /// - Throws: `RunError` when the configuration cannot run data parallel or differs across ranks.
    public func enableDataParallel(_ collective: Collective, bucketBytes: Int = 25 << 20, compression: String = "none") throws {
        let ranks = collective.worldSize
        let powerRank = try Self.parseCompression(compression)
        // Every rank computes the check, so every rank agrees whether to go on.
        let mismatch = collective.minMax(configurationHash(worldSize: ranks, extra: "compression \(compression)"))
        guard mismatch.min == mismatch.max else {
            throw RunError("the \(ranks) ranks were started with different configurations (flags, data, tokenizer or checkpoint differ); start every rank with the same command and files")
        }
        guard ranks > 1 else { return }
        let t = configuration.training
        guard t.batch % ranks == 0 else {
            throw RunError("--batch \(t.batch) is the global batch and must be divisible by the \(ranks) ranks")
        }
        guard !optimizer.updatesDuringBackward else {
            throw RunError("--optimizer \(configuration.optimizer) updates inside the backward pass, which data parallelism does not support yet; use an optimizer that steps after the backward (e.g. adamw)")
        }
        guard modelConfig.moe == nil else {
            // Routing decides per rank which experts run, so ranks would not meet in the same
            // collectives, and the load-balancing loss is not a mean of per-rank parts.
            throw RunError("--moe models cannot train data parallel yet")
        }
        trainer.exchange = DataParallelExchange(collective: collective, model: model, bucketBytes: bucketBytes,
                                                powerSGD: powerRank.map { PowerSGDCompression(rank: $0, seed: t.seed, startingStep: trainer.step) })
        if powerRank != nil, trainer.step > 0 {
            resumeNotes.append("PowerSGD's error-feedback memories and Q are not in the checkpoint: they start again at zero and from the seed (compression continues at once), so the resumed run is not bit-identical to an uninterrupted one")
        }
    }

    /// The PowerSGD rank of `--dp-compress` (`none`, `powersgd`, `powersgd(rank:R)`), nil for none.
    public static func parseCompression(_ text: String) throws -> Int? {
        let t = text.replacingOccurrences(of: " ", with: "")
        if t == "none" { return nil }
        if t == "powersgd" { return 4 }
        if t.hasPrefix("powersgd(rank:"), t.hasSuffix(")"), let r = Int(t.dropFirst("powersgd(rank:".count).dropLast()), (1...1024).contains(r) {
            return r
        }
        throw RunError("--dp-compress must be none, powersgd or powersgd(rank:R) with R in 1...1024, got '\(text)'")
    }

    /// FNV-1a of everything that must agree across ranks: the configuration, the inputs' content
    /// fingerprints, the resumed step and the world size.
    public func configurationHash(worldSize: Int, extra: String = "") -> UInt64 {
        var h = FNV1a()
        // Sorted keys: dictionary order differs between processes.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = (try? encoder.encode(record)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let bytes = Array("\(json)|step \(trainer.step)|ranks \(worldSize)|\(extra)".utf8)
        bytes.withUnsafeBytes { h.combine($0) }
        return h.value
    }
}

extension PretrainSession {
    /// FNV-1a of every parameter's value bytes in model order: equal on all ranks of a
    /// data-parallel run exactly when their weights are bitwise identical.
    public func weightsHash() -> UInt64 {
        var h = FNV1a()
        for (_, p) in model.namedParameters() {
            p.value.withUnsafeBufferPointer { h.combine(UnsafeRawBufferPointer($0)) }
        }
        return h.value
    }
}
