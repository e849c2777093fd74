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
    /// One entry per partition the topic must have after placement (index = partition index);
    /// nil for a new partition. Entries may name nodes that are no longer eligible.
    package var current: [PartitionAssignment?]
    package init(topic: String, current: [PartitionAssignment?]) {
        self.topic = topic
        self.current = current
    }
}

package enum PlacementError: Error, Sendable, Equatable {
    case noEligibleNodes
}

/// Placement of partition leaders and read-only replicas: a pure function, no I/O.
///
/// Within each topic, leaders per node differ by at most one; every partition gets one read-only
/// replica in each other zone that has nodes, spread evenly over that zone's nodes. A partition
/// keeps its current leader and replicas whenever that stays within those bounds, and the nodes
/// allowed one item more than the rest are those that already hold more, so a change of nodes
/// moves as few partitions as the bounds allow. Ties go to the emptier zone, then to the node
/// with less load across all topics, then to the smaller id, so the result is deterministic.
package enum Placement {
    package static func place(
        _ requests: [TopicPlacementRequest],
        on nodes: [PlacementNode]
    ) throws(PlacementError) -> [String: [PartitionAssignment]] {
        guard !nodes.isEmpty else { throw .noEligibleNodes }
        let cluster = ClusterShape(nodes: nodes)
        var leaderLoad = Load()
        var replicaLoad = Load()
        var result: [String: [PartitionAssignment]] = [:]
        for request in requests.sorted(by: { $0.topic < $1.topic }) {
            let current = request.current
            let leaders = BalancedAssignment.assign(
                items: Array(current.indices),
                current: current.map { cluster.eligible($0?.leader) },
                bins: cluster.nodeIDs,
                cluster: cluster,
                load: &leaderLoad
            )
            var replicas = Array(repeating: [String: Int](), count: current.count)
            for zone in cluster.zones {
                let items = current.indices.filter { cluster.zoneOf[leaders[$0]!] != zone }
                let assigned = BalancedAssignment.assign(
                    items: items,
                    current: current.map { cluster.eligible($0?.replicas[zone], in: zone) },
                    bins: cluster.nodesByZone[zone] ?? [],
                    cluster: cluster,
                    load: &replicaLoad
                )
                for (item, node) in assigned { replicas[item][zone] = node }
            }
            result[request.topic] = current.indices.map { PartitionAssignment(leader: leaders[$0]!, replicas: replicas[$0]) }
        }
        return result
    }
}

/// The eligible nodes, indexed the ways placement needs.
struct ClusterShape {
    let nodeIDs: [Int]
    let zoneOf: [Int: String]
    let zones: [String]
    let nodesByZone: [String: [Int]]

    init(nodes: [PlacementNode]) {
        let sorted = nodes.sorted { $0.id < $1.id }
        nodeIDs = sorted.map(\.id)
        let zoneOf = Dictionary(sorted.map { ($0.id, $0.zone) }, uniquingKeysWith: { first, _ in first })
        self.zoneOf = zoneOf
        zones = Set(sorted.map(\.zone)).sorted()
        nodesByZone = Dictionary(grouping: sorted.map(\.id), by: { zoneOf[$0]! })
    }

    /// `node` if placement may keep using it (in `zone`, when given).
    func eligible(_ node: Int?, in zone: String? = nil) -> Int? {
        guard let node, let nodeZone = zoneOf[node] else { return nil }
        if let zone, nodeZone != zone { return nil }
        return node
    }
}

/// Items per node across every topic placed so far in one call: the tie-break that keeps many
/// small topics from piling onto the first nodes.
struct Load {
    var perNode: [Int: Int] = [:]

    func zoneLoad(_ zone: String, _ cluster: ClusterShape) -> Double {
        let members = cluster.nodesByZone[zone] ?? []
        guard !members.isEmpty else { return 0 }
        return Double(members.reduce(0) { $0 + perNode[$1, default: 0] }) / Double(members.count)
    }
}

/// Sticky, balanced assignment of items (partition indexes) to bins (nodes).
enum BalancedAssignment {
    /// Assigns every item of `items` to a bin so that per-bin counts differ by at most one,
    /// keeping each item's current bin where that allows.
    /// - Parameter current: per partition index, its current bin if still usable.
    static func assign(
        items: [Int],
        current: [Int?],
        bins: [Int],
        cluster: ClusterShape,
        load loadTotals: inout Load
    ) -> [Int: Int] {
        guard !bins.isEmpty, !items.isEmpty else { return [:] }
        var held: [Int: [Int]] = [:]
        for item in items {
            if let bin = current[item], bins.contains(bin) { held[bin, default: []].append(item) }
        }
        let caps = capacities(items: items.count, bins: bins, held: held, cluster: cluster, load: loadTotals)
        var assignment: [Int: Int] = [:]
        var counts: [Int: Int] = [:]
        var zoneCounts: [String: Int] = [:]
        // Keep what each bin already holds, lowest partition first, up to its capacity.
        for bin in bins {
            for item in (held[bin] ?? []).sorted().prefix(caps[bin]!) {
                assignment[item] = bin
                counts[bin, default: 0] += 1
                zoneCounts[cluster.zoneOf[bin]!, default: 0] += 1
                loadTotals.perNode[bin, default: 0] += 1
            }
        }
        // Place the rest in partition order on the bin with the most room left.
        for item in items where assignment[item] == nil {
            let load = loadTotals
            let bin = bins.filter { counts[$0, default: 0] < caps[$0]! }.min { a, b in
                let key = { (bin: Int) in
                    (
                        -(caps[bin]! - counts[bin, default: 0]), zoneCounts[cluster.zoneOf[bin]!, default: 0],
                        load.zoneLoad(cluster.zoneOf[bin]!, cluster), load.perNode[bin, default: 0], bin
                    )
                }
                return key(a) < key(b)
            }!
            assignment[item] = bin
            counts[bin, default: 0] += 1
            zoneCounts[cluster.zoneOf[bin]!, default: 0] += 1
            loadTotals.perNode[bin, default: 0] += 1
        }
        return assignment
    }

    /// Every bin may hold `items / bins` items; `items % bins` of them one more. Those extra
    /// slots go to the bins that already hold more than the floor (so fewer items move), then to
    /// the zone with fewer extra slots, then to the less loaded node.
    static func capacities(items: Int, bins: [Int], held: [Int: [Int]], cluster: ClusterShape, load: Load) -> [Int: Int] {
        let base = items / bins.count
        var extra = items % bins.count
        var caps = Dictionary(uniqueKeysWithValues: bins.map { ($0, base) })
        var extrasPerZone: [String: Int] = [:]
        var candidates = bins
        while extra > 0 {
            let index = candidates.indices.min { a, b in
                let key = { (bin: Int) in
                    (
                        -min(held[bin]?.count ?? 0, base + 1), extrasPerZone[cluster.zoneOf[bin]!, default: 0],
                        load.zoneLoad(cluster.zoneOf[bin]!, cluster), load.perNode[bin, default: 0], bin
                    )
                }
                return key(candidates[a]) < key(candidates[b])
            }!
            let bin = candidates.remove(at: index)
            caps[bin] = base + 1
            extrasPerZone[cluster.zoneOf[bin]!, default: 0] += 1
            extra -= 1
        }
        return caps
    }
}
