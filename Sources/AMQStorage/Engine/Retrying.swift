import Logging

/// Retries `body` with jittered exponential backoff until it succeeds or the task is cancelled:
/// data already handed to storage is never dropped, and its producers simply wait (bounded by
/// the un-uploaded bytes limit). `onRetry` counts each failed try.
func retrying<T: Sendable>(
    _ what: String, base: Duration, cap: Duration, logger: Logger, onRetry: @Sendable () async -> Void = {}, _ body: @Sendable () async throws -> T
) async throws(CancellationError) -> T {
    var delay = base
    var attempt = 0
    while true {
        if Task.isCancelled { throw CancellationError() }
        do {
            let value = try await body()
            if attempt > 0 { logger.notice("Recovered", metadata: ["amq.operation": "\(what)", "amq.attempts": "\(attempt + 1)"]) }
            return value
        } catch {
            attempt += 1
            await onRetry()
            logger.warning("Retrying", metadata: ["amq.operation": "\(what)", "amq.attempt": "\(attempt)", "amq.error": "\(error)"])
            try? await Task.sleep(for: delay * Double.random(in: 0.5...1.0))
            delay = min(delay * 2, cap)
        }
    }
}
