/// Which zones have a read-only replica a client there can use, and which zones replica failover
/// should repair (docs/architecture.md, "Replica failover"). Pure functions of the topology.
///
/// A replica is usable when its node is alive. Agents route a zone's clients to the true leader
/// when the partition has no replica entry for the zone or the entry's node is not alive, so the
/// control plane may leave a replica on a down node when the zone has no up node to move it to.
package enum ReplicaCoverage {
    /// A node replicas may move to: active and heard from.
    package static func isUp(_ node: NodeInfo) -> Bool {
        node.adminState == .active && node.liveness == .alive
    }

    /// The zones a failover round re-places replicas in: zones with an up node where some
    /// partition led from another zone has no replica, or has it on a node that is down (or gone).
    /// Replicas on nodes that are stopped or never registered are left alone: they are not
    /// failures, and the node is expected back.
    package static func zonesToRepair(partitions: [PartitionInfo], nodes: [NodeInfo]) -> [String] {
        let upZones = Set(nodes.filter(isUp).map(\.zone))
        if upZones.isEmpty { return [] }
        let byID = Dictionary(nodes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var repair = Set<String>()
        for partition in partitions {
            guard let leaderZone = byID[partition.leader]?.zone else { continue }
            for zone in upZones where zone != leaderZone && !repair.contains(zone) {
                guard let replica = partition.replicas[zone], let node = byID[replica], node.liveness != .down else {
                    repair.insert(zone)
                    continue
                }
            }
        }
        return repair.sorted()
    }

    /// The zones of `zones` other than the leader's whose replica of `partition` is missing or on
    /// a node that is not alive: their clients are served by the true leader, across zones.
    package static func zonesWithoutLiveReplica(
        _ partition: PartitionInfo,
        zones: [String],
        nodes: [Int: NodeInfo]
    ) -> [String] {
        let leaderZone = nodes[partition.leader]?.zone
        return zones.filter { zone in
            guard zone != leaderZone else { return false }
            guard let replica = partition.replicas[zone], let node = nodes[replica] else { return true }
            return node.liveness != .alive
        }
    }
}

/// A partition as `amq topic describe` and `amq partition list` show it: where it lives, and for
/// a route-enabled topic, the zones whose clients have no live replica to read from.
package struct PartitionStatus: Codable, Sendable, Equatable {
    package var topic: String
    package var index: Int
    package var leader: Int
    package var leaderEpoch: Int
    package var replicas: [String: Int]
    /// Empty for topics without routing: their clients always use the leader.
    package var zonesWithoutReplica: [String]

    /// The status of each of `partitions` in the cluster `snapshot` describes.
    package static func of(_ partitions: [PartitionInfo], in snapshot: TopologySnapshot) -> [PartitionStatus] {
        let nodes = Dictionary(snapshot.nodes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let routed = Set(snapshot.topics.filter(\.config.routeEnabled).map(\.name))
        let zones = snapshot.zones.map(\.name)
        return partitions.map { partition in
            PartitionStatus(
                topic: partition.topic, index: partition.index, leader: partition.leader, leaderEpoch: partition.leaderEpoch,
                replicas: partition.replicas,
                zonesWithoutReplica: routed.contains(partition.topic)
                    ? ReplicaCoverage.zonesWithoutLiveReplica(partition, zones: zones, nodes: nodes) : []
            )
        }
    }
}
