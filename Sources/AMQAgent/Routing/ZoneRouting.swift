import AMQControlPlane

/// Who serves a partition to a client, by the client's zone: the decision at the heart of zone
/// routing, pure, built once per topology version. For a topic with routing on and a client in a
/// known zone, the partition is represented in that zone by its leader when the leader is there,
/// else by its read-only replica there; a zone whose replica is not alive (or that has none) falls
/// back to the leader. Everything else is classic Kafka: the leader serves everyone.
/// docs/zone-routing.md.
struct ZoneRouting: Sendable {
    /// How this agent should treat one partition's data request.
    enum Serving: Sendable, Equatable {
        /// This agent leads it and serves the client itself.
        case leader
        /// This agent is the client's zone's read-only replica of a partition `leader` leads:
        /// fetches are read here, produces are proxied to the leader.
        case replica(leader: Int)
        /// Another agent serves this client (NOT_LEADER_OR_FOLLOWER, naming it).
        case elsewhere(Int)
    }

    let me: Int
    private let nodeZones: [Int: String]
    private let alive: Set<Int>

    init(topology: TopologySnapshot, me: Int) {
        self.me = me
        nodeZones = Dictionary(topology.nodes.map { ($0.id, $0.zone) }, uniquingKeysWith: { first, _ in first })
        alive = Set(topology.nodes.filter { $0.liveness == .alive }.map(\.id))
    }

    /// The agent clients in `zone` see as the partition's leader.
    func representative(of partition: PartitionInfo, routed: Bool, in zone: String?) -> Int {
        guard routed, let zone else { return partition.leader }
        if nodeZones[partition.leader] == zone { return partition.leader }
        if let replica = partition.replicas[zone], alive.contains(replica) { return replica }
        return partition.leader
    }

    func serving(_ partition: PartitionInfo, routed: Bool, clientZone: String?) -> Serving {
        let representative = representative(of: partition, routed: routed, in: clientZone)
        guard representative == me else { return .elsewhere(representative) }
        return partition.leader == me ? .leader : .replica(leader: partition.leader)
    }
}
