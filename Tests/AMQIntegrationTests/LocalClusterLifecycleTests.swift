import AMQTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The shapes of `amq … --format json` this suite reads.
struct StatusJSON: Decodable {
    struct Controller: Decodable {
        var url: String?
        var pid: Int?
        var reachable: Bool
        var topologyVersion: Int
    }
    struct Agent: Decodable {
        var nodeId: Int
        var zone: String
        var host: String
        var pid: Int?
        var process: String?
        var liveness: String
        var kafkaPort: Int?
        var adminPort: Int?
        var topologyVersion: Int?
    }
    var controller: Controller
    var agents: [Agent]
}

struct PartitionJSON: Decodable, Equatable {
    var topic: String
    var index: Int
    var leader: Int
    var leaderEpoch: Int
    var replicas: [String: Int]
}

struct AgentStateJSON: Decodable {
    struct Topic: Decodable {
        var name: String
        var routeEnabled: Bool
    }
    var nodeID: Int?
    var topologyVersion: Int?
    var topics: [Topic]
}

/// Drives the real binary through a local cluster's life: create, status, topic placement, the
/// routing switch reaching every agent, a SIGKILLed agent marked down, stop, start, delete.
@Suite(.serialized, .timeLimit(.minutes(5))) struct LocalClusterLifecycleTests {
    @Test(.timeLimit(.minutes(5))) func lifecycle() async throws {
        try await AMQProcess.with(cluster: "demo") { amq in try await lifecycle(amq) }
    }

    private func lifecycle(_ amq: AMQProcess) async throws {
        let created = try await amq.run(["cluster", "create", "demo", "--local", "--zones", "a,b,c", "--agents-per-zone", "2"])
        try #require(created.code == 0, "create failed: \(created.stderr)")
        #expect(created.stderr.contains("controller up at"))
        #expect(created.stderr.components(separatedBy: ") ready: kafka").count - 1 == 6)

        // Status: a reachable controller and six alive agents with their ports.
        var status = try await amq.json(StatusJSON.self, ["cluster", "status"])
        #expect(status.controller.reachable)
        #expect(status.agents.count == 6)
        for agent in status.agents {
            #expect(agent.liveness == "alive" && agent.process == "running")
            let kafka = try #require(agent.kafkaPort)
            let admin = try #require(agent.adminPort)
            #expect(kafka > 0 && admin > 0)
            let health = await httpGet("http://\(agent.host):\(admin)/healthz")
            #expect(health.status == 200 && health.body == "ok\n")
            let metrics = await httpGet("http://\(agent.host):\(admin)/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.body.contains("amq_topology_version"))
            #expect(metrics.body.contains("amq_process_uptime_seconds"))
        }

        // Placement: 12 partitions over 6 agents, replicas in both other zones.
        try await amq.ok(["topic", "create", "orders", "--partitions", "12"])
        let partitions = try await amq.json([PartitionJSON].self, ["partition", "list", "--topic", "orders"])
        let zoneOf = Dictionary(uniqueKeysWithValues: status.agents.map { ($0.nodeId, $0.zone) })
        var leaders: [Int: Int] = [:]
        for partition in partitions {
            leaders[partition.leader, default: 0] += 1
            let leaderZone = try #require(zoneOf[partition.leader])
            #expect(Set(partition.replicas.keys) == Set(["a", "b", "c"]).subtracting([leaderZone]))
        }
        #expect(leaders.count == 6 && leaders.values.max()! - leaders.values.min()! <= 1)

        // The routing switch shows in describe and reaches every agent's admin endpoint.
        try await amq.ok(["topic", "route-enable", "orders"])
        let describe = try await amq.ok(["topic", "describe", "orders"])
        #expect(describe.stdout.contains("route.enabled true"))
        let switchedAt = ContinuousClock.now
        for agent in status.agents {
            let reached = await eventually(timeout: .seconds(10)) {
                let state = await httpGet("http://\(agent.host):\(agent.adminPort!)/v1/state")
                guard state.status == 200, let view = try? JSONDecoder().decode(AgentStateJSON.self, from: Data(state.body.utf8)) else { return false }
                return view.topics.first { $0.name == "orders" }?.routeEnabled == true
            }
            #expect(reached, "agent \(agent.nodeId) never saw route.enabled=true")
        }
        print("route switch reached all 6 agents in \(ContinuousClock.now - switchedAt)")

        // SIGKILL one agent: the controller marks it down.
        let victim = try #require(status.agents.first { $0.nodeId == 3 })
        let victimPID = try #require(victim.pid)
        kill(pid_t(victimPID), SIGKILL)
        let downed = try await eventually(timeout: .seconds(20)) {
            status = try await amq.json(StatusJSON.self, ["cluster", "status"])
            return status.agents.first { $0.nodeId == 3 }?.liveness == "down"
        }
        #expect(downed, "node 3 was not marked down")
        #expect(status.agents.first { $0.nodeId == 3 }?.process == "stale")

        // Its leaders fail over to the five agents that are up, each under a new epoch, and those
        // agents take them: together they lead all 12 partitions again.
        let failedOver = try await eventually(timeout: .seconds(20), every: .milliseconds(250)) {
            let now = try await amq.json([PartitionJSON].self, ["partition", "list", "--topic", "orders"])
            return now.contains { $0.leader == 3 } ? nil : now
        }
        let moved = try #require(failedOver, "node 3's partitions never failed over")
        for (old, new) in zip(partitions, moved) {
            #expect(new.leaderEpoch == (old.leader == 3 ? old.leaderEpoch + 1 : old.leaderEpoch), "partition \(new.index)")
        }
        let survivors = status.agents.filter { $0.nodeId != 3 }
        let ledAgain = await eventually(timeout: .seconds(20), every: .milliseconds(100)) {
            var led = 0
            for agent in survivors {
                let metrics = await httpGet("http://\(agent.host):\(agent.adminPort!)/metrics").body
                let line = metrics.split(separator: "\n").first { $0.hasPrefix("amq_storage_led_partitions ") }
                led += line.flatMap { Int(Double($0.split(separator: " ").last ?? "") ?? -1) } ?? 0
            }
            return led == 12
        }
        #expect(ledAgain, "the surviving agents did not take over node 3's partitions")

        // Stop leaves no amq process of this cluster behind.
        let pids = [status.controller.pid].compactMap { $0 } + status.agents.compactMap(\.pid)
        let stopped = try await amq.ok(["cluster", "stop", "demo"])
        #expect(stopped.stdout.contains("stopped 6"))
        for pid in pids { #expect(!isAlive(pid), "pid \(pid) still runs after stop") }

        // Start brings every agent back, alive.
        try await amq.ok(["cluster", "start", "demo"])
        status = try await amq.json(StatusJSON.self, ["cluster", "status"])
        #expect(status.controller.reachable)
        #expect(status.agents.allSatisfy { $0.liveness == "alive" && $0.process == "running" })
        #expect(Set(status.agents.compactMap(\.pid)).isDisjoint(with: pids))

        let after = status.agents.compactMap(\.pid) + [status.controller.pid].compactMap { $0 }
        try await amq.ok(["cluster", "delete", "demo"])
        for pid in after { #expect(!isAlive(pid)) }
        #expect(!FileManager.default.fileExists(atPath: amq.dataDir + "/clusters/demo"))
    }

    /// A pid file whose process is gone is reported stale and replaced by `start`.
    @Test(.timeLimit(.minutes(3))) func stalePIDFilesAreDetected() async throws {
        try await AMQProcess.with(cluster: "solo") { amq in try await stalePIDFiles(amq) }
    }

    private func stalePIDFiles(_ amq: AMQProcess) async throws {
        try await amq.ok(["cluster", "create", "solo", "--local", "--zones", "a", "--agents-per-zone", "1"])
        try await amq.ok(["cluster", "stop", "solo"])
        // A pid that surely is not an amq agent: this test process's parent is not, and pid 1 is not.
        try "1\n".write(toFile: amq.dataDir + "/clusters/solo/run/agent-1.pid", atomically: true, encoding: .utf8)
        var status = try await amq.json(StatusJSON.self, ["cluster", "status", "solo"])
        #expect(status.agents.first?.process == "stale")
        try await amq.ok(["cluster", "start", "solo"])
        status = try await amq.json(StatusJSON.self, ["cluster", "status", "solo"])
        #expect(status.agents.first?.process == "running" && status.agents.first?.liveness == "alive")
        #expect(status.agents.first?.pid != 1)
    }
}
