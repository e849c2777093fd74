/// A node placement may put partitions on.
package struct PlacementNode: Sendable, Hashable, Codable {
    package var id: Int
    package var zone: String

    package init(id: Int, zone: String) {
        self.id = id
        self.zone = zone
    }
}

/// Where one partition lives: its leader and one read-only replica per other zone.
package struct PartitionAssignment: Sendable, Hashable, Codable {
    package var leader: Int
    /// zone name -> node id. Never contains the leader's zone.
    package var replicas: [String: Int]

    package init(leader: Int, replicas: [String: Int]) {
        self.leader = leader
        self.replicas = replicas
    }
}

package struct TopicPlacementRequest: Sendable, Hashable {
    package var topic: String
    /// One entry per partition the topic must have after placement (index = partition index).
    /// nil = a new partition with no current assignment. Current assignments may name nodes that are
    /// no longer eligible (drained, down, removed) or zones that no longer have nodes.
    package var current: [PartitionAssignment?]

    package init(topic: String, current: [PartitionAssignment?]) {
        self.topic = topic
        self.current = current
    }
}

package enum PlacementError: Error, Sendable, Equatable {
    case noEligibleNodes
}

/// Placement of partition leaders and read-only replicas: a pure function, no I/O, no globals.
///
/// Within each topic, leaders per eligible node differ by at most one. Every partition gets one
/// read-only replica in each zone other than its leader's that has eligible nodes, and within a
/// zone a topic's replicas per node differ by at most one. A partition keeps its current leader
/// and replicas whenever the bounds allow, and the nodes allowed one item more than the rest are
/// the ones that already hold more, so a change of nodes moves as few partitions as possible.
/// Ties go to a node that already holds the partition, then to the zone with fewer items of the
/// topic, then to the node with less load across all topics, then to the smaller node id.
package enum Placement {
    /// Returns, for every topic in `requests` (keyed by topic name), the new assignment of each partition.
    /// Precondition-free: an empty `nodes` throws PlacementError.noEligibleNodes.
    package static func place(
        _ requests: [TopicPlacementRequest],
        on nodes: [PlacementNode]
    ) throws(PlacementError) -> [String: [PartitionAssignment]] {
        guard !nodes.isEmpty else { throw .noEligibleNodes }
        let cluster = Cluster(nodes)
        // Topics go in name order so the result does not depend on the order of `requests`.
        let ordered = requests.sorted { $0.topic < $1.topic }
        // Load starts as everything currently placed, so a topic placed early already sees where
        // the topics placed after it sit; each topic swaps its current share for its new one.
        var load = Load()
        for request in ordered { load.add(request.current.compactMap(\.self)) }
        var result: [String: [PartitionAssignment]] = [:]
        for request in ordered {
            load.remove(request.current.compactMap(\.self))
            let placed = placeTopic(request.current, in: cluster, load: load)
            load.add(placed)
            result[request.topic] = placed
        }
        return result
    }

    /// Places one topic's leaders on all eligible nodes, then its replicas zone by zone.
    private static func placeTopic(
        _ current: [PartitionAssignment?],
        in cluster: Cluster,
        load: Load
    ) -> [PartitionAssignment] {
        // Partitions that change anyway (new, or a node lost): a node with too many items gives
        // these up first, so as few partitions as possible change at all.
        var changing = current.map { !cluster.isIntact($0) }
        let leaderItems = current.indices.map { index in
            BalancedAssignment.Item(
                current: current[index].flatMap { cluster.zone(of: $0.leader) == nil ? nil : $0.leader },
                // A replica already holds the partition's data and cache, so it is the best new leader.
                holders: Set(current[index].map { $0.replicas.values.filter { cluster.zone(of: $0) != nil } } ?? []),
                changing: changing[index]
            )
        }
        let leaders = BalancedAssignment(bins: cluster.nodes, load: load.leaders).assign(leaderItems)
        for index in current.indices where current[index]?.leader != leaders[index] { changing[index] = true }
        var placed = leaders.map { PartitionAssignment(leader: $0, replicas: [:]) }
        for zone in cluster.zones {
            // Only partitions led from another zone need a replica here.
            let indexes = leaders.indices.filter { cluster.zone(of: leaders[$0]) != zone }
            let items = indexes.map { index in
                BalancedAssignment.Item(
                    current: replicaHome(of: current[index], in: zone, cluster),
                    changing: changing[index],
                    partner: leaders[index]
                )
            }
            let bins = cluster.nodes.filter { $0.zone == zone }
            let replicas = BalancedAssignment(bins: bins, load: load.replicas).assign(items)
            for (index, node) in zip(indexes, replicas) {
                placed[index].replicas[zone] = node
                if current[index]?.replicas[zone] != node { changing[index] = true }
            }
        }
        return placed
    }

    /// The node in `zone` that holds `assignment`'s partition now and may keep it as the replica.
    private static func replicaHome(of assignment: PartitionAssignment?, in zone: String, _ cluster: Cluster) -> Int? {
        guard let assignment else { return nil }
        if let node = assignment.replicas[zone], cluster.zone(of: node) == zone { return node }
        // A leader that moved out of this zone still holds the data: it becomes the replica here,
        // so leader and replica swap roles instead of a third node taking the replica.
        if cluster.zone(of: assignment.leader) == zone { return assignment.leader }
        return nil
    }
}

