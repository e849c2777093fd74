import AMQControlPlane
import Foundation
import Testing

/// Zone CIDRs in the store, and replica failover (docs/architecture.md).
@Suite struct ZoneStoreTests {
    @Test func setCIDRsStoresCanonicalBlocksBumpsTheVersionAndAudits() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        let version = try await store.topologyVersion("demo")
        let zone = try await store.setZoneCIDRs("demo", zone: "a", cidrs: CIDRBlock.list("10.1.0.0/16, FD00:A::/32"))
        #expect(zone == ZoneInfo(name: "a", cidrs: ["10.1.0.0/16", "fd00:a::/32"]))
        let snapshot = try await store.snapshot("demo")
        #expect(snapshot.version == version + 1)
        #expect(snapshot.zones.first { $0.name == "a" }?.cidrs == ["10.1.0.0/16", "fd00:a::/32"])
        #expect(ZoneCIDRMap(snapshot.zones).zone(of: "::ffff:10.1.9.9") == "a")
        let audit = try #require(try await store.auditLog("demo", limit: 1).first)
        #expect(audit.action == "zone.cidrs" && audit.subject == "a" && audit.topologyVersion == version + 1)
        // Clearing is a change too.
        _ = try await store.setZoneCIDRs("demo", zone: "a", cidrs: [])
        #expect(try await store.snapshot("demo").zones.first { $0.name == "a" }?.cidrs == [])
    }

    @Test func badCIDRsAreRefusedAndChangeNothing() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        try await store.setZoneCIDRs("demo", zone: "b", cidrs: CIDRBlock.list("10.2.0.0/16"))
        let before = try await store.snapshot("demo")
        await expectCode(.zoneNotFound) { try await store.setZoneCIDRs("demo", zone: "z", cidrs: []) }
        await expectCode(.invalidArgument) { try await store.setZoneCIDRs("demo", zone: "a", cidrs: CIDRBlock.list("10.2.5.0/24")) }
        await expectCode(.invalidArgument) { try await store.setZoneCIDRs("demo", zone: "a", cidrs: CIDRBlock.list("10.0.0.0/8")) }
        await expectCode(.invalidArgument) {
            try await store.setZoneCIDRs("demo", zone: "a", cidrs: CIDRBlock.list("10.1.0.0/16,10.1.2.0/24"))
        }
        #expect(try await store.snapshot("demo") == before)
        // Setting b again to blocks that only overlap its own old ones is fine.
        try await store.setZoneCIDRs("demo", zone: "b", cidrs: CIDRBlock.list("10.2.0.0/15"))
    }

    @Test func clusterCreateTakesZoneCIDRsAndValidatesThemFirst() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        func spec(_ name: String, _ cidrs: [String: String]) throws -> TopologyStore.ClusterSpec {
            .init(
                name: name, zones: ["a", "b"], agentsPerZone: 1, objectStoreURL: "file:///tmp/x", dataDir: "/tmp/x", local: true,
                zoneCIDRs: try cidrs.mapValues { try CIDRBlock.list($0) }
            )
        }
        let info = try await store.createCluster(try spec("two", ["a": "10.1.0.0/16,10.2.0.0/16", "b": "10.3.0.0/16"]))
        #expect(info.zones == [ZoneInfo(name: "a", cidrs: ["10.1.0.0/16", "10.2.0.0/16"]), ZoneInfo(name: "b", cidrs: ["10.3.0.0/16"])])
        await expectCode(.invalidArgument) { try await store.createCluster(try spec("three", ["c": "10.4.0.0/16"])) }
        await expectCode(.invalidArgument) { try await store.createCluster(try spec("three", ["a": "10.1.0.0/16", "b": "10.1.1.0/24"])) }
        #expect(try await store.listClusters().map(\.name) == ["demo", "two"])
    }

    private func registerAll(_ store: TopologyStore) async throws {
        for node in try await store.nodes("demo") {
            _ = try await store.register(
                "demo",
                .init(nodeID: node.id, name: nil, zone: node.zone, host: "127.0.0.1", kafkaPort: 9000 + node.id, rpcPort: nil, adminPort: 9100 + node.id, pid: 100 + node.id)
            )
        }
    }

    /// Marks `down` down and keeps every other node alive.
    private func markDown(_ store: TopologyStore, _ down: Set<Int>) async throws {
        let cutoff = Date()
        for node in try await store.nodes("demo") where !down.contains(node.id) {
            _ = try await store.heartbeat("demo", nodeID: node.id, ackedVersion: nil, pid: 100 + node.id)
        }
        #expect(Set(try await store.markDown("demo", heartbeatBefore: cutoff)) == down)
    }

    @Test func aDownReplicaMovesWithinItsZoneAndNothingElseMoves() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        var config = TopicConfig()
        config.routeEnabled = true
        // 3 partitions on 6 nodes: three nodes lead nothing and hold only replicas.
        let before = try await store.createTopic("demo", name: "orders", partitions: 3, config: config).partitions
        try await registerAll(store)
        #expect(try await store.failOver("demo").isEmpty, "nothing is down")
        let nodes = try await store.nodes("demo")
        let victim = try #require(
            nodes.first { node in
                !before.contains { $0.leader == node.id } && before.contains { $0.replicas.values.contains(node.id) }
            }
        )
        try await markDown(store, [victim.id])
        let version = try await store.topologyVersion("demo")
        let moves = try await store.failOver("demo")
        #expect(!moves.isEmpty)
        #expect(try await store.topologyVersion("demo") == version + 1, "one version for the whole fail-over")
        let after = try await store.describeTopic("demo", "orders").partitions
        let sibling = try #require(nodes.first { $0.zone == victim.zone && $0.id != victim.id })
        for (old, new) in zip(before, after) {
            #expect(new.leader == old.leader && new.leaderEpoch == old.leaderEpoch, "leaders stay")
            if old.replicas[victim.zone] == victim.id {
                var expected = old.replicas
                expected[victim.zone] = sibling.id
                #expect(new.replicas == expected, "only the zone's replica moves, to the zone's up node")
            } else {
                #expect(new == old)
            }
        }
        #expect(try await store.failOver("demo").isEmpty, "a second round has nothing to do")
    }

    @Test func aZoneWithNoUpNodeIsFlaggedAndGetsReplicasBackWhenOneReturns() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        var config = TopicConfig()
        config.routeEnabled = true
        _ = try await store.createTopic("demo", name: "orders", partitions: 6, config: config)
        _ = try await store.createTopic("demo", name: "plain", partitions: 2, config: TopicConfig())
        try await registerAll(store)
        func degraded() async throws -> [String: [String]] {
            let snapshot = try await store.snapshot("demo")
            var result: [String: [String]] = [:]
            for status in PartitionStatus.of(snapshot.partitions, in: snapshot) where !status.zonesWithoutReplica.isEmpty {
                result["\(status.topic)-\(status.index)"] = status.zonesWithoutReplica
            }
            return result
        }
        #expect(try await degraded().isEmpty)
        // Zone b (nodes 2 and 5) goes down entirely.
        try await markDown(store, [2, 5])
        _ = try await store.failOver("demo")
        #expect(try await store.failOver("demo").isEmpty, "nowhere in zone b to move to")
        let down = try await store.partitions("demo")
        #expect(down.allSatisfy { $0.leader != 2 && $0.leader != 5 })
        let flagged = try await degraded()
        #expect(flagged.count == 6, "every routed partition lacks a live replica in b: \(flagged)")
        #expect(flagged.values.allSatisfy { $0 == ["b"] })
        #expect(!flagged.keys.contains { $0.hasPrefix("plain") }, "topics without routing are not flagged")

        // Node 5 comes back: the next round gives zone b its replicas, on node 5, and moves no leader.
        #expect(try await store.heartbeat("demo", nodeID: 5, ackedVersion: nil, pid: 105) == .revived)
        let moves = try await store.failOver("demo")
        #expect(!moves.isEmpty && moves.allSatisfy { $0.fromLeader == $0.toLeader })
        let back = try await store.partitions("demo")
        for (old, new) in zip(down, back) {
            #expect(new.leader == old.leader && new.leaderEpoch == old.leaderEpoch)
            #expect(new.replicas["b"] == 5)
            #expect(new.replicas.filter { $0.key != "b" } == old.replicas.filter { $0.key != "b" })
        }
        #expect(try await degraded().isEmpty)
        #expect(try await store.failOver("demo").isEmpty)
    }
}

