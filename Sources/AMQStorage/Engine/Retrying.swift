import Logging

/// Retries `body` with jittered exponential backoff until it succeeds, the task is cancelled
/// (`CancellationError`), or it fails in a way `isFinal` says no retry can fix (that error):
/// data already handed to storage is never dropped for a passing failure, and its producers
/// simply wait (bounded by the un-uploaded bytes limit). `onRetry` counts each failed try.
func retrying<T: Sendable>(
    _ what: String, base: Duration, cap: Duration, logger: Logger, onRetry: @Sendable () async -> Void = {},
    isFinal: (any Error) -> Bool = { _ in false }, _ body: @Sendable () async throws -> T
) async throws -> T {
    var delay = base
    var attempt = 0
    while true {
        if Task.isCancelled { throw CancellationError() }
        do {
            let value = try await body()
            if attempt > 0 { logger.notice("Recovered", metadata: ["amq.operation": "\(what)", "amq.attempts": "\(attempt + 1)"]) }
            return value
        } catch {
            if isFinal(error) {
                logger.error("Gave up: retrying cannot help", metadata: ["amq.operation": "\(what)", "amq.error": "\(error)"])
                throw error
            }
            attempt += 1
            await onRetry()
            logger.warning("Retrying", metadata: ["amq.operation": "\(what)", "amq.attempt": "\(attempt)", "amq.error": "\(error)"])
            try? await Task.sleep(for: delay * Double.random(in: 0.5...1.0))
            delay = min(delay * 2, cap)
        }
    }
}
