import Foundation

/// `metrics.jsonl`: one JSON object per step, appended and flushed as training goes. On resume the
/// lines after the checkpoint's step are dropped (the file is rewritten atomically, so a kill never
/// loses the kept lines), so the file always matches the run's history.
final class MetricsLog {
    let handle: FileHandle
    /// Steps already in the file (up to the resume point).
    let previous: [StepMetrics]
    private let encoder: JSONEncoder

    init(url: URL, keepingStepsUpTo step: Int) throws {
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var kept: [StepMetrics] = []
        if step > 0, let data = FileManager.default.contents(atPath: url.path) {
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            for line in data.split(separator: UInt8(ascii: "\n")) {
                if let m = try? decoder.decode(StepMetrics.self, from: Data(line)), m.step <= step { kept.append(m) }
            }
        }
        previous = kept
        var text = Data()
        for m in kept { text += try encoder.encode(m) + Data("\n".utf8) }
        do {
            try writeAtomically(text, to: url)
            handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
        } catch {
            throw RunError("cannot write \(url.path): \(error.localizedDescription)")
        }
    }

    func append(_ m: StepMetrics) throws {
        do { try handle.write(contentsOf: try encoder.encode(m) + Data("\n".utf8)) } catch {
            throw RunError("cannot append to metrics.jsonl: \(error.localizedDescription)")
        }
    }

    deinit { try? handle.close() }
}
