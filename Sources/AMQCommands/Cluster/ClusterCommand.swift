import AMQObjectStore
import Logging
import AMQControlPlane
import AMQSecurity
import AMQTraffic
import ArgumentParser
import Foundation

struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Create, inspect, start, stop and delete clusters.",
        discussion: """
            A cluster is a set of zones, nodes (agents) and topics kept in the topology database. \
            With --local, amq runs its controller and agents on this machine as background processes.

            Example:
              amq cluster create demo --local --zones a,b,c --agents-per-zone 2
            """,
        subcommands: [
            ClusterCreate.self, ClusterList.self, ClusterStatus.self, ClusterDescribe.self, ClusterStart.self,
            ClusterStop.self, ClusterDelete.self, ClusterRebalance.self, ClusterSet.self,
        ]
    )
}

struct ClusterCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a cluster's topology, and with --local start it on this machine.",
        discussion: """
            Writes the zones and nodes to the topology database, generates the cluster secret (a \
            mode-0600 file in the cluster's directory) and checks the object store. With --local it \
            then starts the controller and one agent per node as background processes and returns \
            once all are ready.

            Example:
              amq cluster create demo --local --zones a,b,c --agents-per-zone 2
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Cluster name (letters, digits, '.', '_', '-').")
    var name: String

    @Option(name: .long, help: ArgumentHelp("Comma-separated availability zones.", valueName: "zones"))
    var zones: String = "a,b,c"

    @Option(name: .long, help: "Agents (nodes) per zone.")
    var agentsPerZone: Int = 1

    @Option(
        name: .customLong("zone-cidrs"),
        help: ArgumentHelp("A zone's client CIDR blocks, zone=cidr[,cidr…] (repeatable).", valueName: "zone=cidrs")
    )
    var zoneCIDRs: [String] = []

    @Option(name: .long, help: ArgumentHelp("Object store URL, an empty prefix of its own (default: file://CLUSTER_DIR/objects, with --local or --shared-file-store).", valueName: "url"))
    var objectStore: String?

    @Option(name: .long, help: ArgumentHelp("Cluster setting key=value (repeatable).", valueName: "key=value"))
    var setting: [String] = []

    @Flag(name: .long, help: "Start the controller and agents on this machine.")
    var local = false

    @Flag(
        name: .long,
        help: "Allow a file:// object store without --local: every agent sees the same directory (one machine, or a shared filesystem)."
    )
    var sharedFileStore = false

    @Flag(name: .long, help: "With --local: generate a throwaway CA and certificate; Kafka listeners use SSL, agents and controller mutual TLS.")
    var tls = false

    @Flag(name: .long, help: "Kafka clients authenticate with SASL (PLAIN, SCRAM-SHA-256/512); creates the super user admin, its password in a 0600 file.")
    var sasl = false

    func validate() throws {
        guard (0...64).contains(agentsPerZone) else {
            throw ValidationError("--agents-per-zone must be between 0 and 64")
        }
        if zoneList.isEmpty { throw ValidationError("--zones needs at least one zone, like --zones a,b,c") }
        if tls && !local {
            throw ValidationError("--tls generates a throwaway CA for a --local cluster; for a fleet, give each daemon --tls-cert, --tls-key and --tls-ca (docs/security.md)")
        }
    }

    var zoneList: [String] {
        zones.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// `--zone-cidrs a=10.1.0.0/16,10.2.0.0/16`, each zone once; the store checks the zones and overlaps.
    func parsedZoneCIDRs() throws -> [String: [CIDRBlock]] {
        var result: [String: [CIDRBlock]] = [:]
        for text in zoneCIDRs {
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw ControlPlaneError(
                    .invalidArgument,
                    "--zone-cidrs \"\(text)\" is not zone=cidrs; write it like --zone-cidrs a=10.1.0.0/16,10.2.0.0/16"
                )
            }
            let zone = text[..<equals].trimmingCharacters(in: .whitespaces)
            guard result[zone] == nil else {
                throw ControlPlaneError(
                    .invalidArgument,
                    "--zone-cidrs names zone \"\(zone)\" twice; give all its blocks in one, like --zone-cidrs \(zone)=10.1.0.0/16,10.2.0.0/16"
                )
            }
            result[zone] = try CIDRBlock.list(String(text[text.index(after: equals)...]))
        }
        return result
    }

    func run() async throws {
        guard try await createAndStart() else { return }
        Output.line("Cluster \(name) is up. Next: amq topic create orders --partitions 12; amq cluster status")
    }

    /// Everything `run` does but the closing line, for `amq quickstart`; true when a local fleet
    /// was started.
    func createAndStart() async throws -> Bool {
        let directory = FleetLayout.clusterDirectory(dataDir: global.resolvedDataDir, cluster: name)
        try Validation.name(name, what: "cluster name")
        let layout = FleetLayout(directory: directory)
        let objectStoreURL = objectStore ?? "file://\(layout.objectsDirectory)"
        var location = try ObjectStoreURL(objectStoreURL)
        if case .s3(var configuration) = location {
            // Fail fast on a wrong endpoint instead of retrying as an agent would.
            configuration.maxAttempts = 2
            configuration.requestTimeout = .seconds(5)
            location = .s3(configuration)
        }
        let zoneCIDRMap = try parsedZoneCIDRs()
        try TopologyStore.validateZoneCIDRs(zoneCIDRMap, zones: zoneList)
        var settings = ClusterSettings()
        for text in setting {
            let (key, value) = try TopicConfig.parseAssignment(text, kind: "setting", example: "--setting missed.heartbeats.before.down=5")
            try settings.set(key, value)
        }
        let store = try global.openStore()
        // Refuse a taken name before touching the directory, so an existing cluster's secret survives.
        if try await store.listClusters().contains(where: { $0.name == name }) {
            throw ControlPlaneError(
                .clusterExists,
                "cluster \"\(name)\" already exists; pick another name or delete it with 'amq cluster delete \(name)'"
            )
        }
        // Agents on other machines would each write a directory of their own and never see one
        // another's objects (issue 11, finding 5).
        switch location {
        case .local where !local && !sharedFileStore:
            throw ControlPlaneError(
                .invalidArgument,
                "a file:// object store only works when every agent sees the same directory: add --local to run them all here, "
                    + "give --object-store s3://bucket/prefix, or add --shared-file-store if the directory is shared"
            )
        case .memory where !local:
            throw ControlPlaneError(.invalidArgument, "a memory:// object store lives in one process; give --object-store s3://bucket/prefix")
        default: break
        }
        // Before anything is written: a cluster on a store it cannot use would only fail later.
        do {
            let objects = try location.makeStore(logger: Logger(label: "amq.cli"))
            try await objects.checkUsable()
            // Garbage collection deletes what its index does not know under the cluster's
            // prefix: never share one with another cluster's (or an old one's) data.
            let present = try await objects.list(prefix: "", continuation: nil, limit: 10).objects.map(\.key).filter { !$0.hasPrefix("amq-probe/") }
            if let key = present.first {
                throw ControlPlaneError(
                    .invalidArgument,
                    "object store \(objectStoreURL) already holds objects (like \(key)), another cluster's or an old one's; "
                        + "give every cluster an empty prefix of its own, like s3://bucket/\(name)"
                )
            }
        } catch let error as ObjectStoreError {
            throw ControlPlaneError(
                error.code == .invalidConfiguration ? .invalidArgument : .conflict,
                "object store \(objectStoreURL) is not usable: \(error.message); fix it or pick another --object-store",
                underlying: error
            )
        }
        let info = try await store.createCluster(
            .init(
                name: name, zones: zoneList, agentsPerZone: agentsPerZone, objectStoreURL: objectStoreURL,
                dataDir: directory, local: local, settings: settings, zoneCIDRs: zoneCIDRMap
            )
        )
        do {
            try ClusterSecret.generate().write(to: layout.secretFile)
            if tls || sasl {
                let hosts = Array(Set(try await store.nodes(name).map(\.host)))
                let security = try await LocalSecurity.create(tls: tls, sasl: sasl, layout: layout, cluster: name, hosts: hosts, store: store)
                Output.progress(
                    "Kafka listeners: \(security.kafkaProtocol.rawValue)" + (security.tls.map { "; CA \($0.caFile)" } ?? "")
                        + (security.adminPasswordFile.map { "; super user admin, password in \($0)" } ?? "")
                )
            }
        } catch {
            try? await store.deleteCluster(name)
            throw error
        }
        Output.progress("Created cluster \(name): zones \(zoneList.joined(separator: ",")), \(agentsPerZone * zoneList.count) nodes, objects in \(objectStoreURL)")
        guard local else {
            printFleetInstructions(info, layout: layout)
            return false
        }
        Output.progress("Starting the local fleet…")
        let fleet = LocalFleet(store: store, cluster: info)
        do {
            try await fleet.start(databasePath: global.resolvedDBPath)
        } catch {
            _ = try? await fleet.stop(timeout: .seconds(5))
            throw FleetError("\(error); the topology is kept: fix the cause, then run 'amq cluster start \(name)'")
        }
        return true
    }

    private func printFleetInstructions(_ info: ClusterInfo, layout: FleetLayout) {
        Output.line(
            """
            Cluster \(info.name) created (topology only). Run its processes where they belong:
              amq controller run --db \(global.resolvedDBPath) --cluster \(info.name) --listen 0.0.0.0:7070 --secret-file \(layout.secretFile)
              amq agent run --controller http://CONTROLLER:7070 --zone ZONE --node-id N --secret-file \(layout.secretFile)
            manifests/ holds systemd units and Kubernetes manifests that do the same.
            """
        )
    }
}

struct ClusterList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the clusters in the topology database.",
        discussion: "Example:\n  amq cluster list --format json"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let clusters = try await global.openStore().listClusters()
        if output.format == .json { return try Output.json(clusters) }
        Output.table(
            ["name", "zones", "nodes", "topics", "version", "mode", "controller"],
            clusters.map {
                [
                    $0.name, $0.zones.joined(separator: ","), String($0.nodes), String($0.topics), String($0.topologyVersion),
                    $0.local ? "local" : "fleet", $0.controllerURL ?? "-",
                ]
            }
        )
    }
}

struct ClusterDescribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show a cluster's settings, zones, object store and counts.",
        discussion: "The cluster secret is never shown, only the file that holds it.\n\nExample:\n  amq cluster describe demo"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Cluster name (default: --cluster, $AMQ_CLUSTER, else the only cluster).")
    var name: String?

    struct Description: Codable {
        var cluster: ClusterInfo
        var secretFile: String
        var nodes: Int
        var topics: Int
        var partitions: Int
        var routedTopics: Int
    }

    func run() async throws {
        let store = try global.openStore()
        let clusterName = try await store.resolveCluster(name ?? global.cluster ?? global.environment["AMQ_CLUSTER"])
        let snapshot = try await store.snapshot(clusterName)
        let info = try await store.cluster(clusterName)
        let description = Description(
            cluster: info, secretFile: FleetLayout(directory: info.dataDir).secretFile, nodes: snapshot.nodes.count,
            topics: snapshot.topics.count, partitions: snapshot.partitions.count,
            routedTopics: snapshot.topics.filter(\.config.routeEnabled).count
        )
        if output.format == .json { return try Output.json(description) }
        let settings = info.settings
        Output.table(
            ["field", "value"],
            [
                ["name", info.name], ["uid", info.uid], ["mode", info.local ? "local" : "fleet"], ["object store", info.objectStoreURL],
                ["data dir", info.dataDir], ["secret file", description.secretFile],
                ["zones", info.zones.map(\.name).joined(separator: ",")],
            ] + zoneRows(info) + [
                ["nodes", String(description.nodes)],
                ["topics", "\(description.topics) (\(description.routedTopics) routed)"],
                ["partitions", String(description.partitions)], ["topology version", String(info.topologyVersion)],
                ["controller", info.controllerURL ?? "not running"],
            ] + ClusterSettings.keys.map { [$0, settings.value(of: $0) ?? ""] } + [
                ["created", ISO8601DateFormatter().string(from: info.createdAt)],
            ]
        )
    }
}

/// One `zone NAME cidrs` row per zone for `cluster describe`.
private func zoneRows(_ info: ClusterInfo) -> [[String]] {
    info.zones.map { zone in ["zone \(zone.name) cidrs", zone.cidrs.isEmpty ? "-" : zone.cidrs.joined(separator: ",")] }
}

struct ClusterSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change cluster settings.",
        discussion: """
            Settings: heartbeat.interval.ms, missed.heartbeats.before.down, stopped.failover.ms (how \
            long a cleanly stopped node may stay away before its partitions fail over), auto.create.topics.enable, \
            default.partitions, fetch.max.bytes (the most one fetch response carries, at least one \
            batch), max.connections (Kafka connections per agent; more are closed at accept), \
            connections.max.idle.ms (a connection with no request that long is closed). Agents pick \
            changes up with the next topology version.

            Traffic report (docs/traffic.md): price.inter-zone-gb, price.s3-put, price.s3-get, \
            price.s3-list, price.s3-delete (dollars, 0 or more); kafka.zones, \
            kafka.replication-factor, kafka.follower-fetch-fraction (the Kafka cluster compared \
            with); traffic.minute-bucket-hours, traffic.retention-days (history kept).

            Example:
              amq cluster set missed.heartbeats.before.down=5
              amq cluster set price.inter-zone-gb=0.01 kafka.follower-fetch-fraction=1
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Settings to change.", valueName: "key=value"))
    var settings: [String]

    func validate() throws {
        if settings.isEmpty { throw ValidationError("name at least one key=value setting") }
    }

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let assignments = try settings.map { text throws(ControlPlaneError) in
            try TopicConfig.parseAssignment(text, kind: "setting", example: "missed.heartbeats.before.down=5 (the cluster is --cluster NAME)")
        }
        try await store.updateSettings(cluster, assignments)
        Output.line("Updated \(assignments.count) setting(s) of cluster \(cluster)")
    }
}

struct ClusterRebalance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebalance",
        abstract: "Re-place partitions evenly over the active nodes, moving as few as possible.",
        discussion: """
            Leaders are spread so that leaders per node differ by at most one within each topic; every \
            partition gets a read-only replica in each other zone. Each leader move bumps that \
            partition's leader epoch. --dry-run shows the moves without making them.

            Example:
              amq cluster rebalance --dry-run
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Flag(name: .long, help: "Show the moves without making them.")
    var dryRun = false

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let result = try await store.rebalance(cluster, dryRun: dryRun)
        if output.format == .json { return try Output.json(result) }
        let verb = dryRun ? "would move" : "moved"
        Output.line("Rebalance \(verb) \(result.leaderMoves) leader(s) and changed replicas of \(result.replicaMoves) more partition(s)")
        if !result.moves.isEmpty {
            Output.table(
                ["topic", "partition", "leader", "epoch", "replicas"],
                result.moves.map {
                    [
                        $0.topic, String($0.index), "\(Output.optional($0.fromLeader)) -> \($0.toLeader)", String($0.leaderEpoch),
                        "\(Output.replicas($0.fromReplicas)) -> \(Output.replicas($0.toReplicas))",
                    ]
                }
            )
        }
    }
}
