import Foundation

/// A line chart as a standalone SVG document (no dependencies): labelled axes, ticks, a legend.
public struct LossPlot {
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, points: [(x: Double, y: Double)]) { self.name = name; self.points = points }
    }

    public var title: String
    public var xLabel = "step"
    public var yLabel = "loss"
    public var series: [Series] = []

    public init(title: String) { self.title = title }

    public func svg(width plotWidth: Double = 570, height: Double = 440) -> String {
        // The legend sits right of the plot, as wide as its longest name (~7 px per character).
        let longest = Double(series.map(\.name.count).max() ?? 0)
        let left = 70.0, right = Swift.max(120, 50 + 7 * longest), top = 40.0, bottom = 55.0
        let width = left + plotWidth + right
        let plotW = plotWidth, plotH = height - top - bottom
        let all = series.flatMap(\.points).filter { $0.y.isFinite }
        let xMin = all.map(\.x).min() ?? 0, xMax = Swift.max(all.map(\.x).max() ?? 1, xMin + 1)
        var yMin = all.map(\.y).min() ?? 0, yMax = all.map(\.y).max() ?? 1
        if yMax - yMin < 1e-6 { yMin -= 0.5; yMax += 0.5 }
        let pad = (yMax - yMin) * 0.05
        yMin -= pad; yMax += pad
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * plotW }
        func py(_ y: Double) -> Double { top + (1 - (y - yMin) / (yMax - yMin)) * plotH }

        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left + plotW / 2)" y="22" text-anchor="middle" font-size="15">\(SVG.escape(title))</text>

        """
        for t in SVG.niceTicks(yMin, yMax) {
            out += "<line x1=\"\(left)\" y1=\"\(py(t))\" x2=\"\(left + plotW)\" y2=\"\(py(t))\" stroke=\"#e5e5e5\"/>"
            out += "<text x=\"\(left - 6)\" y=\"\(py(t) + 4)\" text-anchor=\"end\">\(SVG.format(t))</text>\n"
        }
        for t in SVG.niceTicks(xMin, xMax) {
            out += "<line x1=\"\(px(t))\" y1=\"\(top + plotH)\" x2=\"\(px(t))\" y2=\"\(top + plotH + 5)\" stroke=\"black\"/>"
            out += "<text x=\"\(px(t))\" y=\"\(top + plotH + 18)\" text-anchor=\"middle\">\(SVG.format(t))</text>\n"
        }
        out += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"black\"/>\n"
        out += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(SVG.escape(xLabel))</text>\n"
        out += "<text transform=\"translate(18,\(top + plotH / 2)) rotate(-90)\" text-anchor=\"middle\">\(SVG.escape(yLabel))</text>\n"
        for (i, s) in series.enumerated() {
            let color = SVG.palette[i % SVG.palette.count]
            let pts = s.points.filter { $0.y.isFinite }.map { "\(px($0.x)),\(py($0.y))" }.joined(separator: " ")
            if !pts.isEmpty {
                out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\" points=\"\(pts)\"/>\n"
                if s.points.count < 40 {
                    for p in s.points where p.y.isFinite { out += "<circle cx=\"\(px(p.x))\" cy=\"\(py(p.y))\" r=\"2.5\" fill=\"\(color)\"/>" }
                    out += "\n"
                }
            }
            let ly = top + 10 + Double(i) * 20
            out += "<line x1=\"\(left + plotW + 12)\" y1=\"\(ly)\" x2=\"\(left + plotW + 34)\" y2=\"\(ly)\" stroke=\"\(color)\" stroke-width=\"2.5\"/>"
            out += "<text x=\"\(left + plotW + 40)\" y=\"\(ly + 4)\">\(SVG.escape(s.name))</text>\n"
        }
        out += "</svg>\n"
        return out
    }
}
