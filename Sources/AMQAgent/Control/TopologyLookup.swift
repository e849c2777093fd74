import AMQControlPlane
import AMQSecurity

/// A topology snapshot indexed for the Kafka handlers, built once per topology version: requests
/// look topics, partitions and nodes up per partition, and a linear scan of the snapshot for each
/// would make a Metadata answer quadratic in the partition count.
struct TopologyLookup: Sendable {
    let topics: [String: TopicInfo]
    /// Per topic, ordered by index.
    let partitions: [String: [PartitionInfo]]
    let nodes: [Int: NodeInfo]
    /// Alive agents with a Kafka listener, by id: the brokers clients are told about.
    let brokers: [NodeInfo]
    /// The cluster's zones, and their CIDRs for finding a client's zone by its address.
    let zones: Set<String>
    let zoneCIDRs: ZoneCIDRMap
    /// Kafka users by name, for SASL.
    let users: [String: UserCredentials]
    /// The ACLs and settings authorization decides by; see ``KafkaBroker/access(_:_:)``.
    let acls: [ACLBinding]
    let superUsers: Set<String>
    let allowEveryoneIfNoACLFound: Bool?
    /// KIP-368's session lifetime for SASL connections; 0 for none.
    let connectionsMaxReauthMs: Int

    init(_ topology: TopologySnapshot) {
        connectionsMaxReauthMs = topology.settings.connectionsMaxReauthMs
        users = Dictionary(topology.security.users.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        acls = topology.security.acls
        superUsers = Set(topology.settings.superUsers)
        allowEveryoneIfNoACLFound = topology.settings.allowEveryoneIfNoACLFound
        topics = Dictionary(topology.topics.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        partitions = Dictionary(grouping: topology.partitions, by: \.topic).mapValues { $0.sorted { $0.index < $1.index } }
        nodes = Dictionary(topology.nodes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        brokers = topology.nodes.filter { $0.liveness == .alive && $0.kafkaPort != nil }.sorted { $0.id < $1.id }
        zones = Set(topology.zones.map(\.name))
        zoneCIDRs = ZoneCIDRMap(topology.zones)
    }
}
