import Foundation

/// Peak memory of several training configurations as a standalone SVG bar chart: one bar per
/// configuration, stacked by allocator category, a tick for the peak RSS, and tokens/s above.
/// A bar without categories (a framework whose allocator reports none, e.g. PyTorch on the CPU)
/// is drawn as one grey RSS bar.
public struct MemoryChart {
    public struct Bar {
        public var name: String
        /// Bytes per category, bottom first; empty when only the RSS is known.
        public var segments: [(category: String, bytes: Double)]
        public var peakRSS: Double?
        public var tokensPerSecond: Double?
        public init(name: String, segments: [(category: String, bytes: Double)], peakRSS: Double?, tokensPerSecond: Double?) {
            self.name = name; self.segments = segments; self.peakRSS = peakRSS; self.tokensPerSecond = tokensPerSecond
        }
    }

    public var title: String
    public var bars: [Bar] = []

    public init(title: String) { self.title = title }

    public func svg(barWidth: Double = 64, height: Double = 460) -> String {
        let categories = bars.flatMap { $0.segments.map(\.category) }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let left = 70.0, top = 50.0, bottom = 110.0, gap = 26.0
        let plotW = Double(bars.count) * (barWidth + gap) + gap, plotH = height - top - bottom
        let width = left + plotW + 150
        let mib = 1024.0 * 1024
        let yMax = Swift.max(1, bars.map { Swift.max($0.segments.reduce(0) { $0 + $1.bytes }, $0.peakRSS ?? 0) }.max() ?? 1) / mib * 1.08
        func py(_ v: Double) -> Double { top + (1 - v / yMax) * plotH }
        func color(_ c: String) -> String { SVG.palette[(categories.firstIndex(of: c) ?? 0) % SVG.palette.count] }

        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left + plotW / 2)" y="22" text-anchor="middle" font-size="15">\(SVG.escape(title))</text>

        """
        for t in SVG.niceTicks(0, yMax) {
            out += "<line x1=\"\(left)\" y1=\"\(py(t))\" x2=\"\(left + plotW)\" y2=\"\(py(t))\" stroke=\"#e5e5e5\"/>"
            out += "<text x=\"\(left - 6)\" y=\"\(py(t) + 4)\" text-anchor=\"end\">\(SVG.format(t))</text>\n"
        }
        out += "<text transform=\"translate(18,\(top + plotH / 2)) rotate(-90)\" text-anchor=\"middle\">peak MiB</text>\n"
        for (i, bar) in bars.enumerated() {
            let x = left + gap + Double(i) * (barWidth + gap)
            var base = 0.0
            if bar.segments.isEmpty, let rss = bar.peakRSS {
                out += "<rect x=\"\(x)\" y=\"\(py(rss / mib))\" width=\"\(barWidth)\" height=\"\(py(0) - py(rss / mib))\" fill=\"#bbbbbb\"/>\n"
            }
            for s in bar.segments where s.bytes > 0 {
                let h = s.bytes / mib
                out += "<rect x=\"\(x)\" y=\"\(py(base + h))\" width=\"\(barWidth)\" height=\"\(py(base) - py(base + h))\" fill=\"\(color(s.category))\"><title>\(SVG.escape(s.category)) \(Int(h)) MiB</title></rect>\n"
                base += h
            }
            if let rss = bar.peakRSS {
                let y = py(rss / mib)
                out += "<line x1=\"\(x - 4)\" y1=\"\(y)\" x2=\"\(x + barWidth + 4)\" y2=\"\(y)\" stroke=\"black\" stroke-width=\"2\" stroke-dasharray=\"4,2\"/>\n"
            }
            let topY = py(Swift.max(base, (bar.peakRSS ?? 0) / mib)) - 6
            if let tps = bar.tokensPerSecond {
                out += "<text x=\"\(x + barWidth / 2)\" y=\"\(topY)\" text-anchor=\"middle\" font-size=\"11\">\(Int(tps.rounded())) tok/s</text>\n"
            }
            out += "<text transform=\"translate(\(x + barWidth / 2),\(top + plotH + 12)) rotate(35)\" font-size=\"11\">\(SVG.escape(bar.name))</text>\n"
        }
        out += "<line x1=\"\(left)\" y1=\"\(py(0))\" x2=\"\(left + plotW)\" y2=\"\(py(0))\" stroke=\"black\"/>\n"
        let legend = categories.map { ($0, color($0)) } + [("PyTorch RSS", "#bbbbbb")]
        for (i, (name, c)) in legend.enumerated() {
            let ly = top + 10 + Double(i) * 20
            out += "<rect x=\"\(left + plotW + 14)\" y=\"\(ly - 8)\" width=\"14\" height=\"12\" fill=\"\(c)\"/>"
            out += "<text x=\"\(left + plotW + 34)\" y=\"\(ly + 2)\">\(SVG.escape(name))</text>\n"
        }
        let ly = top + 10 + Double(legend.count) * 20
        out += "<line x1=\"\(left + plotW + 12)\" y1=\"\(ly - 2)\" x2=\"\(left + plotW + 30)\" y2=\"\(ly - 2)\" stroke=\"black\" stroke-width=\"2\" stroke-dasharray=\"4,2\"/>"
        out += "<text x=\"\(left + plotW + 34)\" y=\"\(ly + 2)\">peak RSS</text>\n"
        out += "</svg>\n"
        return out
    }
}
