import AMQKafkaProtocol
import Metrics
import Prometheus

/// The agent's metrics, created once, on a registry of its own (no global bootstrap, so tests can
/// run several agents in one process). `/metrics` renders the registry in Prometheus text format.
package struct AgentMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry
    private let topologyVersion: Metrics.Gauge
    private let heartbeatDuration: Metrics.Timer
    private let heartbeatFailures: Metrics.Counter
    private let topologyUpdates: Metrics.Counter
    private let uptime: Metrics.Gauge
    private let routedTopics: Metrics.Gauge
    private let kafkaRequests: [ApiKey: (count: Metrics.Counter, duration: Metrics.Timer)]
    private let kafkaConnections: Metrics.Counter
    private let kafkaRefused: Metrics.Counter

    package init() {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        self.registry = registry
        topologyVersion = Metrics.Gauge(label: "amq_topology_version", factory: factory)
        heartbeatDuration = Metrics.Timer(label: "amq_heartbeat_duration_seconds", factory: factory)
        heartbeatFailures = Metrics.Counter(label: "amq_heartbeat_failures_total", factory: factory)
        topologyUpdates = Metrics.Counter(label: "amq_topology_updates_total", factory: factory)
        uptime = Metrics.Gauge(label: "amq_process_uptime_seconds", factory: factory)
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
        kafkaRefused = Metrics.Counter(label: "amq_kafka_requests_refused_total", factory: factory)
    }

    /// A Kafka request answered (or, for acks=0, done) after `duration`.
    func kafkaRequest(_ api: ApiKey, took duration: Duration) {
        guard let metrics = kafkaRequests[api] else { return }
        metrics.count.increment()
        metrics.duration.record(duration: duration)
    }

    func kafkaConnectionOpened() {
        kafkaConnections.increment()
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

    func heartbeatSucceeded(after duration: Duration) {
        heartbeatDuration.record(duration: duration)
    }

    func heartbeatFailed() {
        heartbeatFailures.increment()
    }

    /// Renders every metric, refreshing the uptime first.
    package func render(uptimeSeconds: Double) -> String {
        uptime.record(uptimeSeconds)
        return registry.emitToString()
    }
}
