import AMQSecurity
import AMQTraffic
import Foundation

/// Cluster-wide settings, stored as JSON in the cluster row and handed to every agent.
package struct ClusterSettings: Codable, Sendable, Equatable {
    /// How often agents heartbeat.
    package var heartbeatIntervalMs: Int = 1000
    /// Heartbeats a node may miss before the controller marks it down.
    package var missedHeartbeatsBeforeDown: Int = 3
    /// How long a node that stopped cleanly may stay away before its partitions fail over, as a
    /// down node's do: long enough for a restart, short enough that a node gone for good (a
    /// rescheduled pod with a new name) does not leave partitions without a leader.
    package var stoppedFailoverMs: Int = 60_000
    /// Kafka's `auto.create.topics.enable`; off by default, as the issue asks.
    package var autoCreateTopics: Bool = false
    /// Partitions of an auto-created topic.
    package var defaultPartitions: Int = 3
    /// Kafka's broker `fetch.max.bytes`: the most a fetch response carries, whatever the client
    /// asks (at least one batch); 55 MiB as in Kafka.
    package var fetchMaxBytes: Int = 57_671_680
    /// Kafka's broker `max.connections`, per agent: more are closed as they are accepted.
    package var maxConnections: Int = 10_000
    /// Kafka's `connections.max.idle.ms`: a connection with no request for this long is closed.
    package var connectionsMaxIdleMs: Int = 600_000
    /// PUTs per second each agent's WAL may spend on sealing a buffer early, as soon as nothing
    /// else is in flight (issue 14; `SealPolicy` in AMQStorage): at low load a produce waits for
    /// about one PUT instead of a 250-ms linger. 30/s keeps full-speed objects as large as before
    /// (~0.12 PUTs per MB at 280 MB/s) and caps a constant trickle at ~78 M PUTs a month per
    /// agent; raise it for lower latency at low load (docs/benchmarks.md has the trade-off).
    package var walMaxPutsPerSecond: Int = 30
    /// Each agent's memory for data (issue 14): the WAL, the router buffer, the log cache and the
    /// block cache share it (`MemoryBudget` in AMQStorage), leaving an eighth for what is in
    /// flight. 384 MiB keeps an agent under 512 MiB resident at full produce and consume.
    package var agentMemoryBytes: Int = 384 << 20
    /// The same early sealing for router objects (zone routing's proxied produces), with its own
    /// budget; 0, the default, keeps them sealing by size and linger: zone routing pays off only
    /// above ~1 MB/s per zone because router objects are few (docs/decisions.md), and early seals
    /// would multiply them at exactly the loads where latency gains most.
    package var routerMaxPutsPerSecond: Int = 0
    /// Kafka's `connections.max.reauth.ms` (KIP-368): a SASL session lasts this long, then the
    /// client must authenticate again on the same connection; 0 never.
    package var connectionsMaxReauthMs: Int = 0
    /// Kafka's `super.users`: principals every authorization check lets through, `;`-separated.
    package var superUsers: [String] = []
    /// Kafka's `allow.everyone.if.no.acl.found`; nil: off on agents with a SASL listener, on elsewhere.
    package var allowEveryoneIfNoACLFound: Bool?
    /// Prices, the Kafka cluster compared with, and how long traffic history is kept.
    package var traffic = TrafficSettings()

    package init() {}

    private enum CodingKeys: String, CodingKey {
        case heartbeatIntervalMs, missedHeartbeatsBeforeDown, stoppedFailoverMs, autoCreateTopics, defaultPartitions, fetchMaxBytes, maxConnections, connectionsMaxIdleMs
        case connectionsMaxReauthMs, superUsers, allowEveryoneIfNoACLFound, walMaxPutsPerSecond, agentMemoryBytes, routerMaxPutsPerSecond, traffic
    }

    /// Every key is optional, so settings written before a key existed (and snapshots from an
    /// older controller) decode with that key's default instead of failing.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = ClusterSettings()
        heartbeatIntervalMs = try container.decodeIfPresent(Int.self, forKey: .heartbeatIntervalMs) ?? defaults.heartbeatIntervalMs
        missedHeartbeatsBeforeDown =
            try container.decodeIfPresent(Int.self, forKey: .missedHeartbeatsBeforeDown) ?? defaults.missedHeartbeatsBeforeDown
        stoppedFailoverMs = try container.decodeIfPresent(Int.self, forKey: .stoppedFailoverMs) ?? defaults.stoppedFailoverMs
        autoCreateTopics = try container.decodeIfPresent(Bool.self, forKey: .autoCreateTopics) ?? defaults.autoCreateTopics
        defaultPartitions = try container.decodeIfPresent(Int.self, forKey: .defaultPartitions) ?? defaults.defaultPartitions
        fetchMaxBytes = try container.decodeIfPresent(Int.self, forKey: .fetchMaxBytes) ?? defaults.fetchMaxBytes
        maxConnections = try container.decodeIfPresent(Int.self, forKey: .maxConnections) ?? defaults.maxConnections
        connectionsMaxIdleMs = try container.decodeIfPresent(Int.self, forKey: .connectionsMaxIdleMs) ?? defaults.connectionsMaxIdleMs
        connectionsMaxReauthMs = try container.decodeIfPresent(Int.self, forKey: .connectionsMaxReauthMs) ?? defaults.connectionsMaxReauthMs
        walMaxPutsPerSecond = try container.decodeIfPresent(Int.self, forKey: .walMaxPutsPerSecond) ?? defaults.walMaxPutsPerSecond
        agentMemoryBytes = try container.decodeIfPresent(Int.self, forKey: .agentMemoryBytes) ?? defaults.agentMemoryBytes
        routerMaxPutsPerSecond = try container.decodeIfPresent(Int.self, forKey: .routerMaxPutsPerSecond) ?? defaults.routerMaxPutsPerSecond
        superUsers = try container.decodeIfPresent([String].self, forKey: .superUsers) ?? defaults.superUsers
        allowEveryoneIfNoACLFound = try container.decodeIfPresent(Bool.self, forKey: .allowEveryoneIfNoACLFound)
        traffic = try container.decodeIfPresent(TrafficSettings.self, forKey: .traffic) ?? defaults.traffic
    }

    package static let keys: [String] =
        [
            "heartbeat.interval.ms", "missed.heartbeats.before.down", "stopped.failover.ms", "auto.create.topics.enable", "default.partitions", "fetch.max.bytes",
            "max.connections", "connections.max.idle.ms", "connections.max.reauth.ms", "super.users", "allow.everyone.if.no.acl.found", "wal.max.puts.per.second",
            "agent.memory.bytes", "router.max.puts.per.second",
        ] + TrafficSettings.keys.map(\.key)

    /// The value of setting `key` as `set` takes it; nil for an unknown key.
    package func value(of key: String) -> String? {
        switch key {
        case "heartbeat.interval.ms": String(heartbeatIntervalMs)
        case "missed.heartbeats.before.down": String(missedHeartbeatsBeforeDown)
        case "stopped.failover.ms": String(stoppedFailoverMs)
        case "auto.create.topics.enable": String(autoCreateTopics)
        case "default.partitions": String(defaultPartitions)
        case "fetch.max.bytes": String(fetchMaxBytes)
        case "max.connections": String(maxConnections)
        case "connections.max.idle.ms": String(connectionsMaxIdleMs)
        case "connections.max.reauth.ms": String(connectionsMaxReauthMs)
        case "wal.max.puts.per.second": String(walMaxPutsPerSecond)
        case "agent.memory.bytes": String(agentMemoryBytes)
        case "router.max.puts.per.second": String(routerMaxPutsPerSecond)
        case "super.users": superUsers.joined(separator: ";")
        case "allow.everyone.if.no.acl.found": allowEveryoneIfNoACLFound.map { String($0) } ?? "auto"
        case _ where TrafficSettings.isKey(key): traffic.value(of: key)
        default: nil
        }
    }

    /// Applies one `key=value` setting, validating it.
    package mutating func set(_ key: String, _ value: String) throws(ControlPlaneError) {
        switch key {
        case "heartbeat.interval.ms":
            heartbeatIntervalMs = try TopicConfig.integer(key, value, in: 50...60_000)
        case "missed.heartbeats.before.down":
            missedHeartbeatsBeforeDown = try TopicConfig.integer(key, value, in: 1...100)
        case "stopped.failover.ms":
            stoppedFailoverMs = try TopicConfig.integer(key, value, in: 1_000...86_400_000)
        case "auto.create.topics.enable":
            autoCreateTopics = try TopicConfig.boolean(key, value)
        case "default.partitions":
            defaultPartitions = try TopicConfig.integer(key, value, in: 1...100_000)
        case "fetch.max.bytes":
            fetchMaxBytes = try TopicConfig.integer(key, value, in: 1024...Int(Int32.max) / 2)
        case "max.connections":
            maxConnections = try TopicConfig.integer(key, value, in: 1...1_000_000)
        case "connections.max.idle.ms":
            connectionsMaxIdleMs = try TopicConfig.integer(key, value, in: 1_000...86_400_000)
        case "connections.max.reauth.ms":
            connectionsMaxReauthMs = try TopicConfig.integer(key, value, in: 0...86_400_000)
        case "wal.max.puts.per.second":
            walMaxPutsPerSecond = try TopicConfig.integer(key, value, in: 1...10_000)
        case "agent.memory.bytes":
            // 64 MiB at least: the WAL's share must hold a buffer filling and one uploading.
            guard let bytes = Int(value), ((64 << 20)...(1 << 40)).contains(bytes) else {
                throw ControlPlaneError(
                    .invalidArgument, "agent.memory.bytes is a number of bytes from 64 MiB (\(64 << 20)) to 1 TiB, not \"\(value)\"; 384 MiB is \(384 << 20)"
                )
            }
            agentMemoryBytes = bytes
        case "router.max.puts.per.second":
            routerMaxPutsPerSecond = try TopicConfig.integer(key, value, in: 0...10_000)
        case "super.users":
            let principals = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for principal in principals where !principal.contains(":") {
                throw ControlPlaneError(.invalidArgument, "super.users: \"\(principal)\" is not a principal like User:admin (separate several with ;)")
            }
            superUsers = principals
        case "allow.everyone.if.no.acl.found":
            allowEveryoneIfNoACLFound = value == "auto" ? nil : try TopicConfig.boolean(key, value)
        case _ where TrafficSettings.isKey(key):
            do {
                try traffic.set(key, value)
            } catch {
                throw ControlPlaneError(.invalidArgument, error.message)
            }
        default:
            throw ControlPlaneError(
                .invalidArgument,
                "unknown cluster setting \"\(key)\"; known settings: \(Self.keys.joined(separator: ", "))"
            )
        }
    }
}

