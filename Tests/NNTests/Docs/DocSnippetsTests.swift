import Foundation
import XCTest

/// Every ```swift block of README.md and docs/*.md must appear verbatim (up to indentation and
/// blank lines) in a source file under Tests/, where it is compiled and exercised; so no snippet
/// in the documentation can go stale.
final class DocSnippetsTests: XCTestCase {
    func testEveryDocumentationSnippetIsCompiledByATest() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fm = FileManager.default
        var docs = [root.appendingPathComponent("README.md")]
        docs += try fm.contentsOfDirectory(at: root.appendingPathComponent("docs"), includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "md" }
        var sources = ""
        let enumerator = fm.enumerator(at: root.appendingPathComponent("Tests"), includingPropertiesForKeys: nil)!
        for case let url as URL in enumerator where url.pathExtension == "swift" {
            sources += try String(contentsOf: url, encoding: .utf8) + "\n"
        }
        let normalizedSources = normalize(sources)
        var checked = 0
        for doc in docs {
            let text = try String(contentsOf: doc, encoding: .utf8)
            for block in swiftBlocks(text) {
                checked += 1
                XCTAssertTrue(normalizedSources.contains(normalize(block)),
                              "a ```swift block of \(doc.lastPathComponent) is not in any test source:\n\(block.prefix(300))")
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 3, "expected the README and the guides to hold Swift examples")
    }

    func swiftBlocks(_ markdown: String) -> [String] {
        var blocks: [String] = [], current: [Substring]? = nil
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let t = line.trimmingCharacters(in: .whitespaces)
            if current == nil, t == "```swift" { current = [] }
            else if current != nil, t == "```" { blocks.append(current!.joined(separator: "\n")); current = nil }
            else if current != nil { current!.append(line) }
        }
        return blocks
    }

    /// Lines trimmed, blank lines dropped, joined by newlines.
    func normalize(_ s: String) -> String {
        s.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "\n")
    }
}
