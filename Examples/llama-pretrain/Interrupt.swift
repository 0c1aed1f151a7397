import Foundation

/// Turns the first Ctrl-C into a request to stop after the current step (the run then saves a
/// checkpoint); a second Ctrl-C exits at once.
enum Interrupt {
    nonisolated(unsafe) static var requested: sig_atomic_t = 0

    static func install() {
        signal(SIGINT) { _ in
            if Interrupt.requested != 0 { _exit(130) }
            Interrupt.requested = 1
            let msg = "\nstopping after this step and saving a checkpoint (Ctrl-C again to quit now)\n"
            _ = msg.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        }
    }

    static var isRequested: Bool { requested != 0 }
}
