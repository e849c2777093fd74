import Foundation
import Synchronization

/// A process's traffic counts: every meter adds here as bytes are written and read, and the
/// heartbeat (agents) or the controller's own loop takes what has gathered. Also keeps the open
/// connections' meters, so their packet headers can be sampled together.
package final class TrafficLedger: Sendable {
    /// This process's zone (`TrafficZone.unknown` when it has none).
    package let zone: String
    private let clock: @Sendable () -> Date
    private let state = Mutex(State())

    private struct State {
        var tally = TrafficTally()
        /// Everything counted since the process started, for the Prometheus counters.
        var totals = TrafficTotals()
        var meters: [Int: ConnectionMeter] = [:]
        var nextMeter = 0
    }

    package init(zone: String?, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.zone = zone ?? TrafficZone.unknown
        self.clock = clock
    }

    package var now: Date { clock() }

    package func add(_ flow: TrafficFlow, _ counts: ByteCounts) {
        guard !counts.isZero else { return }
        let now = clock()
        state.withLock { state in
            state.tally.add(flow, counts, at: now)
            state.totals.flows[flow, default: ByteCounts()] += counts
        }
    }

    package func add(_ operation: S3Operation, _ counts: RequestCounts) {
        let now = clock()
        state.withLock { state in
            state.tally.add(operation, counts, at: now)
            state.totals.requests[operation, default: RequestCounts()] += counts
        }
    }

    /// Everything counted since the process started.
    package var totals: TrafficTotals { state.withLock { $0.totals } }

    /// What has been counted since the last call.
    package func take() -> TrafficTally {
        state.withLock { state in
            defer { state.tally = TrafficTally() }
            return state.tally
        }
    }

    /// A meter for one new connection, sampled with the others until it is closed.
    package func meter(
        peerZone: String, category: TrafficCategory, headerSource: (any PacketHeaderSource)?
    ) -> ConnectionMeter {
        state.withLock { state in
            let meter = ConnectionMeter(
                id: state.nextMeter, ledger: self, peerZone: peerZone, category: category, headerSource: headerSource
            )
            state.meters[state.nextMeter] = meter
            state.nextMeter += 1
            return meter
        }
    }

    func forget(_ meter: ConnectionMeter) {
        _ = state.withLock { $0.meters.removeValue(forKey: meter.id) }
    }

    /// Counts every open connection's packet headers up to now.
    package func sampleConnections() async {
        let meters = state.withLock { Array($0.meters.values) }
        for meter in meters { await meter.sample() }
    }
}

/// Running totals by flow and by S3 operation.
package struct TrafficTotals: Sendable, Equatable {
    package var flows: [TrafficFlow: ByteCounts] = [:]
    package var requests: [S3Operation: RequestCounts] = [:]

    package init() {}
}
