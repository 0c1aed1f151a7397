import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sequential writer into the temporary file of `writeAtomically(to:_:)`.
public struct AtomicFileWriter {
    fileprivate let fd: Int32
    /// The final path (for error messages), not the temporary one.
    public let path: String
    /// Bytes written so far.
    public private(set) var bytesWritten = 0

    fileprivate init(fd: Int32, path: String) { self.fd = fd; self.path = path }

    /// Appends `buffer`, retrying short writes and interrupted calls.
    public mutating func write(_ buffer: UnsafeRawBufferPointer) throws {
        guard var p = buffer.baseAddress else { return }
        var remaining = buffer.count
        while remaining > 0 {
            // Chunked: some kernels refuse single writes above 2 GiB.
            let n = posixWrite(fd, p, Swift.min(remaining, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.writeFailed(path: path, reason: String(cString: strerror(errno)))
            }
            p += n
            remaining -= n
            bytesWritten += n
        }
    }

    public mutating func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// Writes a file so that readers see either the previous complete file or the new complete one.
///
/// `body` writes into `<path>.tmp-<pid>` in the same directory (so the rename cannot cross file
/// systems); the temporary file is then fsynced and renamed over `url`, and the directory is
/// fsynced so the rename survives a power cut. If `body` throws or any step fails, the temporary
/// file is removed and the previous file at `url` is left untouched.
public func writeAtomically(to url: URL, _ body: (inout AtomicFileWriter) throws -> Void) throws {
    let path = url.path
    let directory = url.deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw CheckpointError.writeFailed(path: path, reason: "directory \(directory) does not exist")
    }
    let temporary = "\(path).tmp-\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
        throw CheckpointError.writeFailed(path: path, reason: "cannot create \(temporary): \(String(cString: strerror(errno)))")
    }
    var isOpen = true
    var renamed = false
    defer {
        if isOpen { _ = close(fd) }
        if !renamed { _ = unlink(temporary) }
    }
    var writer = AtomicFileWriter(fd: fd, path: path)
    try body(&writer)
    func fail(_ what: String) -> CheckpointError {
        .writeFailed(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
    }
    guard fsync(fd) == 0 else { throw fail("fsync") }
    isOpen = false
    guard close(fd) == 0 else { throw fail("close") }
    guard rename(temporary, path) == 0 else { throw fail("rename") }
    renamed = true
    // Best effort: some file systems do not support fsync on directories; the data is safe anyway.
    let dirFD = openDirectory(directory)
    if dirFD >= 0 { _ = fsync(dirFD); _ = close(dirFD) }
}

/// Writes `data` atomically (see `writeAtomically(to:_:)`).
public func writeAtomically(_ data: Data, to url: URL) throws {
    try writeAtomically(to: url) { writer in try data.withUnsafeBytes { try writer.write($0) } }
}

@inline(__always) private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}

private func openDirectory(_ path: String) -> Int32 {
    open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
}
