import AMQAgent
import AMQControlPlane
import AMQKafkaClient
import AMQKafkaProtocol
import AMQTraffic
import AMQTestSupport
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// A real controller and a real agent in this process, talking HTTP over 127.0.0.1 on ports
/// picked by the kernel, with the topology in a temporary SQLite file.
@Suite(.timeLimit(.minutes(2))) struct AgentAgainstControllerTests {
    @Test func agentRegistersBecomesReadyAndFollowsTheTopology() async throws {
        try await withController { fixture in
            var configuration = AgentConfiguration(controllerURL: fixture.url, secret: fixture.secret, zone: "a", nodeID: 1, nodeName: nil)
            configuration.topologyWait = .seconds(2)
            let agent = AgentService(configuration: configuration, logger: Logger(label: "test.agent"))
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await agent.run() }
                defer { group.cancelAll() }

                // Registration records the ports actually bound.
                let node = try #require(await eventually { try await fixture.node(1).flatMap { $0.adminPort == nil ? nil : $0 } })
                #expect(node.liveness == .alive)
                let admin = try #require(node.adminPort)
                #expect(try #require(node.kafkaPort) > 0)
                // The controller records the node before the agent has read its answer: wait for it.
                #expect(await eventually { await get("http://127.0.0.1:\(admin)/readyz").status == 200 ? true : nil } == true)
                let metrics = await get("http://127.0.0.1:\(admin)/metrics")
                #expect(metrics.body.contains("amq_topology_version"))
                #expect(metrics.body.contains("amq_heartbeat_duration_seconds"))

                // A topic created by another writer, then its routing switch, reach the agent.
                _ = try await fixture.store.createTopic("demo", name: "orders", partitions: 4, config: TopicConfig())
                #expect(await eventually { await agent.state.view().topics.first { $0.name == "orders" } } != nil)
                _ = try await fixture.store.setRoute("demo", topic: "orders", enabled: true)
                let routed = await eventually { await agent.state.view().topics.first { $0.name == "orders" && $0.routeEnabled } }
                #expect(routed != nil)
                let view = await agent.state.view()
                #expect(view.nodeID == 1 && view.zone == "a" && view.ready)
                // What the agent says it leads and replicates is what the store placed on node 1 (how
                // much that is depends on node liveness at creation, which a loaded machine can vary).
                let orders = try #require(view.topics.first { $0.name == "orders" })
                let placed = try await fixture.store.partitions("demo", topic: "orders")
                #expect(Set(orders.leaderOf) == Set(placed.filter { $0.leader == 1 }.map(\.index)))
                #expect(Set(orders.replicaOf) == Set(placed.filter { $0.replicas.values.contains(1) }.map(\.index)))
                #expect(orders.partitions == 4)
                let version = try await fixture.store.snapshot("demo").version
                #expect(await eventually { await get("http://127.0.0.1:\(admin)/metrics").body.contains("amq_topology_version \(version)") ? true : nil } == true)
            }
            // Stopped, the agent said goodbye rather than leaving the controller to time it out.
            #expect(try await fixture.node(1)?.liveness == .stopped)
        }
    }

    /// Traffic end to end in-process: a Kafka client's bytes counted by the agent reach the
    /// history with a heartbeat (acknowledged), by its zone from the client.id tag; the
    /// controller counts the agent's calls by the zone the agent sends; both serve the counters
    /// on /metrics.
    @Test func trafficCountsReachTheHistoryWithHeartbeats() async throws {
        try await withController { fixture in
            let configuration = AgentConfiguration(controllerURL: fixture.url, secret: fixture.secret, zone: "b", nodeID: 2, nodeName: nil)
            let agent = AgentService(configuration: configuration, logger: Logger(label: "test.agent"))
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await agent.run() }
                defer { group.cancelAll() }
                let node = try #require(await eventually { try await fixture.node(2).flatMap { $0.kafkaPort == nil ? nil : $0 } })
                let start = Date()
                let metadata = try await withConnection(try #require(node.kafkaPort)) { connection in
                    try await connection.call(MetadataRequest(topics: nil), version: 9, clientID: "amq_az=a")
                }
                #expect(!metadata.brokers.isEmpty)
                let window = (since: start.addingTimeInterval(-120), until: Date().addingTimeInterval(120))
                let found = await eventually(timeout: .seconds(20)) {
                        let history = try? await fixture.store.trafficHistory("demo", since: window.since, until: window.until)
                        // Frames are shipped with the next heartbeat, their packet headers once sampled.
                        let kafka = history?.flows.filter {
                            $0.category == .metadata && $0.source == "a" && $0.destination == "b" && $0.inbound && $0.wireBytes >= $0.bytes + 52
                        } ?? []
                        let control = history?.flows.filter { $0.category == .control && $0.source == "b" && $0.inbound } ?? []
                        return kafka.isEmpty || control.isEmpty ? nil : history
                    }
                let all = try await fixture.store.trafficHistory("demo", since: window.since, until: window.until)
                let history = try #require(found, "\(all.flows.map { "\($0.category) \($0.source)->\($0.destination) \($0.inbound) \($0.bytes)/\($0.wireBytes)" })")
                let request = history.flows.filter { $0.category == .metadata && $0.inbound }.reduce(Int64(0)) { $0 + $1.bytes }
                let response = history.flows.filter { $0.category == .metadata && !$0.inbound && $0.destination == "a" }
                #expect(request > 0 && !response.isEmpty)
                // Packet headers on top of the frames: at least one segment each way.
                #expect(history.flows.filter { $0.category == .metadata }.allSatisfy { $0.wireBytes >= $0.bytes })
                #expect(history.flows.contains { $0.category == .metadata && $0.wireBytes >= $0.bytes + 52 })
                let agentMetrics = await get("http://127.0.0.1:\(try #require(node.adminPort))/metrics").body
                #expect(agentMetrics.contains(#"amq_traffic_wire_bytes_total{category="metadata""#), "\(agentMetrics.prefix(2000))")
                #expect(agentMetrics.contains(#"crossing="inter-zone""#))
                let controllerMetrics = await get(fixture.url + "/metrics").body
                #expect(controllerMetrics.contains(#"amq_traffic_wire_bytes_total{category="control""#), "\(controllerMetrics.prefix(2000))")
            }
        }
    }

    @Test func anAgentWithTheWrongSecretIsRefusedAtOnce() async throws {
        try await withController { fixture in
            let wrong = try ClusterSecret(String(repeating: "ab", count: 16))
            let configuration = AgentConfiguration(controllerURL: fixture.url, secret: wrong, zone: "a", nodeID: 1, nodeName: nil)
            let agent = AgentService(configuration: configuration, logger: Logger(label: "test.agent"))
            let started = ContinuousClock.now
            let error = await #expect(throws: ControlPlaneError.self) { try await agent.run() }
            #expect(error?.code == .unauthorized)
            // Not retried until the 60 s register timeout: a wrong secret will not fix itself.
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(try await fixture.node(1)?.liveness != .alive)
        }
    }

    @Test func controlCallsWithoutTheSecretAreRefusedAndLogged() async throws {
        try await withController { fixture in
            for header in [nil, "Bearer nope", "Bearer \(String(repeating: "ab", count: 16))"] {
                var request = HTTPClientRequest(url: fixture.url + "/v1/topology?after=-1&waitMs=0")
                if let header { request.headers.add(name: "Authorization", value: header) }
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
                let body = String(buffer: try await response.body.collect(upTo: 1 << 16))
                #expect(response.status.code == 401)
                #expect(!body.contains(fixture.secret.value))
            }
            // Health needs no secret; it is how operators probe the controller.
            #expect(await get(fixture.url + "/healthz").status == 200)
            let refusals = fixture.logs.messages.filter { $0.contains("Control API call refused") }
            #expect(refusals.count == 3)
            #expect(!fixture.logs.messages.joined().contains(fixture.secret.value))
        }
    }

    @Test func stateKeepsTheNewestTopologyOnly() async throws {
        try await withController { fixture in
            let state = AgentState()
            let first = try await fixture.store.snapshot("demo")
            _ = try await fixture.store.createTopic("demo", name: "t", partitions: 1, config: TopicConfig())
            let second = try await fixture.store.snapshot("demo")
            #expect(await state.isReady == false)
            #expect(await state.update(second) != nil)
            #expect(await state.update(first) == nil, "an older snapshot replaced a newer one")
            #expect(await state.topology?.version == second.version)
        }
    }
}

