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
