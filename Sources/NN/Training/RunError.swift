import Tensor

/// A problem with a run's inputs (flags, files, configuration, checkpoint): one line for the user.
public struct RunError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message.oneLine }
}