extension Placement {
    /// The eligible nodes, sorted by id, one entry per id.
    fileprivate struct Cluster {
        let nodes: [PlacementNode]
        let zones: [String]
        private let zoneByNode: [Int: String]

        init(_ nodes: [PlacementNode]) {
            var zoneByNode: [Int: String] = [:]
            // The first entry for an id wins, so duplicated ids cannot make a node count twice.
            for node in nodes where zoneByNode[node.id] == nil { zoneByNode[node.id] = node.zone }
            self.zoneByNode = zoneByNode
            self.nodes = zoneByNode.map { PlacementNode(id: $0.key, zone: $0.value) }.sorted { $0.id < $1.id }
            zones = Set(zoneByNode.values).sorted()
        }

        /// The zone of an eligible node; nil for a node placement may not use.
        func zone(of node: Int) -> String? { zoneByNode[node] }

        /// Whether `assignment` may stand as it is: every node eligible and in its zone, and a
        /// replica in exactly the zones other than the leader's.
        func isIntact(_ assignment: PartitionAssignment?) -> Bool {
            guard let assignment, let leaderZone = zone(of: assignment.leader) else { return false }
            return Set(assignment.replicas.keys) == Set(zones).subtracting([leaderZone])
                && assignment.replicas.allSatisfy { zone(of: $0.value) == $0.key }
        }
    }

    /// Leaders and replicas per node across every topic: the tie-break that keeps many small
    /// topics from piling onto the same few nodes.
    struct Load {
        var leaders: [Int: Int] = [:]
        var replicas: [Int: Int] = [:]

        mutating func add(_ assignments: [PartitionAssignment]) { apply(assignments, +1) }
        mutating func remove(_ assignments: [PartitionAssignment]) { apply(assignments, -1) }

        private mutating func apply(_ assignments: [PartitionAssignment], _ delta: Int) {
            for assignment in assignments {
                leaders[assignment.leader, default: 0] += delta
                for node in assignment.replicas.values { replicas[node, default: 0] += delta }
            }
        }
    }
}

extension Placement {
    /// Sticky, balanced assignment of items (partitions, in index order) to bins (nodes).
    ///
    /// Every bin gets `items / bins` items or one more. A bin only keeps more of its current items
    /// with the extra slot if it holds more than the floor, so those bins get the extra slots
    /// first: that makes the number of moved items the smallest the balance allows.
    struct BalancedAssignment {
        struct Item {
            /// The bin holding the item now, if placement may keep it there.
            var current: Int?
            /// Other bins that already hold the item's data, preferred when it has to move.
            var holders: Set<Int> = []
            /// The item's partition changes anyway, so it is the first to give up its bin.
            var changing = false
            /// For a replica, its partition's leader, whose replicas are spread over the zone.
            var partner: Int?
        }

        /// One bin while items are assigned to it.
        private struct Bin {
            let node: PlacementNode
            /// Items on this node from other topics, for the tie-break.
            let load: Int
            var capacity = 0
            var count = 0
            /// Items per partner node on this bin.
            var partners: [Int: Int] = [:]
            var room: Int { capacity - count }
        }

        private let bins: [Bin]
        /// Mean load of a zone's nodes: among equally loaded nodes, prefer the quieter zone.
        private let zoneLoad: [String: Double]

        init(bins nodes: [PlacementNode], load: [Int: Int]) {
            bins = nodes.map { Bin(node: $0, load: load[$0.id, default: 0]) }
            var totals: [String: (sum: Int, count: Int)] = [:]
            for bin in bins {
                totals[bin.node.zone, default: (0, 0)].sum += bin.load
                totals[bin.node.zone, default: (0, 0)].count += 1
            }
            zoneLoad = totals.mapValues { Double($0.sum) / Double($0.count) }
        }

