import AMQKafkaProtocol
import AMQStorage
import AMQTraffic
import Metrics
import Prometheus
import Synchronization

/// The agent's metrics, created once, on a registry of its own (no global bootstrap, so tests can
/// run several agents in one process). `/metrics` renders the registry in Prometheus text format.
package struct AgentMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry
    private let topologyVersion: Metrics.Gauge
    private let heartbeatDuration: Metrics.Timer
    private let heartbeatFailures: Metrics.Counter
    private let topologyUpdates: Metrics.Counter
    private let uptime: Metrics.Gauge
    private let residentBytes: Metrics.Gauge
    /// The memory budget's parts (`agent.memory.bytes`), by part; what each holds is beside it
    /// (amq_storage_uncommitted_bytes, amq_storage_router_uncommitted_bytes, …_log_cache_bytes, …_block_cache_bytes).
    private let memoryBudget: [String: Metrics.Gauge]
    private let routedTopics: Metrics.Gauge
    private let kafkaRequests: [ApiKey: (count: Metrics.Counter, duration: Metrics.Timer)]
    private let kafkaConnections: Metrics.Counter
    private let kafkaConnectionsOpen: Metrics.Gauge
    private let kafkaConnectionsRejected: Metrics.Counter
    private let kafkaConnectionsIdleClosed: Metrics.Counter
    private let kafkaRefused: Metrics.Counter
    private let kafkaAuthentications: Metrics.Counter
    private let kafkaAuthenticationFailures: Metrics.Counter
    private let kafkaAuthorizationDenials: Metrics.Counter
    private let kafkaAcksZeroFailures: Metrics.Counter
    private let storageGauges: [String: Metrics.Gauge]
    private let storageCounters: [String: Metrics.Counter]
    /// The engine keeps running totals; counters advance by what is new since the last scrape.
    private let storageSeen = StorageTotals()
    private let factory: PrometheusMetricsFactory
    private let rpcCounters = CounterFamily()
    /// The traffic counters, brought up to date on each render.
    private let traffic: TrafficMetrics?

    package init(traffic ledger: TrafficLedger? = nil) {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        self.registry = registry
        self.factory = factory
        traffic = ledger.map { TrafficMetrics(registry: registry, ledger: $0) }
        topologyVersion = Metrics.Gauge(label: "amq_topology_version", factory: factory)
        heartbeatDuration = Metrics.Timer(label: "amq_heartbeat_duration_seconds", factory: factory)
        heartbeatFailures = Metrics.Counter(label: "amq_heartbeat_failures_total", factory: factory)
        topologyUpdates = Metrics.Counter(label: "amq_topology_updates_total", factory: factory)
        uptime = Metrics.Gauge(label: "amq_process_uptime_seconds", factory: factory)
        residentBytes = Metrics.Gauge(label: "amq_process_resident_bytes", factory: factory)
        memoryBudget = Dictionary(
            uniqueKeysWithValues: ["total", "wal", "router", "log_cache", "block_cache"].map {
                ($0, Metrics.Gauge(label: "amq_memory_budget_bytes", dimensions: [("part", $0)], factory: factory))
            }
        )
        routedTopics = Metrics.Gauge(label: "amq_routed_topics", factory: factory)
        var kafkaRequests: [ApiKey: (count: Metrics.Counter, duration: Metrics.Timer)] = [:]
        for key in ApiKey.allCases {
            let dimensions = [("api", key.name)]
            kafkaRequests[key] = (
                Metrics.Counter(label: "amq_kafka_requests_total", dimensions: dimensions, factory: factory),
                Metrics.Timer(label: "amq_kafka_request_duration_seconds", dimensions: dimensions, factory: factory)
            )
        }
        self.kafkaRequests = kafkaRequests
        kafkaConnections = Metrics.Counter(label: "amq_kafka_connections_total", factory: factory)
        kafkaConnectionsOpen = Metrics.Gauge(label: "amq_kafka_connections_open", factory: factory)
        kafkaConnectionsRejected = Metrics.Counter(label: "amq_kafka_connections_rejected_total", factory: factory)
        kafkaConnectionsIdleClosed = Metrics.Counter(label: "amq_kafka_connections_idle_closed_total", factory: factory)
        kafkaRefused = Metrics.Counter(label: "amq_kafka_requests_refused_total", factory: factory)
        kafkaAuthentications = Metrics.Counter(label: "amq_kafka_sasl_authentications_total", factory: factory)
        kafkaAuthenticationFailures = Metrics.Counter(label: "amq_kafka_sasl_authentication_failures_total", factory: factory)
        kafkaAuthorizationDenials = Metrics.Counter(label: "amq_kafka_authorization_denials_total", factory: factory)
        kafkaAcksZeroFailures = Metrics.Counter(label: "amq_kafka_acks0_produce_failures_total", factory: factory)
        storageGauges = Dictionary(
            uniqueKeysWithValues: [
                "pending_upload_bytes", "uncommitted_bytes", "uploads_in_flight", "log_cache_bytes", "block_cache_bytes", "led_partitions", "router_pending_upload_bytes",
                "router_uncommitted_bytes",
                "parked_reads", "known_segments",
            ].map {
                ($0, Metrics.Gauge(label: "amq_storage_\($0)", factory: factory))
            }
        )
        storageCounters = Dictionary(
            uniqueKeysWithValues: ["objects_uploaded", "ranges_committed", "retries", "router_objects_uploaded", "object_reads"].map {
                ($0, Metrics.Counter(label: "amq_storage_\($0)_total", factory: factory))
            }
        )
    }

    /// Samples the storage engine's state into the storage metrics (called on each scrape).
    func record(storage: StorageEngine.Statistics, blockCacheBytes: Int, objectReads: Int) {
        storageGauges["pending_upload_bytes"]?.record(storage.pendingUploadBytes)
        storageGauges["uncommitted_bytes"]?.record(storage.uncommittedBytes)
        storageGauges["uploads_in_flight"]?.record(storage.uploadsInFlight)
        storageGauges["log_cache_bytes"]?.record(storage.cachedLogBytes)
        storageGauges["block_cache_bytes"]?.record(blockCacheBytes)
        storageGauges["led_partitions"]?.record(storage.ledPartitions)
        storageGauges["parked_reads"]?.record(storage.parkedReads)
        storageGauges["known_segments"]?.record(storage.knownSegments)
        let totals = [
            "objects_uploaded": storage.objectsUploaded, "ranges_committed": storage.rangesCommitted, "retries": storage.retries,
            "object_reads": objectReads,
        ]
        advance(totals)
    }

    /// The memory budget in force.
    func record(budget: MemoryBudget) {
        memoryBudget["total"]?.record(budget.total)
        for part in budget.parts { memoryBudget[part.name]?.record(part.bytes) }
    }

    /// Samples the router buffer (zone routing's proxy side).
    func record(router pendingUploadBytes: Int, uncommittedBytes: Int, objectsUploaded: Int) {
        storageGauges["router_pending_upload_bytes"]?.record(pendingUploadBytes)
        storageGauges["router_uncommitted_bytes"]?.record(uncommittedBytes)
        advance(["router_objects_uploaded": objectsUploaded])
    }

    private func advance(_ totals: [String: Int]) {
        for (name, delta) in storageSeen.advance(to: totals) where delta > 0 {
            storageCounters[name]?.increment(by: delta)
        }
    }

    /// A Kafka request answered (or, for acks=0, done) after `duration`.
    func kafkaRequest(_ api: ApiKey, took duration: Duration) {
        guard let metrics = kafkaRequests[api] else { return }
        metrics.count.increment()
        metrics.duration.record(duration: duration)
    }

    func kafkaConnectionOpened(open: Int) {
        kafkaConnections.increment()
        kafkaConnectionsOpen.record(open)
    }

    func kafkaConnectionClosed(open: Int) {
        kafkaConnectionsOpen.record(open)
    }

    /// Closed at accept: the agent already had `max.connections`.
    func kafkaConnectionRejected() {
        kafkaConnectionsRejected.increment()
    }

    /// Closed after `connections.max.idle.ms` without a request.
    func kafkaConnectionIdleClosed() {
        kafkaConnectionsIdleClosed.increment()
    }

    /// A partition of an acks=0 produce that failed: its client never hears of it.
    func unacknowledgedProduceFailed() {
        kafkaAcksZeroFailures.increment()
    }

    /// A SASL exchange ended (a SCRAM step that continues counts as neither).
    func kafkaAuthentication(succeeded: Bool) {
        if succeeded { kafkaAuthentications.increment() } else { kafkaAuthenticationFailures.increment() }
    }

    /// An ACL check said no.
    func kafkaAuthorizationDenied() {
        kafkaAuthorizationDenials.increment()
    }

    /// A request that could not be answered, so its connection was closed.
    func kafkaRequestRefused() {
        kafkaRefused.increment()
    }

    func topologyApplied(version: Int, routedTopics: Int) {
        topologyVersion.record(version)
        topologyUpdates.increment()
        self.routedTopics.record(routedTopics)
    }

    /// Bytes of inter-agent RPC frames (size prefix included) sent (`out`) or received (`in`)
    /// to or from an agent in `peerZone`, by category (`router-rpc`, `replica-rpc`).
    func rpcBytes(_ bytes: Int, category: TrafficCategory, peerZone: String, direction: String) {
        rpcCounters.counter("amq_rpc_bytes_total", [("category", category.rawValue), ("peer_zone", peerZone), ("direction", direction)], factory: factory)
            .increment(by: bytes)
    }

    func heartbeatSucceeded(after duration: Duration) {
        heartbeatDuration.record(duration: duration)
    }

    func heartbeatFailed() {
        heartbeatFailures.increment()
    }

    /// Renders every metric, refreshing the uptime and resident memory first.
    package func render(uptimeSeconds: Double) -> String {
        uptime.record(uptimeSeconds)
        if let resident = ProcessMemory.residentBytes { residentBytes.record(resident) }
        traffic?.refresh()
        return registry.emitToString()
    }
}

/// Counters of one name whose label values are only known as traffic arrives, made once each.
final class CounterFamily: Sendable {
    private struct Key: Hashable {
        var label: String
        var dimensions: [String]
    }

    private let counters = Mutex<[Key: Metrics.Counter]>([:])

    func counter(_ label: String, _ dimensions: [(String, String)], factory: PrometheusMetricsFactory) -> Metrics.Counter {
        let key = Key(label: label, dimensions: dimensions.flatMap { [$0.0, $0.1] })
        return counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Metrics.Counter(label: label, dimensions: dimensions, factory: factory)
            counters[key] = counter
            return counter
        }
    }
}

/// The storage totals last turned into counter increments.
final class StorageTotals: Sendable {
    private let seen = Mutex<[String: Int]>([:])

    /// How much each total grew since the previous call.
    func advance(to totals: [String: Int]) -> [String: Int] {
        seen.withLock { seen in
            var deltas: [String: Int] = [:]
            for (name, total) in totals {
                deltas[name] = max(0, total - (seen[name] ?? 0))
                seen[name] = total
            }
            return deltas
        }
    }
}