package struct ZoneInfo: Codable, Sendable, Equatable {
    package var name: String
    /// CIDR blocks whose clients belong to this zone (used by the zone-aware data path).
    package var cidrs: [String]

    package init(name: String, cidrs: [String]) {
        self.name = name
        self.cidrs = cidrs
    }
}

/// Whether an operator wants the node to hold partitions.
package enum NodeAdminState: String, Codable, Sendable {
    case active
    /// Drained: holds no leaders or replicas and gets none until made active again.
    case drained
}

/// What the controller last saw of the node.
package enum NodeLiveness: String, Codable, Sendable {
    /// Never registered since it was added.
    case unknown
    case alive
    /// Missed too many heartbeats.
    case down
    /// Left cleanly (graceful shutdown).
    case stopped
}

package struct NodeInfo: Codable, Sendable, Equatable {
    package var id: Int
    package var name: String?
    package var zone: String
    package var host: String
    package var kafkaPort: Int?
    package var rpcPort: Int?
    package var adminPort: Int?
    package var adminState: NodeAdminState
    package var liveness: NodeLiveness
    package var pid: Int?
    package var lastHeartbeat: Date?
    /// The newest topology version the agent said it holds.
    package var ackedVersion: Int?
    package var registeredAt: Date?
    /// Kafka listeners by name (their security protocol) → port; `kafkaPort` is the first's.
    package var listeners: [String: Int]?

    /// The port of the listener named `name`, else the primary Kafka port: Metadata names every
    /// broker by the listener the request came in on, as Kafka does.
    package func kafkaPort(listener name: String?) -> Int? {
        if let name, let port = listeners?[name] { return port }
        return kafkaPort
    }

    package init(
        id: Int, name: String?, zone: String, host: String, kafkaPort: Int?, rpcPort: Int?, adminPort: Int?,
        adminState: NodeAdminState, liveness: NodeLiveness, pid: Int?, lastHeartbeat: Date?, ackedVersion: Int?,
        registeredAt: Date?
    ) {
        self.id = id
        self.name = name
        self.zone = zone
        self.host = host
        self.kafkaPort = kafkaPort
        self.rpcPort = rpcPort
        self.adminPort = adminPort
        self.adminState = adminState
        self.liveness = liveness
        self.pid = pid
        self.lastHeartbeat = lastHeartbeat
        self.ackedVersion = ackedVersion
        self.registeredAt = registeredAt
    }

    /// Placement may give this node partitions.
    package var isEligible: Bool { adminState == .active && liveness != .down }
}

