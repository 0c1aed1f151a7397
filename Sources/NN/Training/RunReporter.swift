/// Receives a run's progress (the CLI draws a progress bar or prints log lines from it).
public protocol RunReporter: AnyObject {
    func stepped(_ metrics: StepMetrics, totalSteps: Int)
    func evaluated(step: Int, loss: Float)
    func note(_ message: String)
}
