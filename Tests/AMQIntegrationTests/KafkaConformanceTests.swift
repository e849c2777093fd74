import AMQTestSupport
import Foundation
import Testing

/// Unmodified Kafka clients against a 3-zone local cluster whose object store is SeaweedFS's S3
/// server: kcat (librdkafka 2.0.2), kafka-python 3.0, confluent-kafka 2.x (librdkafka 2.16) and aiokafka 0.14,
/// driven by the scripts in Tests/Conformance (docs/kafka-compatibility.md). Each script checks counts, contents
/// and per-partition order itself and ends with PASS.
@Suite(.serialized, .timeLimit(.minutes(20))) struct KafkaConformanceTests {
    static let credentials = S3TestServer.credentialsEnvironment

    static var scripts: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Conformance").path
    }

    static var python: String {
        let venv = ProcessInfo.processInfo.environment["AMQ_TEST_VENV"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".venv").path
        return venv + "/bin/python"
    }

    @Test func realClientsProduceAndConsumeThroughAThreeZoneClusterOnS3() async throws {
        try await S3TestServer.with(.seaweedfs) { server in
            try await server.createBucket("kafka")
            try await AMQProcess.with(cluster: "conf") { amq in
                let url = "s3://kafka/amq?endpoint=\(server.endpoint)"
                try await amq.ok(
                    ["cluster", "create", "conf", "--local", "--zones", "a,b,c", "--agents-per-zone", "1", "--object-store", url],
                    environment: Self.credentials
                )
                let status = try await amq.json(StatusJSON.self, ["cluster", "status"])
                let bootstrap = status.agents.compactMap { agent in agent.kafkaPort.map { "\(agent.host):\($0)" } }.joined(separator: ",")
                #expect(status.agents.count == 3)

                try await amq.ok(["topic", "create", "kcat-t", "--partitions", "3", "--config", "linger.ms=5"])
                try await Self.script("kcat", "/bin/bash", [Self.scripts + "/kcat_test.sh", bootstrap, "kcat-t"])
                try await Self.script("kafka-python", Self.python, [Self.scripts + "/kafka_python_test.py", bootstrap])
                try await Self.script("confluent-kafka", Self.python, [Self.scripts + "/confluent_kafka_test.py", bootstrap])
                try await Self.script("aiokafka", Self.python, [Self.scripts + "/aiokafka_test.py", bootstrap])

                // An idempotent producer across a SIGKILL and restart of the partition's agent.
                try await amq.ok(["topic", "create", "idem", "--partitions", "1", "--config", "linger.ms=5"])
                let partitions = try await amq.json([PartitionJSON].self, ["partition", "list", "--topic", "idem"])
                let leader = try #require(status.agents.first { $0.nodeId == partitions.first?.leader })
                let pid = try #require(leader.pid)
                let start = "AMQ_DATA_DIR='\(amq.dataDir)' '\(AMQProcess.binary)' cluster start conf"
                try await Self.script(
                    "idempotent restart", Self.python,
                    [Self.scripts + "/idempotent_restart_test.py", bootstrap, "idem", "kill -9 \(pid)", start],
                    environment: Self.credentials
                )
                // The group kcat committed before the restart resumes from its offsets: nothing new.
                let resumed = try await ExternalProcess.run(
                    "/usr/bin/env",
                    ["kcat", "-b", bootstrap, "-G", "g-kcat-t", "-X", "auto.offset.reset=earliest", "-e", "-q", "-f", "%p:%o\n", "kcat-t"],
                    deadline: .seconds(120)
                )
                #expect(resumed.code == 0 && resumed.stdout.isEmpty, "kcat group after restart: \(resumed.stdout.prefix(500)) \(resumed.stderr.suffix(2000))")

                // The same with the agent left dead: the controller marks it down and fails the
                // partition over to another agent under a new epoch; the producer follows it there.
                try await amq.ok(["topic", "create", "failover", "--partitions", "1", "--config", "linger.ms=5"])
                let placed = try #require(try await amq.json([PartitionJSON].self, ["partition", "list", "--topic", "failover"]).first)
                let running = try await amq.json(StatusJSON.self, ["cluster", "status"])
                let victim = try #require(running.agents.first { $0.nodeId == placed.leader })
                let victimPID = try #require(victim.pid)
                try await Self.script(
                    "idempotent failover", Self.python,
                    [Self.scripts + "/idempotent_restart_test.py", bootstrap, "failover", "kill -9 \(victimPID)", "true"]
                )
                let moved = try #require(try await amq.json([PartitionJSON].self, ["partition", "list", "--topic", "failover"]).first)
                #expect(moved.leader != victim.nodeId && moved.leaderEpoch == placed.leaderEpoch + 1)

                // Zone routing: a producer tagged with a zone the leader is not in goes through
                // that zone's read-only replica, which proxies to the leader. Exactly once still
                // holds when the proxy is killed and started again (its clients fall back to the
                // leader while it is down, and come back)...
                let alive = try await amq.json(StatusJSON.self, ["cluster", "status"])
                let up = alive.agents.filter { $0.liveness == "alive" }
                let zones = Dictionary(up.map { ($0.nodeId, $0.zone) }, uniquingKeysWith: { first, _ in first })
                try await amq.ok(["topic", "create", "routed", "--partitions", "1", "--config", "linger.ms=5"])
                try await amq.ok(["topic", "route-enable", "routed"])
                let routedPartitions = try await amq.json([PartitionJSON].self, ["partition", "list", "--topic", "routed"])
                let routed = try #require(routedPartitions.first)
                let otherZones = Set(zones.values).subtracting([zones[routed.leader] ?? ""])
                let proxyZone = try #require(otherZones.sorted().first)
                let proxy = try #require(up.first { $0.zone == proxyZone && $0.nodeId != routed.leader })
                let proxyPID = try #require(proxy.pid)
                try await Self.script(
                    "idempotent through a restarted proxy", Self.python,
                    [Self.scripts + "/idempotent_restart_test.py", bootstrap, "routed", "kill -9 \(proxyPID)", start, "amq_az=\(proxyZone)"],
                    environment: Self.credentials
                )
                // ...and when the leader behind the proxy dies and the partition fails over.
                try await amq.ok(["topic", "create", "routed-failover", "--partitions", "1", "--config", "linger.ms=5"])
                try await amq.ok(["topic", "route-enable", "routed-failover"])
                let current = try await amq.json(StatusJSON.self, ["cluster", "status"])
                let targets = try await amq.json([PartitionJSON].self, ["partition", "list", "--topic", "routed-failover"])
                let target = try #require(targets.first)
                let leaderAgent = try #require(current.agents.first { $0.nodeId == target.leader })
                let liveZones = Set(current.agents.filter { $0.liveness == "alive" }.map(\.zone))
                let clientZone = try #require(liveZones.subtracting([leaderAgent.zone]).sorted().first)
                let leaderPID = try #require(leaderAgent.pid)
                try await Self.script(
                    "idempotent through a proxy across a failover", Self.python,
                    [Self.scripts + "/idempotent_restart_test.py", bootstrap, "routed-failover", "kill -9 \(leaderPID)", "true", "amq_az=\(clientZone)"]
                )
            }
        }
    }

    /// Runs one conformance script; it must exit 0 having printed PASS.
    static func script(
        _ name: String, _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let result = try await ExternalProcess.run(executable, arguments, environment: environment, deadline: .seconds(300))
        #expect(
            result.code == 0 && result.stdout.contains("PASS"),
            "\(name) conformance failed (exit \(result.code)):\n\(result.stdout.suffix(4000))\n\(result.stderr.suffix(4000))",
            sourceLocation: sourceLocation
        )
    }
}
