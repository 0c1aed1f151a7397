import Tensor

/// Bad estimator text (a CLI flag, a config): one line naming the offending token and the valid choices.
public struct EstimatorSpecError: Error, CustomStringConvertible, Equatable {
    /// The token that could not be used, as written.
    public let token: String
    public let message: String
    public init(token: String, message: String) { self.token = token; self.message = message }
    public var description: String { message.oneLine }
}
