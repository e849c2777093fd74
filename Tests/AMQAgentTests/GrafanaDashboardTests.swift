@testable import AMQAgent
import AMQTraffic
import Foundation
import Testing

/// manifests/grafana/amq-traffic.json queries exactly the metrics agents serve on /metrics.
@Suite struct GrafanaDashboardTests {
    static var dashboard: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("manifests/grafana/amq-traffic.json")
    }

    /// Every `expr` of every panel.
    static func queries() throws -> [String] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dashboard)) as! [String: Any]
        let panels = json["panels"] as! [[String: Any]]
        return panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
    }

    @Test func everyQuerysMetricIsOneAnAgentServes() throws {
        let ledger = TrafficLedger(zone: "a")
        let metrics = AgentMetrics(traffic: ledger)
        // One count of each kind, so every labelled family has a series to render.
        ledger.add(TrafficFlow(category: .produce, topic: "t", source: "b", destination: "a", inbound: true), ByteCounts(bytes: 10, wireBytes: 62))
        ledger.add(.put, RequestCounts(requests: 1, bytes: 10))
        metrics.rpcBytes(10, category: .routerRPC, peerZone: "b", direction: "out")
        let rendered = metrics.render(uptimeSeconds: 1)
        let served = Set(rendered.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            line.split(whereSeparator: { $0 == "{" || $0 == " " }).first.map(String.init)
        })
        let queries = try Self.queries()
        #expect(queries.count >= 10)
        let pattern = try Regex("amq_[a-z0-9_]+")
        var used: Set<String> = []
        for query in queries {
            for match in query.matches(of: pattern) { used.insert(String(query[match.range])) }
        }
        #expect(!used.isEmpty)
        for name in used.sorted() {
            #expect(served.contains(name), "the dashboard queries \(name), which no agent serves")
        }
        for name in TrafficMetrics.names {
            #expect(used.contains(name), "the dashboard never shows \(name)")
        }
    }
}
