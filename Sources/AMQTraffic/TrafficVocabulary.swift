/// What a byte was for. Every socket byte an agent or the controller writes or reads is counted
/// under exactly one category (docs/traffic.md).
package enum TrafficCategory: String, Codable, Sendable, CaseIterable, Comparable {
    case produce
    case fetch
    case metadata
    case group
    case admin
    /// Proxy to leader: the pointers of routed produces.
    case routerRPC = "router-rpc"
    /// Read-only replica to leader: the segment metadata a replica follows.
    case replicaRPC = "replica-rpc"
    /// Agent to controller: heartbeats, topology, commits.
    case control

    package static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Zone names as traffic is counted: a zone from the topology, or ``unknown`` when the other end's
/// zone could not be told (an untagged client with no CIDR map). Unknown is never inter-zone.
package enum TrafficZone {
    package static let unknown = "unknown"

    /// Whether bytes between `source` and `destination` crossed zones: both known and different.
    package static func isInterZone(_ source: String, _ destination: String) -> Bool {
        source != unknown && destination != unknown && source != destination
    }

    /// Whether either end is unknown.
    package static func isUnknown(_ source: String, _ destination: String) -> Bool {
        source == unknown || destination == unknown
    }
}

/// Object-store requests, priced apart (a ranged GET is a GET on the bill, but is shown apart so
/// the block cache's effect is visible).
package enum S3Operation: String, Codable, Sendable, CaseIterable, Comparable {
    case put = "PUT"
    case get = "GET"
    case rangedGet = "RANGED-GET"
    case head = "HEAD"
    case delete = "DELETE"
    case list = "LIST"

    package static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Bytes between two ends as counted: `bytes` is what the sockets carried (Kafka or RPC frames,
/// HTTP, size prefixes included); `wireBytes` adds the IP and TCP headers of the packets that
/// carried them, as the kernel and the cloud bill count.
package struct ByteCounts: Codable, Sendable, Hashable {
    package var bytes: Int64
    package var wireBytes: Int64

    package init(bytes: Int64 = 0, wireBytes: Int64 = 0) {
        self.bytes = bytes
        self.wireBytes = wireBytes
    }

    package static func + (lhs: Self, rhs: Self) -> Self {
        Self(bytes: lhs.bytes + rhs.bytes, wireBytes: lhs.wireBytes + rhs.wireBytes)
    }

    package static func += (lhs: inout Self, rhs: Self) { lhs = lhs + rhs }

    package var isZero: Bool { bytes == 0 && wireBytes == 0 }
}

/// Requests and body bytes of one S3 operation.
package struct RequestCounts: Codable, Sendable, Hashable {
    package var requests: Int64
    package var bytes: Int64

    package init(requests: Int64 = 0, bytes: Int64 = 0) {
        self.requests = requests
        self.bytes = bytes
    }

    package static func + (lhs: Self, rhs: Self) -> Self {
        Self(requests: lhs.requests + rhs.requests, bytes: lhs.bytes + rhs.bytes)
    }

    package static func += (lhs: inout Self, rhs: Self) { lhs = lhs + rhs }
}

/// One direction of traffic: what it was for, which topic (empty: none, or several), the zones it
/// went from and to, and whether the process that counted it received it (`inbound`) or sent it.
package struct TrafficFlow: Codable, Sendable, Hashable {
    package var category: TrafficCategory
    package var topic: String
    package var source: String
    package var destination: String
    package var inbound: Bool

    package init(category: TrafficCategory, topic: String = "", source: String, destination: String, inbound: Bool) {
        self.category = category
        self.topic = topic
        self.source = source
        self.destination = destination
        self.inbound = inbound
    }

    package var isInterZone: Bool { TrafficZone.isInterZone(source, destination) }
    package var isUnknownZone: Bool { TrafficZone.isUnknown(source, destination) }
}
