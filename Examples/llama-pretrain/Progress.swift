import Foundation
import NN
import Tensor

/// Draws a one-line progress bar on a terminal, or prints plain log lines otherwise.
final class ProgressReporter: RunReporter {
    let isTerminal = isatty(STDERR_FILENO) == 1
    let start = monotonicSeconds()
    let label: String
    private var lastLineLength = 0

    init(label: String = "") { self.label = label }

    func stepped(_ m: StepMetrics, totalSteps: Int) {
        let elapsed = monotonicSeconds() - start
        let eta = elapsed / Double(max(m.step, 1)) * Double(totalSteps - m.step)
        let peak = formatBytes(m.peakMemory["total"] ?? 0)
        var text = String(format: "step %d/%d  loss %.4f  %.0f tok/s  ETA %@  peak %@", m.step, totalSteps, m.loss,
                          m.tokensPerSecond, formatDuration(eta), peak)
        if let sent = m.exchangeBytes {
            // Data parallel: what this rank sent in the step's all-reduces.
            text += "  sent exact \(formatExchange(sent["exact"] ?? 0)) sketch \(formatExchange(sent["sketch"] ?? 0))"
            if let p = sent["powersgd"], p > 0 { text += " powersgd \(formatExchange(p))" }
        }
        if isTerminal {
            let width = 24, filled = width * m.step / max(totalSteps, 1)
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let line = "\(label)[\(bar)] \(text)"
            let pad = String(repeating: " ", count: max(0, lastLineLength - line.count))
            FileHandle.standardError.write(Data("\r\(line)\(pad)".utf8))
            lastLineLength = line.count
            if m.step == totalSteps { FileHandle.standardError.write(Data("\n".utf8)); lastLineLength = 0 }
        } else if totalSteps <= 200 || m.step % 10 == 0 || m.step == totalSteps {
            print(label + text + String(format: "  lr %.2e  grad-norm %@", m.learningRate, m.gradNorm.map { String(format: "%.3f", $0) } ?? "n/a"))
            fflush(stdout)
        }
    }

    func evaluated(step: Int, loss: Float) {
        let line = String(format: "%@eval step %d: validation loss %.4f, perplexity %.2f", label, step, loss, Foundation.exp(loss))
        if isTerminal && lastLineLength > 0 { FileHandle.standardError.write(Data("\n".utf8)); lastLineLength = 0 }
        print(line)
        fflush(stdout)
    }

    func note(_ message: String) {
        if isTerminal && lastLineLength > 0 { FileHandle.standardError.write(Data("\n".utf8)); lastLineLength = 0 }
        print(label + message)
        fflush(stdout)
    }
}

func formatBytes(_ b: Int) -> String {
    let mb = Double(b) / 1_048_576
    return mb >= 1024 ? String(format: "%.2f GiB", mb / 1024) : String(format: "%.0f MiB", mb)
}

func formatDuration(_ s: Double) -> String {
    guard s.isFinite else { return "?" }
    let t = Int(s.rounded())
    return t >= 3600 ? "\(t / 3600)h\(t % 3600 / 60)m" : t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s"
}

/// Exchange bytes with a unit that keeps small sketches readable (KiB below a MiB).
func formatExchange(_ b: Int) -> String {
    b >= 1_048_576 ? String(format: "%.1f MiB", Double(b) / 1_048_576) : String(format: "%.0f KiB", Double(b) / 1024)
}
