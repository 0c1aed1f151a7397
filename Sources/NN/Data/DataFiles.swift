import Tensor
import Foundation

/// File access for the data layer: every failure becomes a one-line `DataError`.
enum DataFiles {
    /// Reads a whole, non-empty regular file.
    static func read(_ url: URL) throws -> [UInt8] {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError.fileNotFound(path: path)
        }
        guard !isDirectory.boolValue else { throw DataError.notAFile(path: path) }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DataError.unreadable(path: path, reason: error.localizedDescription)
        }
        guard !data.isEmpty else { throw DataError.emptyFile(path: path) }
        return [UInt8](data)
    }

    /// Writes `bytes` atomically (temporary file + rename), so a crash never leaves a half-written
    /// file that a later run would mistake for a valid one.
    static func write(_ bytes: [UInt8], to url: URL) throws {
        do {
            try Data(bytes).write(to: url, options: .atomic)
        } catch {
            throw DataError.unwritable(path: url.path, reason: error.localizedDescription)
        }
    }

    /// Where files derived from a text file (a trained tokenizer, a token stream) are cached: the
    /// given directory, or else the text's own directory.
    ///
    /// The cache is only an optimisation: a cache file that is missing or corrupt is rebuilt, and
    /// one that cannot be written (a read-only data directory) is skipped, so loading succeeds.
    struct Cache {
        let directory: URL

        init(textFile: URL, directory: URL?) {
            self.directory = directory ?? textFile.deletingLastPathComponent()
        }

        func url(_ name: String) -> URL {
            directory.appendingPathComponent(name)
        }

        /// Lets `write` create the cache file `name`, ignoring failure (see the type's documentation).
        func store(as name: String, _ write: (URL) throws -> Void) {
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try? write(url(name))
        }

        /// A hash as 16 hexadecimal digits, for cache file names.
        static func hex(_ value: UInt64) -> String { FNV1a.hex(value) }
    }
}
