import AMQControlPlane
import ArgumentParser
import Foundation

struct PartitionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partition",
        abstract: "Inspect partitions: leader, leader epoch, read-only replicas by zone.",
        discussion: "Example:\n  amq partition list --topic orders",
        subcommands: [PartitionList.self]
    )
}

struct PartitionList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List partitions with their leader, leader epoch, read-only replicas by zone and zones without a live replica.",
        discussion: "Example:\n  amq partition list --topic orders --format json"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(name: .long, help: "Only this topic's partitions.")
    var topic: String?

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let snapshot = try await store.snapshot(cluster)
        let partitions = PartitionStatus.of(try await store.partitions(cluster, topic: topic), in: snapshot)
        if output.format == .json { return try Output.json(partitions) }
        let zoneOf = Dictionary(uniqueKeysWithValues: snapshot.nodes.map { ($0.id, $0.zone) })
        Output.table(
            ["topic", "partition", "leader", "zone", "epoch", "replicas", "degraded zones"],
            partitions.map {
                [
                    $0.topic, String($0.index), String($0.leader), zoneOf[$0.leader] ?? "-", String($0.leaderEpoch),
                    Output.replicas($0.replicas), Output.zones($0.zonesWithoutReplica),
                ]
            }
        )
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show the audit log: every topology change, who made it, before and after.",
        discussion: "Example:\n  amq audit --limit 20 --format json"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(name: .long, help: "Most recent entries to show.")
    var limit: Int = 50

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let entries = try await store.auditLog(cluster, limit: limit)
        if output.format == .json { return try Output.json(entries) }
        Output.table(
            ["version", "at", "actor", "action", "subject"],
            entries.map { [String($0.topologyVersion), ISO8601DateFormatter().string(from: $0.at), $0.actor, $0.action, $0.subject] }
        )
    }
}