package struct TopicInfo: Codable, Sendable, Equatable {
    package var id: String
    package var name: String
    package var partitions: Int
    package var config: TopicConfig
    package var createdAt: Date
}

package struct PartitionInfo: Codable, Sendable, Equatable {
    package var topic: String
    package var index: Int
    package var leader: Int
    package var leaderEpoch: Int
    /// Read-only replicas: zone -> node id.
    package var replicas: [String: Int]

    package init(topic: String, index: Int, leader: Int, leaderEpoch: Int, replicas: [String: Int]) {
        self.topic = topic
        self.index = index
        self.leader = leader
        self.leaderEpoch = leaderEpoch
        self.replicas = replicas
    }
}

package struct ClusterInfo: Codable, Sendable, Equatable {
    package var name: String
    /// Random, fixed at creation; in every object key, so clusters sharing a bucket never touch
    /// one another's objects.
    package var uid: String
    package var objectStoreURL: String
    package var dataDir: String
    package var local: Bool
    package var settings: ClusterSettings
    package var topologyVersion: Int
    package var controllerURL: String?
    package var controllerPID: Int?
    package var createdAt: Date
    package var zones: [ZoneInfo]

    /// 16 hex digits.
    static func newUID() -> String {
        String(UInt64.random(in: 1...UInt64.max), radix: 16).leftPadded(to: 16)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// The cluster's Kafka users (salted credentials only) and ACLs, as agents need them.
package struct SecuritySnapshot: Codable, Sendable, Equatable {
    package var users: [UserCredentials] = []
    package var acls: [ACLBinding] = []

    package init(users: [UserCredentials] = [], acls: [ACLBinding] = []) {
        self.users = users
        self.acls = acls
    }
}

/// Everything an agent needs to know about the cluster at one topology version.
package struct TopologySnapshot: Codable, Sendable, Equatable {
    package var cluster: String
    package var version: Int
    package var settings: ClusterSettings
    package var objectStoreURL: String
    package var zones: [ZoneInfo]
    package var nodes: [NodeInfo]
    package var topics: [TopicInfo]
    package var partitions: [PartitionInfo]
    /// Kafka users and ACLs, for the agents' SASL and authorization.
    package var security: SecuritySnapshot

    package init(
        cluster: String, version: Int, settings: ClusterSettings, objectStoreURL: String, zones: [ZoneInfo],
        nodes: [NodeInfo], topics: [TopicInfo], partitions: [PartitionInfo], security: SecuritySnapshot = SecuritySnapshot()
    ) {
        self.security = security
        self.cluster = cluster
        self.version = version
        self.settings = settings
        self.objectStoreURL = objectStoreURL
        self.zones = zones
        self.nodes = nodes
        self.topics = topics
        self.partitions = partitions
    }
}

/// One row of the audit log: who changed what, and how it looked before and after.
package struct AuditEntry: Codable, Sendable, Equatable {
    package var id: Int
    package var cluster: String
    package var at: Date
    package var actor: String
    package var action: String
    package var subject: String
    package var before: String?
    package var after: String?
    package var topologyVersion: Int
}

/// One partition whose leader or replicas moved, as placement decided.
package struct PartitionMove: Codable, Sendable, Equatable {
    package var topic: String
    package var index: Int
    package var fromLeader: Int?
    package var toLeader: Int
    package var leaderEpoch: Int
    package var fromReplicas: [String: Int]
    package var toReplicas: [String: Int]
}
