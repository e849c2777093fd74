extension Placement {
    /// Re-places only the read-only replicas in `zone`, on that zone's `nodes`, keeping every
    /// leader and every other zone's replicas as they are: replica failover
    /// (docs/architecture.md, "Replica failover"). A replica on one of `nodes` stays unless the
    /// balance within the zone (a topic's replicas per node differ by at most one) needs its slot;
    /// the others (on a node not in `nodes`, or missing) go where `place` would put them.
    ///
    /// - Parameter zoneOfLeader: the zone of every leader in `requests`, eligible or not; a
    ///   partition led from `zone` gets no replica there.
    /// - Returns: the new assignment of each partition, keyed by topic name; `requests` unchanged
    ///   when `nodes` has no node in `zone` (there is nowhere to move to).
    package static func placeReplicas(
        _ requests: [TopicPlacementRequest],
        inZone zone: String,
        on nodes: [PlacementNode],
        zoneOfLeader: [Int: String]
    ) -> [String: [PartitionAssignment?]] {
        var seen = Set<Int>()
        let bins = nodes.filter { $0.zone == zone && seen.insert($0.id).inserted }.sorted { $0.id < $1.id }
        let ordered = requests.sorted { $0.topic < $1.topic }
        guard !bins.isEmpty else {
            return Dictionary(ordered.map { ($0.topic, $0.current) }, uniquingKeysWith: { first, _ in first })
        }
        let binIDs = Set(bins.map(\.id))
        var load = Load()
        for request in ordered { load.add(request.current.compactMap(\.self)) }
        var result: [String: [PartitionAssignment?]] = [:]
        for request in ordered {
            var placed = request.current
            let indexes = placed.indices.filter { index in
                guard let assignment = placed[index] else { return false }
                return zoneOfLeader[assignment.leader] != zone
            }
            let items = indexes.map { index in
                let current = placed[index]?.replicas[zone]
                let keep = current.flatMap { binIDs.contains($0) ? $0 : nil }
                return BalancedAssignment.Item(current: keep, changing: keep == nil, partner: placed[index]?.leader)
            }
            load.remove(request.current.compactMap(\.self))
            let chosen = BalancedAssignment(bins: bins, load: load.replicas).assign(items)
            for (index, node) in zip(indexes, chosen) { placed[index]?.replicas[zone] = node }
            load.add(placed.compactMap(\.self))
            result[request.topic] = placed
        }
        return result
    }
}