@Suite struct ReplicaFailoverRulesTests {
    static func node(_ id: Int, _ zone: String, _ liveness: NodeLiveness, _ admin: NodeAdminState = .active) -> NodeInfo {
        NodeInfo(
            id: id, name: nil, zone: zone, host: "h", kafkaPort: nil, rpcPort: nil, adminPort: nil, adminState: admin,
            liveness: liveness, pid: nil, lastHeartbeat: nil, ackedVersion: nil, registeredAt: nil
        )
    }

    static func partition(_ leader: Int, _ replicas: [String: Int]) -> PartitionInfo {
        PartitionInfo(topic: "t", index: 0, leader: leader, leaderEpoch: 0, replicas: replicas)
    }

    @Test func zonesToRepair() {
        let healthy = [Self.node(1, "a", .alive), Self.node(2, "b", .alive), Self.node(3, "b", .alive)]
        #expect(ReplicaCoverage.zonesToRepair(partitions: [Self.partition(1, ["b": 2])], nodes: healthy).isEmpty)
        // Replica on a down node, another up node in its zone.
        let oneDown = [Self.node(1, "a", .alive), Self.node(2, "b", .down), Self.node(3, "b", .alive)]
        #expect(ReplicaCoverage.zonesToRepair(partitions: [Self.partition(1, ["b": 2])], nodes: oneDown) == ["b"])
        // Missing replica, zone has an up node.
        #expect(ReplicaCoverage.zonesToRepair(partitions: [Self.partition(1, [:])], nodes: healthy) == ["b"])
        // Replica on a node that is gone.
        #expect(ReplicaCoverage.zonesToRepair(partitions: [Self.partition(1, ["b": 9])], nodes: healthy) == ["b"])
        // No up node in the zone: nothing to move to.
        let zoneDown = [Self.node(1, "a", .alive), Self.node(2, "b", .down), Self.node(3, "b", .stopped)]
        #expect(ReplicaCoverage.zonesToRepair(partitions: [Self.partition(1, ["b": 2])], nodes: zoneDown).isEmpty)
        // Drained nodes are not up.
        let drained = [Self.node(1, "a", .alive), Self.node(2, "b", .down), Self.node(3, "b", .alive, .drained)]
        #expect(ReplicaCoverage.zonesToRepair(partitions: [Self.partition(1, ["b": 2])], nodes: drained).isEmpty)
        // Stopped or never-registered replica nodes are not failures.
        let stopped = [Self.node(1, "a", .alive), Self.node(2, "b", .stopped), Self.node(3, "b", .alive), Self.node(4, "b", .unknown)]
        #expect(ReplicaCoverage.zonesToRepair(partitions: [Self.partition(1, ["b": 2]), Self.partition(1, ["b": 4])], nodes: stopped).isEmpty)
        // The leader's own zone needs no replica.
        #expect(ReplicaCoverage.zonesToRepair(partitions: [Self.partition(2, [:])], nodes: [Self.node(2, "b", .alive)]).isEmpty)
    }

