import Prometheus
import Synchronization

/// The traffic counters as Prometheus metrics, on a process's registry (manifests/grafana/ queries
/// exactly these names):
/// - `amq_traffic_bytes_total` and `amq_traffic_wire_bytes_total` (packet headers included), by
///   `category`, `topic`, `source_zone`, `destination_zone`, `direction` (`in`: received by this
///   process) and `crossing` (`inter-zone`, `intra-zone`, `unknown`), zones `unknown` when not known;
/// - `amq_s3_requests_total` and `amq_s3_bytes_total` by `operation`.
///
/// Counting stays off the hot path: the ledger keeps running totals, and `refresh()` — called when
/// `/metrics` is rendered — advances the counters by what is new since the last call.
package final class TrafficMetrics: Sendable {
    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "amq", metricName: name, unitName: "total", helpText: help)
    }

    private static var bytes: MetricNameDescriptor { descriptor("traffic_bytes", "Socket bytes by category, topic and zones") }
    private static var wireBytes: MetricNameDescriptor {
        descriptor("traffic_wire_bytes", "Socket bytes plus the IP and TCP headers of their packets, by category, topic and zones")
    }
    private static var requests: MetricNameDescriptor { descriptor("s3_requests", "Object-store requests by operation") }
    private static var requestBytes: MetricNameDescriptor { descriptor("s3_bytes", "Object-store body bytes by operation") }

    package static let names = [bytes.name, wireBytes.name, requests.name, requestBytes.name]

    package let registry: PrometheusCollectorRegistry
    let ledger: TrafficLedger
    private let seen = Mutex(TrafficTotals())

    package init(registry: PrometheusCollectorRegistry, ledger: TrafficLedger) {
        self.registry = registry
        self.ledger = ledger
    }

    /// Brings the counters up to the ledger's totals.
    package func refresh() {
        let totals = ledger.totals
        let previous = seen.withLock { seen in
            defer { seen = totals }
            return seen
        }
        for (flow, counts) in totals.flows {
            let before = previous.flows[flow] ?? ByteCounts()
            counted(flow, ByteCounts(bytes: counts.bytes - before.bytes, wireBytes: counts.wireBytes - before.wireBytes))
        }
        for (operation, counts) in totals.requests {
            let before = previous.requests[operation] ?? RequestCounts()
            counted(operation, RequestCounts(requests: counts.requests - before.requests, bytes: counts.bytes - before.bytes))
        }
    }

    private func counted(_ flow: TrafficFlow, _ counts: ByteCounts) {
        // `crossing` says what PromQL cannot (it cannot compare two labels): inter-zone, intra-zone or unknown.
        let crossing = flow.isUnknownZone ? "unknown" : flow.isInterZone ? "inter-zone" : "intra-zone"
        let labels = [
            ("category", flow.category.rawValue), ("topic", flow.topic), ("source_zone", flow.source),
            ("destination_zone", flow.destination), ("direction", flow.inbound ? "in" : "out"), ("crossing", crossing),
        ]
        if counts.bytes > 0 { registry.makeCounter(descriptor: Self.bytes, labels: labels).increment(by: counts.bytes) }
        if counts.wireBytes > 0 { registry.makeCounter(descriptor: Self.wireBytes, labels: labels).increment(by: counts.wireBytes) }
    }

    private func counted(_ operation: S3Operation, _ counts: RequestCounts) {
        let labels = [("operation", operation.rawValue)]
        registry.makeCounter(descriptor: Self.requests, labels: labels).increment(by: counts.requests)
        if counts.bytes > 0 { registry.makeCounter(descriptor: Self.requestBytes, labels: labels).increment(by: counts.bytes) }
    }
}