        /// Returns the node id chosen for each of `items`, in the same order.
        func assign(_ items: [Item]) -> [Int] {
            guard !items.isEmpty, !self.bins.isEmpty else { return [] }
            var fill = Fill(bins: bins)
            let position = Dictionary(
                bins.indices.map { (bins[$0].node.id, $0) },
                uniquingKeysWith: { first, _ in first }
            )
            let current = items.map { $0.current.flatMap { position[$0] } }
            for (index, capacity) in capacities(itemCount: items.count, current: current).enumerated() {
                fill.bins[index].capacity = capacity
            }
            var chosen: [Int?] = Array(repeating: nil, count: items.count)
            // Keep items where they are up to each bin's capacity: first the partitions that do not
            // change otherwise, then the rest, lowest partition index first.
            let keepOrder = items.indices.sorted { (items[$0].changing ? 1 : 0, $0) < (items[$1].changing ? 1 : 0, $1) }
            for index in keepOrder {
                guard let bin = current[index], fill.bins[bin].room > 0 else { continue }
                chosen[index] = bin
                fill.put(items[index], in: bin)
            }
            // Everything else goes, in partition order, where the preference rules say.
            for index in items.indices where chosen[index] == nil {
                guard let bin = bestBin(for: items[index], in: fill) else {
                    preconditionFailure("capacities add up to the number of items")
                }
                chosen[index] = bin
                fill.put(items[index], in: bin)
            }
            return chosen.compactMap { $0.map { bins[$0].node.id } }
        }

        /// Gives every bin the floor capacity and `itemCount % bins.count` of them one more: first
        /// to bins holding more than the floor (fewest moves), then to the zone that would
        /// otherwise end up with the fewest items, then to the least loaded node, then the lowest id.
        private func capacities(itemCount: Int, current: [Int?]) -> [Int] {
            let floor = itemCount / bins.count
            var held = Array(repeating: 0, count: bins.count)
            for case let bin? in current { held[bin] += 1 }
            var capacities = Array(repeating: floor, count: bins.count)
            var zoneCapacity: [String: Int] = [:]
            for bin in bins { zoneCapacity[bin.node.zone, default: 0] += floor }
            for _ in 0..<(itemCount % bins.count) {
                let key = { [zoneCapacity] (index: Int) in
                    let bin = bins[index]
                    return (
                        -min(held[index], floor + 1), zoneCapacity[bin.node.zone, default: 0], bin.load,
                        zoneLoad[bin.node.zone, default: 0], bin.node.id
                    )
                }
                guard let best = bins.indices.filter({ capacities[$0] == floor }).min(by: { key($0) < key($1) }) else {
                    preconditionFailure("fewer extra slots than bins")
                }
                capacities[best] += 1
                zoneCapacity[bins[best].node.zone, default: 0] += 1
            }
            return capacities
        }

        /// The bin with room for `item`: one already holding its data, then the zone with the
        /// fewest items so far, then the bin with the fewest items of the same partner, then the
        /// most room left, then the least loaded node and zone, then the lowest id.
        ///
        /// Spreading one leader's replicas over the zone's nodes means that when that leader goes,
        /// its partitions' new leaders and the replicas they free up are spread too, so the zone
        /// stays balanced without moving partitions the lost node never held.
        private func bestBin(for item: Item, in fill: Fill) -> Int? {
            let key = { (index: Int) -> [Double] in
                let bin = fill.bins[index]
                let partners = item.partner.map { bin.partners[$0, default: 0] } ?? 0
                return [
                    item.holders.contains(bin.node.id) ? 0 : 1, Double(fill.zoneCounts[bin.node.zone, default: 0]),
                    Double(partners), Double(-bin.room), Double(bin.load), zoneLoad[bin.node.zone, default: 0],
                    Double(bin.node.id),
                ]
            }
            return fill.bins.indices.filter { fill.bins[$0].room > 0 }.min {
                key($0).lexicographicallyPrecedes(key($1))
            }
        }

        /// What has been assigned so far.
        private struct Fill {
            var bins: [Bin]
            var zoneCounts: [String: Int] = [:]

            mutating func put(_ item: Item, in bin: Int) {
                bins[bin].count += 1
                if let partner = item.partner { bins[bin].partners[partner, default: 0] += 1 }
                zoneCounts[bins[bin].node.zone, default: 0] += 1
            }
        }
    }
}
