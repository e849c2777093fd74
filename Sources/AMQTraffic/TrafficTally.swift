import Foundation

/// Counts by minute: what an agent has counted and not yet shipped, and what one shipment carries.
package struct TrafficTally: Sendable, Equatable {
    package struct FlowKey: Hashable, Sendable {
        /// Start of the minute, in seconds since 1970.
        package var minute: Int64
        package var flow: TrafficFlow
    }

    package struct RequestKey: Hashable, Sendable {
        package var minute: Int64
        package var operation: S3Operation
    }

    package private(set) var flows: [FlowKey: ByteCounts] = [:]
    package private(set) var requests: [RequestKey: RequestCounts] = [:]

    package init() {}

    package var isEmpty: Bool { flows.isEmpty && requests.isEmpty }

    /// The minute `date` falls in, as its start in seconds since 1970.
    package static func minute(of date: Date) -> Int64 {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        return seconds - ((seconds % 60) + 60) % 60
    }

    package mutating func add(_ flow: TrafficFlow, _ counts: ByteCounts, at date: Date) {
        guard !counts.isZero else { return }
        flows[FlowKey(minute: Self.minute(of: date), flow: flow), default: ByteCounts()] += counts
    }

    package mutating func add(_ operation: S3Operation, _ counts: RequestCounts, at date: Date) {
        requests[RequestKey(minute: Self.minute(of: date), operation: operation), default: RequestCounts()] += counts
    }

    package mutating func merge(_ other: TrafficTally) {
        for (key, counts) in other.flows { flows[key, default: ByteCounts()] += counts }
        for (key, counts) in other.requests { requests[key, default: RequestCounts()] += counts }
    }

    /// The tally as rows, in a stable order.
    package var delta: TrafficDelta {
        TrafficDelta(
            flows: flows.map { key, counts in
                TrafficDelta.Flow(
                    minute: key.minute, category: key.flow.category, topic: key.flow.topic, source: key.flow.source,
                    destination: key.flow.destination, inbound: key.flow.inbound, bytes: counts.bytes, wireBytes: counts.wireBytes
                )
            }.sorted {
                ($0.minute, $0.category, $0.topic, $0.source, $0.destination, $0.inbound ? 1 : 0)
                    < ($1.minute, $1.category, $1.topic, $1.source, $1.destination, $1.inbound ? 1 : 0)
            },
            requests: requests.map { key, counts in
                TrafficDelta.Request(minute: key.minute, operation: key.operation, requests: counts.requests, bytes: counts.bytes)
            }.sorted { ($0.minute, $0.operation) < ($1.minute, $1.operation) }
        )
    }

    package init(_ delta: TrafficDelta) {
        for row in delta.flows {
            let flow = TrafficFlow(
                category: row.category, topic: row.topic, source: row.source, destination: row.destination, inbound: row.inbound
            )
            flows[FlowKey(minute: row.minute, flow: flow), default: ByteCounts()] += ByteCounts(bytes: row.bytes, wireBytes: row.wireBytes)
        }
        for row in delta.requests {
            requests[RequestKey(minute: row.minute, operation: row.operation), default: RequestCounts()] +=
                RequestCounts(requests: row.requests, bytes: row.bytes)
        }
    }
}

/// Minute rows of byte and request counts, as they travel from an agent to the controller.
package struct TrafficDelta: Codable, Sendable, Equatable {
    package struct Flow: Codable, Sendable, Equatable {
        package var minute: Int64
        package var category: TrafficCategory
        package var topic: String
        package var source: String
        package var destination: String
        package var inbound: Bool
        package var bytes: Int64
        package var wireBytes: Int64

        package init(
            minute: Int64, category: TrafficCategory, topic: String, source: String, destination: String, inbound: Bool, bytes: Int64,
            wireBytes: Int64
        ) {
            self.minute = minute
            self.category = category
            self.topic = topic
            self.source = source
            self.destination = destination
            self.inbound = inbound
            self.bytes = bytes
            self.wireBytes = wireBytes
        }

        package var flow: TrafficFlow {
            TrafficFlow(category: category, topic: topic, source: source, destination: destination, inbound: inbound)
        }
    }

    package struct Request: Codable, Sendable, Equatable {
        package var minute: Int64
        package var operation: S3Operation
        package var requests: Int64
        package var bytes: Int64

        package init(minute: Int64, operation: S3Operation, requests: Int64, bytes: Int64) {
            self.minute = minute
            self.operation = operation
            self.requests = requests
            self.bytes = bytes
        }
    }

    package var flows: [Flow]
    package var requests: [Request]

    package init(flows: [Flow] = [], requests: [Request] = []) {
        self.flows = flows
        self.requests = requests
    }
}

/// One shipment of counts from an agent. The controller applies a batch once: it keeps, per node,
/// the incarnation (`origin`) and the highest sequence applied, and ignores a resent batch.
package struct TrafficBatch: Codable, Sendable, Equatable {
    /// Names the agent process that counted: a restarted agent starts its sequence again.
    package var origin: String
    package var sequence: Int64
    /// Everything the agent counted before this instant (seconds since 1970) is in this batch or
    /// an earlier one; the report uses it to say whether a window is complete.
    package var through: Double
    package var delta: TrafficDelta

    package init(origin: String, sequence: Int64, through: Double, delta: TrafficDelta) {
        self.origin = origin
        self.sequence = sequence
        self.through = through
        self.delta = delta
    }
}

/// The agent's side of shipping counts with its heartbeats, as a state machine without I/O: counts
/// gather in `pending`; each heartbeat seals them into a numbered batch and sends every batch not
/// yet acknowledged; an acknowledgement drops the batches it covers. A lost heartbeat or answer
/// loses nothing (the batches go again) and counts nothing twice (the controller applies each
/// sequence once). While the controller is away, at most `maxUnacknowledged` batches wait; later
/// counts stay in `pending`, still by minute, until there is room.
package struct TrafficShipper: Sendable {
    package let origin: String
    package let maxUnacknowledged: Int
    package private(set) var pending = TrafficTally()
    package private(set) var unacknowledged: [TrafficBatch] = []
    private var nextSequence: Int64 = 1

    package init(origin: String, maxUnacknowledged: Int = 30) {
        self.origin = origin
        self.maxUnacknowledged = maxUnacknowledged
    }

    package mutating func add(_ tally: TrafficTally) {
        pending.merge(tally)
    }

    /// Seals what is pending (when there is room) and returns the batches to send now.
    package mutating func batchesToSend(now: Date) -> [TrafficBatch] {
        if unacknowledged.count < maxUnacknowledged {
            unacknowledged.append(TrafficBatch(origin: origin, sequence: nextSequence, through: now.timeIntervalSince1970, delta: pending.delta))
            nextSequence += 1
            pending = TrafficTally()
        }
        return unacknowledged
    }

    /// The controller has applied every batch up to `sequence` of this origin.
    package mutating func acknowledged(through sequence: Int64) {
        unacknowledged.removeAll { $0.sequence <= sequence }
    }
}
