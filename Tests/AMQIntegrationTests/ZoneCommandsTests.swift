import Foundation
import Testing

/// `amq zone`, `cluster create --zone-cidrs` and the degraded-zones flag, through the CLI.
@Suite(.timeLimit(.minutes(3))) struct ZoneCommandsTests {
    struct ZoneRow: Decodable, Equatable {
        var name: String
        var cidrs: [String]
        var nodes: Int
        var aliveNodes: Int
    }

    struct PartitionRow: Decodable {
        var topic: String
        var index: Int
        var zonesWithoutReplica: [String]
    }

    @Test func zoneCIDRsRoundTrip() async throws {
        try await AMQProcess.with(cluster: nil) { amq in
            try await amq.ok(["cluster", "create", "demo", "--zones", "a,b", "--zone-cidrs", "a=10.1.0.0/16,10.2.0.0/16", "--shared-file-store"])
            #expect(
                try await amq.json([ZoneRow].self, ["zone", "list"])
                    == [
                        ZoneRow(name: "a", cidrs: ["10.1.0.0/16", "10.2.0.0/16"], nodes: 1, aliveNodes: 0),
                        ZoneRow(name: "b", cidrs: [], nodes: 1, aliveNodes: 0),
                    ]
            )
            let set = try await amq.ok(["zone", "set-cidrs", "b", "FD00:B::/48, 10.3.0.0/16"])
            #expect(set.stdout.hasPrefix("Zone b CIDRs: fd00:b::/48,10.3.0.0/16 (topology version "), "\(set.stdout)")
            let table = try await amq.ok(["zone", "list"]).stdout
            #expect(table.contains("b     0/1    fd00:b::/48,10.3.0.0/16"), "\(table)")
            let describe = try await amq.ok(["cluster", "describe"]).stdout
            #expect(describe.contains("zone a cidrs") && describe.contains("10.1.0.0/16,10.2.0.0/16"), "\(describe)")
            try await amq.ok(["zone", "set-cidrs", "a", ""])
            #expect(try await amq.json([ZoneRow].self, ["zone", "list"]).first?.cidrs == [])
            let audit = try await amq.ok(["audit"]).stdout
            #expect(audit.contains("zone.cidrs"), "\(audit)")

            // No agent runs, so no replica is live: routed topics are flagged, others are not.
            try await amq.ok(["topic", "create", "orders", "--partitions", "2", "--route-enabled"])
            try await amq.ok(["topic", "create", "plain", "--partitions", "2"])
            let partitions = try await amq.json([PartitionRow].self, ["partition", "list"])
            #expect(partitions.filter { $0.topic == "orders" }.allSatisfy { $0.zonesWithoutReplica.count == 1 })
            #expect(partitions.filter { $0.topic == "plain" }.allSatisfy { $0.zonesWithoutReplica.isEmpty })
            let listed = try await amq.ok(["partition", "list"]).stdout
            #expect(listed.contains("DEGRADED ZONES"), "\(listed)")
            let described = try await amq.ok(["topic", "describe", "orders"]).stdout
            #expect(described.contains("DEGRADED ZONES"), "\(described)")
        }
    }
}
