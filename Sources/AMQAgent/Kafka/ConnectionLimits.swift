import Synchronization

/// Kafka's broker connection limits as pure state (issue 11, finding 13): `max.connections`
/// refuses a connection beyond the cap at accept, and `connections.max.idle.ms` closes one that
/// has no request in flight and none for that long. Times are given, never read, so the
/// decisions are tested directly.
package struct ConnectionLimits: Sendable, Equatable {
    /// Connections open now.
    package private(set) var open = 0

    package init() {}

    /// Takes a new connection if fewer than `limit` are open.
    package mutating func admit(limit: Int) -> Bool {
        guard open < limit else { return false }
        open += 1
        return true
    }

    package mutating func closed() {
        open = max(0, open - 1)
    }

    /// One connection's activity: requests in flight, and when it last had one.
    package struct Activity: Sendable, Equatable {
        package private(set) var inFlight = 0
        package private(set) var lastActive: ContinuousClock.Instant

        package init(now: ContinuousClock.Instant) {
            lastActive = now
        }

        package mutating func started(now: ContinuousClock.Instant) {
            inFlight += 1
            lastActive = now
        }

        package mutating func finished(now: ContinuousClock.Instant) {
            inFlight = max(0, inFlight - 1)
            lastActive = now
        }

        /// Idle past `limit`: nothing in flight (a parked fetch is not idle) and nothing since.
        package func isIdle(now: ContinuousClock.Instant, limit: Duration) -> Bool {
            inFlight == 0 && now - lastActive >= limit
        }
    }
}

/// The agent's connection count, shared by its Kafka listener's connections.
final class ConnectionCounter: Sendable {
    private let limits = Mutex(ConnectionLimits())

    func admit(limit: Int) -> Bool { limits.withLock { $0.admit(limit: limit) } }
    func closed() { limits.withLock { $0.closed() } }
    var open: Int { limits.withLock { $0.open } }
}

/// One connection's ``ConnectionLimits/Activity``, shared by its reader, its response writer and
/// its idle watch.
final class ConnectionActivity: Sendable {
    private let activity: Mutex<ConnectionLimits.Activity>

    init(now: ContinuousClock.Instant = .now) {
        activity = Mutex(ConnectionLimits.Activity(now: now))
    }

    func started() { activity.withLock { $0.started(now: .now) } }
    func finished() { activity.withLock { $0.finished(now: .now) } }
    func isIdle(limit: Duration) -> Bool { activity.withLock { $0.isIdle(now: .now, limit: limit) } }
}
