/// Parses the `--moe` text form `experts:8,topk:2,shared:1[,balance:0.01]`.
public func parseMoESpec(_ text: String) throws -> MoEConfig {
    var experts: Int?, topK = 2, shared = false, balance: Float = 0.01
    for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
        let kv = item.split(separator: ":", maxSplits: 1).map(String.init)
        guard kv.count == 2 else { throw RunError("--moe: '\(item)' is not key:value (keys: experts, topk, shared, balance)") }
        switch kv[0].lowercased() {
        case "experts": experts = Int(kv[1])
            guard let e = experts, e >= 1 else { throw RunError("--moe: experts must be a positive integer, got '\(kv[1])'") }
        case "topk": guard let k = Int(kv[1]), k >= 1 else { throw RunError("--moe: topk must be a positive integer, got '\(kv[1])'") }
            topK = k
        case "shared": guard let s = Int(kv[1]), s == 0 || s == 1 else { throw RunError("--moe: shared must be 0 or 1, got '\(kv[1])'") }
            shared = s == 1
        case "balance": guard let b = Float(kv[1]), b >= 0, b.isFinite else { throw RunError("--moe: balance must be a finite number ≥ 0, got '\(kv[1])'") }
            balance = b
        default: throw RunError("--moe: unknown key '\(kv[0])' (keys: experts, topk, shared, balance)")
        }
    }
    guard let experts else { throw RunError("--moe: missing experts:N (e.g. experts:8,topk:2,shared:1)") }
    guard topK <= experts else { throw RunError("--moe: topk \(topK) exceeds experts \(experts)") }
    guard experts <= LlamaConfig.maxExperts else { throw RunError("--moe: experts must be at most \(LlamaConfig.maxExperts), got \(experts)") }
    return MoEConfig(experts: experts, topK: topK, sharedExpert: shared, balanceCoefficient: balance)
}

import Foundation
