import AMQControlPlane
import ArgumentParser
import Foundation

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "List, add, drain and remove nodes (agents).",
        discussion: "Example:\n  amq node add --zone b\n  amq node drain 4\n  amq node remove 4",
        subcommands: [NodeList.self, NodeAdd.self, NodeDrain.self, NodeActivate.self, NodeRemove.self]
    )
}

struct NodeList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the cluster's nodes with their zone, addresses, state and liveness.",
        discussion: "Example:\n  amq node list --format json"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let nodes = try await store.nodes(cluster)
        if output.format == .json { return try Output.json(nodes) }
        Output.table(
            ["node", "zone", "host", "kafka", "admin", "state", "liveness", "heartbeat"],
            nodes.map {
                [
                    String($0.id), $0.zone, $0.host, Output.optional($0.kafkaPort), Output.optional($0.adminPort),
                    $0.adminState.rawValue, $0.liveness.rawValue, Output.age($0.lastHeartbeat),
                ]
            }
        )
    }
}

struct NodeAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a node to a zone; on a running local cluster, start its agent.",
        discussion: """
            Like adding a Kafka broker, the new node takes partitions at the next 'amq cluster \
            rebalance'.

            Example:
              amq node add --zone b && amq cluster rebalance
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Zone of the new node.")
    var zone: String
    @Option(name: .long, help: "Node id (default: the next free one).")
    var id: Int?

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let info = try await store.cluster(cluster)
        let node = try await store.addNode(cluster, zone: zone, id: id)
        Output.line("Added node \(node.id) in zone \(node.zone)")
        let fleet = LocalFleet(store: store, cluster: info)
        guard info.local, case (.running, _) = fleet.process(.controller) else { return }
        try await fleet.start(databasePath: global.resolvedDBPath)
    }
}

struct NodeDrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Move every leader and replica off a node and keep it empty.",
        discussion: "Each moved leader bumps its partition's leader epoch.\n\nExample:\n  amq node drain 4"
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Node id.")
    var id: Int

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let moves = try await store.drainNode(cluster, id: id)
        Output.line("Drained node \(id): \(moves.count) partition(s) moved")
    }
}

struct NodeActivate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activate",
        abstract: "Let a drained node take partitions again (at the next rebalance).",
        discussion: "Example:\n  amq node activate 4 && amq cluster rebalance"
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Node id.")
    var id: Int

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        _ = try await store.activateNode(cluster, id: id)
        Output.line("Node \(id) is active; run 'amq cluster rebalance' to give it partitions")
    }
}

struct NodeRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a drained node (stopping its local agent).",
        discussion: "--force drains and removes in one step.\n\nExample:\n  amq node remove 4 --force"
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Node id.")
    var id: Int
    @Flag(name: .long, help: "Drain the node first if it still holds partitions.")
    var force = false

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let info = try await store.cluster(cluster)
        let node = try await store.removeNode(cluster, id: id, force: force)
        if info.local {
            var report = LocalFleet.StopReport()
            try await LocalFleet(store: store, cluster: info).stopGroup([.agent(node.id)], timeout: .seconds(10), report: &report)
        }
        Output.line("Removed node \(node.id) (zone \(node.zone))")
    }
}