// MARK: - Fixture

/// A test controller whose log lines are kept for inspection.
struct ControllerFixture: Sendable {
    let controller: TestController
    let logs: LogCapture

    var url: String { controller.url }
    var secret: ClusterSecret { controller.secret }
    var store: TopologyStore { controller.store }

    func node(_ id: Int) async throws -> NodeInfo? { try await controller.node(id) }
}

/// Runs a controller for cluster `demo` (zones a and b, one node each) on a free port.
func withController(_ body: @Sendable (ControllerFixture) async throws -> Void) async throws {
    let logs = LogCapture()
    var logger = Logger(label: "test.controller") { _ in logs }
    logger.logLevel = .info
    try await TestController.with(logger: logger) { controller in
        try await body(ControllerFixture(controller: controller, logs: logs))
    }
}

func get(_ url: String) async -> (status: Int, body: String) {
    do {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    } catch {
        return (0, "\(error)")
    }
}

/// Keeps every rendered log line, metadata included, so tests can check what was (not) logged.
final class LogCapture: LogHandler, Sendable {
    private let lines = Mutex<[String]>([])
    var messages: [String] { lines.withLock { $0 } }

    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        let rendered = "\(event.level) \(event.message) \(event.metadata ?? [:])"
        lines.withLock { $0.append(rendered) }
    }
}
