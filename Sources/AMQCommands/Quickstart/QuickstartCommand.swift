import AMQControlPlane
import AMQKafkaClient
import AMQKafkaProtocol
import AMQTraffic
import ArgumentParser
import Foundation
import Logging

struct QuickstartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quickstart",
        abstract: "Run a local 3-zone cluster, produce and consume 100 records through Kafka, and show what happened.",
        discussion: """
            Creates the local cluster "quickstart" (3 zones, 1 agent each, SQLite, a local object \
            store directory, agents as background processes), or reuses it if it exists (delete it \
            with 'amq cluster delete quickstart' to start afresh). Then creates the topic \
            "quickstart-events" with 3 partitions, produces 100 records through the Kafka protocol, \
            consumes them back in the group "quickstart-group", and prints the agents, the records \
            per partition, the time taken, the bytes that stayed in and crossed zones (zone routing \
            is on for the topic; the client says it is in zone a), where the data lives and what to \
            try next. The cluster is stopped at the end unless --keep-running.

            Example:
              amq quickstart --keep-running
            """
    )

    static let cluster = "quickstart"
    static let topic = "quickstart-events"
    static let group = "quickstart-group"
    static let partitions = 3
    static let records = 100
    static let clientZone = "a"

    @Option(name: .long, help: ArgumentHelp("Data directory (default: $AMQ_DATA_DIR, else ~/.amq).", valueName: "dir"))
    var dataDir: String?

    @Flag(name: .long, help: "Leave the cluster running afterwards.")
    var keepRunning = false

    func run() async throws {
        let started = ContinuousClock.now
        let startedAt = Date()
        let directoryArguments = dataDir.map { ["--data-dir", $0] } ?? []
        let global = try GlobalOptions.parse(directoryArguments)
        let store = try global.openStore()
        try await startCluster(store, arguments: directoryArguments, databasePath: global.resolvedDBPath)
        let info = try await store.cluster(Self.cluster)
        let outcome: Outcome
        do {
            if try await !store.topics(Self.cluster).contains(where: { $0.name == Self.topic }) {
                var config = TopicConfig()
                config.routeEnabled = true
                _ = try await store.createTopic(Self.cluster, name: Self.topic, partitions: Self.partitions, config: config)
                Output.progress("Created topic \(Self.topic) with \(Self.partitions) partitions, zone routing on")
            } else {
                _ = try await store.setRoute(Self.cluster, topic: Self.topic, enabled: true)
            }
            var configuration = KafkaClientConfiguration(bootstrap: try await KafkaOptions.agentAddresses(store: store, cluster: Self.cluster))
            // The client says it is in zone a, so zone routing serves it from zone a's agent.
            configuration.clientID = "amq_az=\(Self.clientZone)"
            configuration.softwareVersion = AMQVersion.current
            // Agents learn of a new topic with the next topology version; give them time.
            configuration.attempts = 10
            outcome = try await KafkaClient.withClient(configuration, logger: Logger(label: "amq.quickstart")) { try await Self.exercise($0) }
        } catch var error as KafkaClientError {
            if !keepRunning { try await stop(store, info) }
            error.message += "; the agents' logs are in \(FleetLayout(directory: info.dataDir).logsDirectory)"
            throw error
        } catch {
            if !keepRunning { try await stop(store, info) }
            throw error
        }
        let nodes = try await store.nodes(Self.cluster)
        let elapsed = ContinuousClock.now - started
        // Stopped first, the agents ship their last counts and the window's figures are final; a
        // running cluster's last minute keeps filling (buckets are minutes).
        if !keepRunning { try await stop(store, info) }
        let traffic = try await trafficReport(store, since: startedAt)
        let categories = try await store.trafficReport(
            Self.cluster, TrafficQuery(since: traffic.window.since, until: traffic.window.until, by: .category)
        )
        summarize(outcome, nodes: nodes, info: info, global: global, elapsed: elapsed)
        Output.line()
        for line in TrafficRendering.summary(traffic, categories: categories) { Output.line(line) }
        let prefix = (dataDir.map { "AMQ_DATA_DIR=\($0.shellQuoted) " } ?? "") + ProcessControl.commandName.shellQuoted
        Output.line(
            "  The same window: \(prefix) traffic report --since \(Int64(traffic.window.since.timeIntervalSince1970)) --until \(Int64(traffic.window.until.timeIntervalSince1970.rounded(.up)))"
        )
        if keepRunning { Output.line("  (the cluster runs on, so the window's last minute keeps counting its heartbeats)") }
    }

    /// The traffic of the minutes this run took (buckets are minutes), once every agent has
    /// shipped its counts through the end (a heartbeat or two).
    private func trafficReport(_ store: TopologyStore, since: Date) async throws -> TrafficReport {
        let start = Date(timeIntervalSince1970: Double(TrafficTally.minute(of: since)))
        return try await TrafficWindowOptions.report(store, Self.cluster, TrafficQuery(since: start, until: Date()), wait: .seconds(10))
    }

    /// Creates the cluster with `amq cluster create --local`, or starts the existing one.
    private func startCluster(_ store: TopologyStore, arguments: [String], databasePath: String) async throws {
        if try await store.listClusters().contains(where: { $0.name == Self.cluster }) {
            let info = try await store.cluster(Self.cluster)
            guard info.local else {
                throw FleetError("cluster \"\(Self.cluster)\" exists and is not local; delete it with 'amq cluster delete \(Self.cluster)' or use another --data-dir")
            }
            Output.progress("Reusing cluster \(Self.cluster) (for a fresh one: amq cluster delete \(Self.cluster))")
            try await LocalFleet(store: store, cluster: info).start(databasePath: databasePath)
        } else {
            _ = try await ClusterCreate.parse(arguments + [Self.cluster, "--local", "--zones", "a,b,c", "--agents-per-zone", "1"]).createAndStart()
        }
    }

    private func stop(_ store: TopologyStore, _ info: ClusterInfo) async throws {
        _ = try await LocalFleet(store: store, cluster: info).stop(timeout: .seconds(10))
        Output.progress("Stopped cluster \(Self.cluster) (bring it back with 'amq cluster start \(Self.cluster)'; --keep-running leaves it up)")
    }

    struct Outcome: Sendable {
        var produced: [Int32: Int] = [:]
        var consumed: [Int32: Int] = [:]
        var offsets: [Int32: ClosedRange<Int64>] = [:]
        var generation = KafkaSentinel.noGeneration
    }

    /// Produces the records (keyed, so Kafka's partitioner spreads them) and reads them back in
    /// the group, from its committed offsets (earliest on the first run) to the end.
    static func exercise(_ client: KafkaClient) async throws -> Outcome {
        let metadata = try await client.topic(topic)
        var batches: [Int32: [Record]] = [:]
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for index in 0..<records {
            let key = Array("user-\(index % 20)".utf8)
            let value = Array("{\"event\":\(index),\"kind\":\"\(["click", "view", "purchase"][index % 3])\"}".utf8)
            batches[Murmur2.partition(forKey: key, partitions: metadata.partitions.count), default: []]
                .append(Record(key: key, value: value, timestamp: now + Int64(index)))
        }
        var outcome = Outcome()
        for produced in try await client.produce(topic: topic, records: batches, acks: .all) {
            outcome.produced[produced.partition, default: 0] += produced.count
            outcome.offsets[produced.partition] = produced.baseOffset...(produced.baseOffset + Int64(produced.count) - 1)
        }
        Output.progress("Produced \(records) records to \(topic)")
        let partitions = metadata.partitions.map(\.index)
        let ends = try await client.listOffsets(topic: topic, partitions: partitions, spec: .latest)
        var member = ConsumerGroupMember(client: client, group: group, topic: topic)
        _ = try await member.join()
        outcome.generation = member.generation
        var offsets = try await member.committed()
        let missing = member.assignment.filter { offsets[$0] == nil }
        if !missing.isEmpty { offsets.merge(try await client.listOffsets(topic: topic, partitions: missing, spec: .earliest)) { old, _ in old } }
        let deadline = ContinuousClock.now + .seconds(60)
        while offsets.contains(where: { $0.value < ends[$0.key] ?? 0 }) {
            guard ContinuousClock.now < deadline else {
                throw KafkaClientError(.timeout, "consuming \(topic) did not reach the end within 60s; see the agents' logs")
            }
            let round = try await client.fetch(topic: topic, offsets: offsets.filter { $0.value < ends[$0.key] ?? 0 }, maxWait: .milliseconds(500))
            for record in round.records { outcome.consumed[record.partition, default: 0] += 1 }
            offsets.merge(round.nextOffsets) { max($0, $1) }
            try await member.commit(offsets)
            _ = try await member.heartbeatIfDue()
        }
        try await member.commitAndLeave(offsets)
        return outcome
    }

    private func summarize(_ outcome: Outcome, nodes: [NodeInfo], info: ClusterInfo, global: GlobalOptions, elapsed: Duration) {
        let layout = FleetLayout(directory: info.dataDir)
        let bootstrap = nodes.compactMap { node in node.kafkaPort.map { "\(node.host):\($0)" } }.joined(separator: ",")
        Output.line("amq quickstart: cluster \(Self.cluster), \(nodes.count) agents in \(Set(nodes.map(\.zone)).count) zones")
        Output.line()
        Output.table(
            ["agent", "zone", "kafka", "admin"],
            nodes.map { node in
                [String(node.id), node.zone, node.kafkaPort.map { "\(node.host):\($0)" } ?? "-", node.adminPort.map { "\(node.host):\($0)" } ?? "-"]
            }
        )
        Output.line()
        var rows: [[String]] = []
        for partition in Set(outcome.produced.keys).union(outcome.consumed.keys).sorted() {
            let range: String = outcome.offsets[partition].map { "\($0.lowerBound)-\($0.upperBound)" } ?? "-"
            rows.append([String(partition), String(outcome.produced[partition] ?? 0), range, String(outcome.consumed[partition] ?? 0)])
        }
        Output.table(["partition", "produced", "offsets", "consumed"], rows)
        let consumed = outcome.consumed.values.reduce(0, +)
        let seconds = String(format: "%.1f", Double(elapsed.inMilliseconds) / 1000)
        Output.line()
        Output.line("\(Self.records) records produced to \(Self.topic) and \(consumed) consumed by group \(Self.group) (generation \(outcome.generation)) in \(seconds)s")
        Output.line("Data: topology \(global.resolvedDBPath), objects \(layout.objectsDirectory), logs \(layout.logsDirectory)")
        let prefix = (dataDir.map { "AMQ_DATA_DIR=\($0.shellQuoted) " } ?? "") + ProcessControl.commandName.shellQuoted
        Output.line()
        Output.line("Try next:")
        if !keepRunning { Output.line("  \(prefix) cluster start \(Self.cluster)") }
        Output.line("  kcat -b \(bootstrap) -L")
        Output.line("  kcat -b \(bootstrap) -t \(Self.topic) -C -e -f '%p:%o %k=%s\\n'")
        Output.line("  \(prefix) consume \(Self.topic) --from-beginning --count 10 --print-keys")
        Output.line("  \(prefix) group describe \(Self.group)")
        Output.line("  \(prefix) cluster stop \(Self.cluster)")
        if !keepRunning { Output.line("(a restarted agent takes its old ports back when they are free; 'amq cluster status' shows the current ones)") }
    }
}
