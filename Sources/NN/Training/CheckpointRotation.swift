import Foundation

/// The three folders a run's checkpoint lives in and the swap between them, safe against a kill
/// at any point and against a second kill while recovering from the first.
///
/// A save writes `checkpoint.new` completely (every file atomic and checksummed), then renames
/// `checkpoint` → `checkpoint.old`, `checkpoint.new` → `checkpoint`, and removes
/// `checkpoint.old`. A kill can leave any subset of the three, some of them incomplete (being
/// written or being removed); `recover()` verifies each (both files parse, carry the same
/// checkpoint id and match their checksums), takes the complete one with the highest step
/// (`checkpoint` on a tie), moves it into place with the same renames and removes the others.
/// Nothing ever removes the newest complete checkpoint, so every state a kill leaves, during a
/// save or during a recovery, is again one `recover()` handles.
struct CheckpointRotation {
    let current: URL
    let fresh: URL
    let old: URL

    init(runDirectory: URL, name: String) {
        current = runDirectory.appendingPathComponent(name)
        fresh = runDirectory.appendingPathComponent(name + ".new")
        old = runDirectory.appendingPathComponent(name + ".old")
    }

    private var fm: FileManager { .default }

    /// Writes a new checkpoint with `write` (into an empty `checkpoint.new`) and swaps it in.
    func save(_ write: (URL) throws -> Void) throws {
        try? fm.removeItem(at: fresh)
        try write(fresh)
        try promoteFresh()
    }

    /// Makes the newest complete checkpoint `checkpoint` and returns its step, or nil when there
    /// is none. - Throws: `RunError` when folders exist but none is complete (naming why).
    @discardableResult
    func recover() throws -> Int? {
        var complete: [(url: URL, step: Int)] = []
        var problems: [String] = []
        for url in [current, fresh, old] where fm.fileExists(atPath: url.path) {
            do { complete.append((url, try Self.verifiedStep(url))) } catch { problems.append("\(error)") }
        }
        guard let best = complete.max(by: { $0.step < $1.step || ($0.step == $1.step && $1.url == current) }) else {
            if problems.isEmpty { return nil }
            throw RunError("no complete checkpoint in \(current.deletingLastPathComponent().path): \(problems.joined(separator: "; "))")
        }
        do {
            switch best.url {
            case current:
                try removeIfPresent(fresh)
                try removeIfPresent(old)
            case fresh:
                try promoteFresh()
            default:
                try removeIfPresent(fresh)
                if fm.fileExists(atPath: current.path) { try fm.removeItem(at: current) }
                try fm.moveItem(at: old, to: current)
            }
        } catch let error as RunError {
            throw error
        } catch {
            throw RunError("cannot move the checkpoint of step \(best.step) into \(current.path): \(error.localizedDescription)")
        }
        return best.step
    }

    /// `checkpoint` → `checkpoint.old`, `checkpoint.new` → `checkpoint`, remove `checkpoint.old`.
    private func promoteFresh() throws {
        do {
            if fm.fileExists(atPath: current.path) {
                try removeIfPresent(old)
                try fm.moveItem(at: current, to: old)
            }
            try fm.moveItem(at: fresh, to: current)
            syncDirectory(current.deletingLastPathComponent())
            try removeIfPresent(old)
        } catch {
            throw RunError("cannot move the new checkpoint into \(current.path): \(error.localizedDescription)")
        }
    }

    private func removeIfPresent(_ url: URL) throws {
        if fm.fileExists(atPath: url.path) { try fm.removeItem(at: url) }
    }

    /// The step of a complete checkpoint folder. - Throws: what makes it incomplete.
    static func verifiedStep(_ directory: URL) throws -> Int {
        let weights = try SafetensorsFile(contentsOf: directory.appendingPathComponent(CheckpointFileName.weights))
        let state = try SafetensorsFile(contentsOf: directory.appendingPathComponent(CheckpointFileName.trainingState))
        try weights.verifyChecksum()
        try state.verifyChecksum()
        guard let a = weights.metadata["checkpoint_id"], a == state.metadata["checkpoint_id"] else {
            throw CheckpointError.invalidContent(path: directory.path,
                reason: "\(CheckpointFileName.weights) and \(CheckpointFileName.trainingState) come from different saves (interrupted save?)")
        }
        guard let text = state.metadata["step"], let step = Int(text), step >= 0 else {
            throw CheckpointError.invalidMetadata(path: state.path, key: "step", reason: "is not a non-negative integer")
        }
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent(CheckpointFileName.config).path) else {
            throw CheckpointError.fileNotFound(path: directory.appendingPathComponent(CheckpointFileName.config).path)
        }
        return step
    }
}

/// Flushes a directory's entries (renames) to disk; best effort, as not every file system can.
func syncDirectory(_ url: URL) {
    let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 { _ = fsync(fd); _ = close(fd) }
}
