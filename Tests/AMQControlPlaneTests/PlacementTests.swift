import AMQControlPlane
import Testing

@Suite struct PlacementTests {
    // MARK: - Fixed layouts

    @Test func newTopicOnThreeZonesOfTwoNodes() throws {
        let nodes = Self.nodes(zones: 3, perZone: 2)
        let placed = try Self.place(Self.newTopic(12), on: nodes)

        try Self.expectRules(placed, on: nodes)
        #expect(placed.count == 12)
        #expect(Self.leaderCounts(placed, on: nodes) == [1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 2])
        // Ties go to the zone with the fewest leaders of the topic, then the least loaded node, then
        // the lowest id: a round robin over zones first, then over the nodes within them.
        #expect(placed.map(\.leader) == [1, 3, 5, 2, 4, 6, 1, 3, 5, 2, 4, 6])
        // Every partition is read-only replicated in both zones it is not led from, and each zone
        // serves the 8 partitions led elsewhere from its two nodes, 4 each.
        for assignment in placed {
            let leaderZone = try #require(nodes.first { $0.id == assignment.leader }?.zone)
            #expect(Set(assignment.replicas.keys) == Set(["a", "b", "c"]).subtracting([leaderZone]))
        }
        #expect(Self.replicaCounts(placed, on: nodes) == [1: 4, 2: 4, 3: 4, 4: 4, 5: 4, 6: 4])
        #expect(Self.zoneLeaderCounts(placed, on: nodes) == ["a": 4, "b": 4, "c": 4])
    }

    @Test func singleZoneClusterHasNoReplicas() throws {
        let nodes = Self.nodes(zones: 1, perZone: 3)
        let placed = try Self.place(Self.newTopic(7), on: nodes)
        try Self.expectRules(placed, on: nodes)
        #expect(placed.allSatisfy { $0.replicas.isEmpty })
        #expect(Self.leaderCounts(placed, on: nodes).values.sorted() == [2, 2, 3])
    }

    @Test func topicWithoutPartitionsGetsAnEmptyList() throws {
        let result = try Placement.place(
            [TopicPlacementRequest(topic: "empty", current: [])],
            on: Self.nodes(zones: 2, perZone: 1)
        )
        #expect(result == ["empty": []])
    }