    @Test func zonesWithoutLiveReplica() {
        let nodes = Dictionary(
            uniqueKeysWithValues: [
                Self.node(1, "a", .alive), Self.node(2, "b", .down), Self.node(3, "c", .alive), Self.node(4, "d", .stopped),
            ].map { ($0.id, $0) }
        )
        let zones = ["a", "b", "c", "d", "e"]
        #expect(
            ReplicaCoverage.zonesWithoutLiveReplica(Self.partition(1, ["b": 2, "c": 3, "d": 4]), zones: zones, nodes: nodes)
                == ["b", "d", "e"]
        )
        #expect(ReplicaCoverage.zonesWithoutLiveReplica(Self.partition(3, ["a": 1]), zones: ["a", "c"], nodes: nodes).isEmpty)
    }

    @Test func placeReplicasMovesOnlyTheLostNodesReplicasAndKeepsTheZoneBalanced() {
        // Leaders in zone a; zone b has nodes 3, 4, 5 and node 4 is lost.
        let current = (0..<6).map { PartitionAssignment(leader: 1 + $0 % 2, replicas: ["b": [3, 4, 5][$0 % 3]]) }
        let request = TopicPlacementRequest(topic: "t", current: current)
        let up = [PlacementNode(id: 1, zone: "a"), PlacementNode(id: 2, zone: "a"), PlacementNode(id: 3, zone: "b"), PlacementNode(id: 5, zone: "b")]
        let zoneOfLeader = [1: "a", 2: "a", 3: "b", 4: "b", 5: "b"]
        let placed = Placement.placeReplicas([request], inZone: "b", on: up, zoneOfLeader: zoneOfLeader)["t"] ?? []
        #expect(placed.count == 6)
        var counts: [Int: Int] = [:]
        for (old, new) in zip(current, placed) {
            guard let new else {
                Issue.record("partition lost")
                continue
            }
            #expect(new.leader == old.leader)
            let replica = new.replicas["b"] ?? 0
            counts[replica, default: 0] += 1
            if old.replicas["b"] != 4 { #expect(replica == old.replicas["b"], "a replica on an up node stays") }
        }
        #expect(counts == [3: 3, 5: 3])
        // With no up node in the zone, nothing changes.
        let none = Placement.placeReplicas([request], inZone: "b", on: Array(up.prefix(2)), zoneOfLeader: zoneOfLeader)
        #expect(none["t"] == current.map { Optional($0) })
    }
}
