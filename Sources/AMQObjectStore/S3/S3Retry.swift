import AsyncHTTPClient
import NIOCore

/// Jittered exponential backoff between attempts ("full jitter": a uniform pick below an
/// exponentially growing, capped ceiling), so clients that failed together do not retry together.
package struct S3Backoff: Sendable, Equatable {
    /// The ceiling before the first retry; it doubles with each further one.
    package var base: Duration
    /// The largest ceiling.
    package var cap: Duration

    package init(base: Duration = .milliseconds(100), cap: Duration = .seconds(5)) {
        self.base = base
        self.cap = cap
    }

    /// The ceiling of the wait after failed attempt number `attempt` (1-based).
    package func ceiling(afterAttempt attempt: Int) -> Duration {
        let doublings = min(max(attempt - 1, 0), 30)
        let ceiling = base * (1 << doublings)
        return ceiling > cap ? cap : ceiling
    }

    /// A random wait in `0...ceiling(afterAttempt:)`.
    package func delay(afterAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceiling(afterAttempt: attempt)
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        guard nanoseconds > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...nanoseconds, using: &generator))
    }
}

/// Which failures are worth another attempt.
enum S3Retry {
    /// Error codes S3 documents as transient, whatever status carries them (`RequestTimeout` is a 400).
    static let transientCodes: Set<String> = [
        "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling", "ThrottlingException",
        "RequestLimitExceeded", "OperationAborted",
    ]

    /// Whether an answer with `status` and S3 error `code` may succeed when sent again. 429 is
    /// not S3's (it says 503 SlowDown) but some S3-compatible stores throttle with it.
    static func isTransient(status: UInt, code: String?) -> Bool {
        if [429, 500, 502, 503, 504].contains(status) { return true }
        if let code, transientCodes.contains(code) { return true }
        // A conditional write raced another writer; S3 asks clients to try again.
        return status == 409 && code == "ConditionalRequestConflict"
    }

    /// Whether a transport failure (no HTTP answer at all) may pass when tried again: refused or
    /// reset connections and timeouts. Of AsyncHTTPClient's own errors only those are; the others
    /// are request-building mistakes, shutdown or cancellation. Errors from below HTTP (NIO socket
    /// and channel errors) are connection failures.
    static func isTransient(_ error: any Error) -> Bool {
        if error is CancellationError { return false }
        guard let error = error as? HTTPClientError else { return true }
        return transientClientErrors.contains(error)
    }

    static let transientClientErrors: [HTTPClientError] = [
        .remoteConnectionClosed, .connectTimeout, .readTimeout, .writeTimeout, .deadlineExceeded, .getConnectionFromPoolTimeout,
        .tlsHandshakeTimeout, .httpProxyHandshakeTimeout, .socksHandshakeTimeout, .uncleanShutdown,
    ]
}