    @Test func noNodesThrows() {
        #expect(throws: PlacementError.noEligibleNodes) {
            try Placement.place([TopicPlacementRequest(topic: "orders", current: [nil])], on: [])
        }
        #expect(throws: PlacementError.noEligibleNodes) { try Placement.place([], on: []) }
    }

    // MARK: - Movement

    /// 12 partitions sit 2 per node on 3 zones x 2 nodes; node 7 joins zone a. 12 leaders on 7 nodes
    /// allow at most 5 nodes to keep 2, so exactly one leader must move, and it goes to node 7.
    /// Zone a still leads 4 partitions, so it serves the same 8 replicas, now over 3 nodes (3, 3,
    /// 2): exactly 2 replicas move, both to node 7. Zones b and c change nothing.
    @Test func addingANodeMovesTheMinimum() throws {
        let nodes = Self.nodes(zones: 3, perZone: 2)
        let before = try Self.place(Self.newTopic(12), on: nodes)
        let grown = nodes + [PlacementNode(id: 7, zone: "a")]
        let after = try Self.place(before, on: grown)

        try Self.expectRules(after, on: grown)
        let movedLeaders = zip(before, after).filter { $0.leader != $1.leader }
        #expect(movedLeaders.count == 1)
        #expect(movedLeaders.allSatisfy { $1.leader == 7 })
        let movedReplicas = zip(before, after).flatMap { old, new in
            new.replicas.filter { old.replicas[$0.key] != $0.value }.map(\.value)
        }
        #expect(movedReplicas == [7, 7])
        #expect(Self.leaderCounts(after, on: grown)[7] == 1)
        #expect(zip(before, after).filter { $0 != $1 }.count == 3)
    }

    /// Taking any one node out of a balanced 12-partition layout on 3 zones x 2 nodes changes only
    /// partitions it led or served as a replica: the 2 it led get new leaders, and nothing else moves.
    @Test(arguments: 1...6) func removingANodeMovesOnlyWhatItHeld(removed: Int) throws {
        let nodes = Self.nodes(zones: 3, perZone: 2)
        let before = try Self.place(Self.newTopic(12), on: nodes)
        let remaining = nodes.filter { $0.id != removed }
        let after = try Self.place(before, on: remaining)

        try Self.expectRules(after, on: remaining)
        for (old, new) in zip(before, after) where old != new {
            #expect(old.leader == removed || old.replicas.values.contains(removed), "\(old) -> \(new)")
        }
        #expect(zip(before, after).filter { $0.leader != $1.leader }.count == 2)
        #expect(after.allSatisfy { $0.leader != removed && !$0.replicas.values.contains(removed) })
    }

    /// Draining is removal from the eligible list: on every shape, only the partitions the
    /// drained node led change leader, and leader and replica moves are the fewest the balance allows.
    @Test(arguments: 1...4, 1...3) func drainingANodeChangesOnlyItsLeaders(zones: Int, perZone: Int) throws {
        let nodes = Self.nodes(zones: zones, perZone: perZone)
        guard nodes.count > 1 else { return }
        for partitions in [1, 5, 12, 17, 40] {
            let before = try Self.place(Self.newTopic(partitions), on: nodes)
            for drained in nodes {
                let remaining = nodes.filter { $0 != drained }
                let after = try Self.place(before, on: remaining)
                try Self.expectRules(after, on: remaining)
                try Self.expectMinimalMoves(from: before, to: after, on: remaining)
                for (old, new) in zip(before, after) where old.leader != new.leader {
                    #expect(old.leader == drained.id)
                }
            }
        }
    }

    /// A layout that already obeys every rule comes back unchanged.
    @Test(arguments: 1...4, 1...3) func balancedLayoutIsStable(zones: Int, perZone: Int) throws {
        let nodes = Self.nodes(zones: zones, perZone: perZone)
        for partitions in 0...40 {
            let placed = try Self.place(Self.newTopic(partitions), on: nodes)
            #expect(try Self.place(placed, on: nodes) == placed)
        }
    }

    // MARK: - Properties over many shapes

    /// Every rule, on 1...40 partitions over 1...4 zones of 1...3 nodes: new topics, topics that
    /// grow by a node in an existing and in a new zone, and topics whose current assignment is noise.
    @Test(arguments: 1...4, 1...3) func everyRuleHoldsOnEveryShape(zones: Int, perZone: Int) throws {
        let nodes = Self.nodes(zones: zones, perZone: perZone)
        var random = SplitMix64(seed: UInt64(zones * 10 + perZone))
        for partitions in 1...40 {
            let fresh = try Self.place(Self.newTopic(partitions), on: nodes)
            try Self.expectRules(fresh, on: nodes)
            // Zones of equal size lead the same number of partitions, give or take one.
            let perZoneLeaders = Self.zoneLeaderCounts(fresh, on: nodes).values
            #expect((perZoneLeaders.max() ?? 0) - (perZoneLeaders.min() ?? 0) <= 1)
            for grown in [nodes + [PlacementNode(id: 100, zone: "a")], nodes + [PlacementNode(id: 100, zone: "new")]] {
                let after = try Self.place(fresh, on: grown)
                try Self.expectRules(after, on: grown)
                try Self.expectMinimalMoves(from: fresh, to: after, on: grown)
            }
            let noisy = Self.noise(partitions, nodeIDs: Array(0...(nodes.count + 2)), using: &random)
            let placed = try Self.place(noisy, on: nodes)
            try Self.expectRules(placed, on: nodes)
            try Self.expectMinimalMoves(from: noisy, to: placed, on: nodes)
        }
    }

    /// Shrinking the node list, down to one node and even away from whole zones, never leaves a
    /// partition on a node or in a zone that is gone.
    @Test(arguments: [(3, 2, 12), (4, 3, 40), (2, 3, 7), (3, 1, 5)])
    func shrinkingNeverUsesIneligibleNodes(zones: Int, perZone: Int, partitions: Int) throws {
        var nodes = Self.nodes(zones: zones, perZone: perZone)
        var placed = try Self.place(Self.newTopic(partitions), on: nodes)
        var random = SplitMix64(seed: UInt64(partitions))
        while nodes.count > 1 {
            nodes.remove(at: Int(random.next() % UInt64(nodes.count)))
            placed = try Self.place(placed, on: nodes)
            try Self.expectRules(placed, on: nodes)
            let eligible = Set(nodes.map(\.id))
            #expect(
                placed.allSatisfy { eligible.contains($0.leader) && $0.replicas.values.allSatisfy(eligible.contains) }
            )
        }
        #expect(placed.allSatisfy { $0.leader == nodes.first?.id && $0.replicas.isEmpty })
    }

    @Test func currentAssignmentsOnUnknownNodesAndZonesAreReplaced() throws {
        let nodes = Self.nodes(zones: 2, perZone: 2)
        let current: [PartitionAssignment?] = [
            PartitionAssignment(leader: 99, replicas: ["gone": 98]),
            PartitionAssignment(leader: 1, replicas: ["gone": 98, "a": 2, "b": 1]),
            PartitionAssignment(leader: 3, replicas: ["a": 4]),
            nil,
        ]
        let placed = try Self.place(current, on: nodes)
        try Self.expectRules(placed, on: nodes)
        // Partition 1 keeps its leader; its replica on node 1 in zone "b" is wrong (node 1 is in a),
        // and replicas in the leader's zone or a vanished zone are dropped.
        #expect(placed[1].leader == 1)
        #expect(placed[1].replicas.keys.sorted() == ["b"])
        #expect(placed[2].leader == 3)
        #expect(placed[2].replicas["a"] != 4)
    }

    // MARK: - Many topics

    /// Single-partition topics fill every node before any node gets a second one, and each zone's
    /// replicas spread over its nodes.
    @Test(arguments: [6, 12, 13]) func singlePartitionTopicsSpreadOverAllNodes(topics: Int) throws {
        let nodes = Self.nodes(zones: 3, perZone: 2)
        let requests = (0..<topics).map { TopicPlacementRequest(topic: "topic-\($0)", current: [nil]) }
        let result = try Placement.place(requests, on: nodes)
        let all = try requests.flatMap { try #require(result[$0.topic]) }
        for topic in requests { try Self.expectRules(try #require(result[topic.topic]), on: nodes) }

        let leaders = Self.leaderCounts(all, on: nodes).values
        #expect((leaders.max() ?? 0) - (leaders.min() ?? 0) <= 1)
        #expect(leaders.reduce(0, +) == topics)
        for zone in ["a", "b", "c"] {
            let replicas = Self.replicaCounts(all, on: nodes.filter { $0.zone == zone }).values
            #expect((replicas.max() ?? 0) - (replicas.min() ?? 0) <= 1, "zone \(zone)")
        }
    }

    /// Load from topics already placed counts: with 5 of 6 nodes leading a partition of "old", the
    /// new single-partition topic goes to the sixth, although it sorts (and is placed) first.
    @Test func newTopicAvoidsNodesLoadedByCurrentTopics() throws {
        let nodes = Self.nodes(zones: 3, perZone: 2)
        let old = try Self.place(Self.newTopic(5), on: nodes)
        let idle = try #require(Set(nodes.map(\.id)).subtracting(old.map(\.leader)).first)
        let result = try Placement.place(
            [TopicPlacementRequest(topic: "old", current: old), TopicPlacementRequest(topic: "new", current: [nil])],
            on: nodes
        )
        #expect(result["old"] == old)
        #expect(result["new"]?.first?.leader == idle)
    }

    @Test func placementIsDeterministic() throws {
        let nodes = Self.nodes(zones: 3, perZone: 3)
        var random = SplitMix64(seed: 7)
        let requests = (0..<8).map { topic in
            TopicPlacementRequest(
                topic: "topic-\(topic)",
                current: Self.noise(3 + topic * 4, nodeIDs: Array(0...12), using: &random)
            )
        }
        let first = try Placement.place(requests, on: nodes)
        #expect(try Placement.place(requests, on: nodes) == first)
        #expect(try Placement.place(Array(requests.reversed()), on: Array(nodes.reversed())) == first)
        #expect(first.count == 8)
    }
}

// MARK: - Helpers

extension PlacementTests {
    /// `zones` zones named a, b, c, ... of `perZone` nodes each, ids 1, 2, ... zone by zone.
    static func nodes(zones: Int, perZone: Int) -> [PlacementNode] {
        (0..<zones).flatMap { zone in
            (0..<perZone).map {
                PlacementNode(id: zone * perZone + $0 + 1, zone: String(UnicodeScalar(UInt8(97 + zone))))
            }
        }
    }

    static func newTopic(_ partitions: Int) -> [PartitionAssignment?] {
        Array(repeating: nil, count: partitions)
    }

    /// Places one topic and returns its partitions.
    static func place(_ current: [PartitionAssignment?], on nodes: [PlacementNode]) throws -> [PartitionAssignment] {
        let result = try Placement.place([TopicPlacementRequest(topic: "orders", current: current)], on: nodes)
        #expect(result.keys.sorted() == ["orders"])
        return try #require(result["orders"])
    }

    /// Random current assignments, some nil, naming nodes that may or may not exist, in zones that may be wrong.
    static func noise(_ partitions: Int, nodeIDs: [Int], using random: inout SplitMix64) -> [PartitionAssignment?] {
        (0..<partitions).map { _ in
            if random.next() % 5 == 0 { return nil }
            let pick = { (random: inout SplitMix64) in nodeIDs[Int(random.next() % UInt64(nodeIDs.count))] }
            let leader = pick(&random)
            var replicas: [String: Int] = [:]
            for zone in ["a", "b", "c", "d", "x"] where random.next() % 3 != 0 { replicas[zone] = pick(&random) }
            return PartitionAssignment(leader: leader, replicas: replicas)
        }
    }

    static func leaderCounts(_ placed: [PartitionAssignment], on nodes: [PlacementNode]) -> [Int: Int] {
        var counts = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, 0) })
        for assignment in placed { counts[assignment.leader, default: 0] += 1 }
        return counts
    }

    /// Replicas per node of `nodes`; replicas on other nodes are not counted.
    static func replicaCounts(_ placed: [PartitionAssignment], on nodes: [PlacementNode]) -> [Int: Int] {
        var counts = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, 0) })
        for node in placed.flatMap(\.replicas.values) where counts[node] != nil { counts[node, default: 0] += 1 }
        return counts
    }

    static func zoneLeaderCounts(_ placed: [PartitionAssignment], on nodes: [PlacementNode]) -> [String: Int] {
        var counts = Dictionary(nodes.map { ($0.zone, 0) }, uniquingKeysWith: { first, _ in first })
        let zoneOf = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0.zone) })
        for assignment in placed { counts[zoneOf[assignment.leader] ?? "?", default: 0] += 1 }
        return counts
    }

    /// Rules 1 and 3: leaders only on eligible nodes, at most one apart per node; a replica in
    /// exactly the other zones with nodes, on a node of that zone, at most one apart per node within a zone.
    static func expectRules(
        _ placed: [PartitionAssignment],
        on nodes: [PlacementNode],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let zoneOf = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0.zone) })
        let zones = Set(nodes.map(\.zone))
        let leaders = leaderCounts(placed, on: nodes)
        #expect(leaders.count == nodes.count, "a leader on an ineligible node", sourceLocation: sourceLocation)
        #expect(
            (leaders.values.max() ?? 0) - (leaders.values.min() ?? 0) <= 1,
            "\(leaders)",
            sourceLocation: sourceLocation
        )
        for assignment in placed {
            let leaderZone = try #require(zoneOf[assignment.leader], sourceLocation: sourceLocation)
            #expect(Set(assignment.replicas.keys) == zones.subtracting([leaderZone]), sourceLocation: sourceLocation)
            for (zone, node) in assignment.replicas {
                #expect(zoneOf[node] == zone, "replica in \(zone) on node \(node)", sourceLocation: sourceLocation)
            }
        }
        for zone in zones {
            let replicas = replicaCounts(placed, on: nodes.filter { $0.zone == zone }).values
            #expect((replicas.max() ?? 0) - (replicas.min() ?? 0) <= 1, "zone \(zone)", sourceLocation: sourceLocation)
        }
    }

    /// Rule 2: leader moves, and per zone replica moves, are exactly the fewest that balanced
    /// counts allow, given where the partitions are now.
    static func expectMinimalMoves(
        from before: [PartitionAssignment?],
        to after: [PartitionAssignment],
        on nodes: [PlacementNode],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let zoneOf = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0.zone) })
        let currentLeaders = before.map { $0.flatMap { zoneOf[$0.leader] == nil ? nil : $0.leader } }
        let leaderMoves = zip(currentLeaders, after).filter { $0 != $1.leader }.count
        #expect(
            leaderMoves == fewestMoves(current: currentLeaders, bins: nodes.map(\.id)),
            "leader moves",
            sourceLocation: sourceLocation
        )
        for zone in Set(nodes.map(\.zone)) {
            let items = after.indices.filter { zoneOf[after[$0].leader] != zone }
            // Where a partition's data sits in this zone now: its replica there, or else its leader
            // if that was in this zone (a leader that leaves a zone stays on as its replica).
            let current = items.map { index -> Int? in
                guard let old = before[index] else { return nil }
                if let node = old.replicas[zone], zoneOf[node] == zone { return node }
                return zoneOf[old.leader] == zone ? old.leader : nil
            }
            let moves = zip(items, current).filter { after[$0].replicas[zone] != $1 }.count
            let bins = nodes.filter { $0.zone == zone }.map(\.id)
            #expect(
                moves == fewestMoves(current: current, bins: bins),
                "replica moves in \(zone)",
                sourceLocation: sourceLocation
            )
        }
    }

    /// Items that must move so that `current.count` items sit on `bins` with counts at most one
    /// apart: every bin keeps up to the floor, and each of the `count % bins` ceil slots saves one
    /// more move on a bin holding more than the floor.
    static func fewestMoves(current: [Int?], bins: [Int]) -> Int {
        guard !bins.isEmpty else { return current.count }
        let floor = current.count / bins.count
        let held = bins.map { bin in current.filter { $0 == bin }.count }
        let kept =
            held.reduce(0) { $0 + min($1, floor) } + min(current.count % bins.count, held.filter { $0 > floor }.count)
        return current.count - kept
    }

    /// A small seeded generator (SplitMix64), so "random" inputs are the same on every run.
    struct SplitMix64 {
        private var state: UInt64

        init(seed: UInt64) { state = seed }

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var value = state
            value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
            value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
            return value ^ (value >> 31)
        }
    }
}
