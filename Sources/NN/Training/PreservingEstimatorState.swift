import Tensor

extension Module {
    /// Runs `body` and then puts the state of every estimator in this module (step counters and
    /// RNG positions, bases, error-feedback memory, Σ) back exactly as it was before.
    ///
    /// For passes that must leave no trace, such as the norm-measuring forward and backward of
    /// a clipped layer-wise step (ALGORITHMS.md §12): without it that pass would advance every
    /// estimator, so the real pass would draw other projections and error feedback would be
    /// applied twice. The snapshot is what a checkpoint saves (`TrainingState.estimatorState(of:)`),
    /// so it covers whatever state an estimator declares, however estimators are structured. It
    /// shares storage with the live state until the pass writes it (copy-on-write); restoring
    /// copies it back, so an estimator whose state the pass rewrote (e.g. GradLite's memory H)
    /// briefly holds two copies of it.
    @discardableResult
    public func preservingEstimatorState<T>(_ body: () throws -> T) rethrows -> T {
        let snapshot = TrainingState(estimatorState: TrainingState.estimatorState(of: self))
        defer {
            do { try snapshot.restoreEstimatorState(into: self, path: "estimator snapshot") } catch {
                preconditionFailure("preservingEstimatorState: an estimator rejected its own state: \(error)")
            }
        }
        return try body()
    }
}
