import AMQControlPlane
import ArgumentParser
import Foundation

struct ZoneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zone",
        abstract: "Inspect zones and set the client CIDR blocks that place a client in a zone.",
        discussion: "Example:\n  amq zone set-cidrs a 10.1.0.0/16,10.2.0.0/16\n  amq zone list",
        subcommands: [ZoneList.self, ZoneSetCIDRs.self]
    )
}

struct ZoneList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List zones with their client CIDR blocks and nodes (alive/total).",
        discussion: "Example:\n  amq zone list --format json"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    struct Row: Codable {
        var name: String
        var cidrs: [String]
        var nodes: Int
        var aliveNodes: Int
    }

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let snapshot = try await store.snapshot(cluster)
        let rows = snapshot.zones.map { zone in
            let nodes = snapshot.nodes.filter { $0.zone == zone.name }
            return Row(name: zone.name, cidrs: zone.cidrs, nodes: nodes.count, aliveNodes: nodes.filter { $0.liveness == .alive }.count)
        }
        if output.format == .json { return try Output.json(rows) }
        Output.table(
            ["zone", "nodes", "cidrs"],
            rows.map { [$0.name, "\($0.aliveNodes)/\($0.nodes)", $0.cidrs.isEmpty ? "-" : $0.cidrs.joined(separator: ",")] }
        )
    }
}

struct ZoneSetCIDRs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-cidrs",
        abstract: "Replace a zone's client CIDR blocks ('' clears them).",
        discussion: """
            Clients whose address lies in a zone's blocks are served from that zone. Blocks may not \
            overlap, within the list or with another zone's. Agents get the change with the next \
            topology version.

            Example:
              amq zone set-cidrs a 10.1.0.0/16,fd00:a::/48
              amq zone set-cidrs a ''
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Zone name.")
    var zone: String
    @Argument(help: ArgumentHelp("Comma-separated CIDR blocks, or '' for none.", valueName: "cidrs"))
    var cidrs: String

    func run() async throws {
        let blocks = try CIDRBlock.list(cidrs)
        let (store, cluster) = try await global.openCluster()
        let updated = try await store.setZoneCIDRs(cluster, zone: zone, cidrs: blocks)
        let version = try await store.topologyVersion(cluster)
        let list = updated.cidrs.isEmpty ? "none" : updated.cidrs.joined(separator: ",")
        Output.line("Zone \(updated.name) CIDRs: \(list) (topology version \(version))")
    }
}
