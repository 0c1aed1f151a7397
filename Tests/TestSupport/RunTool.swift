import Foundation

/// The result of running one of the package's executables.
public struct ToolResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// The executable `name` built beside the test bundle (same build folder).
public func toolURL(_ name: String) throws -> URL {
    // On Linux the XCTest runner's bundle URL may be the build folder itself.
    for dir in [Bundle.main.bundleURL.deletingLastPathComponent(), Bundle.main.bundleURL] {
        let url = dir.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    throw NSError(domain: "toolURL", code: 1, userInfo: [NSLocalizedDescriptionKey: "executable \(name) not found beside \(Bundle.main.bundleURL.path)"])
}

/// Runs the executable `name` built beside the test bundle with `arguments`.
public func runTool(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws -> ToolResult {
    let p = Process()
    p.executableURL = try toolURL(name)
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { $1 }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ToolResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}
