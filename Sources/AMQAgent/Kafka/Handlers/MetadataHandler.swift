import AMQControlPlane
import AMQKafkaProtocol
import AMQSecurity
import AMQStorage
import AMQStreamIndex
import Logging

/// Metadata v0–12. Topics null = all, [] = brokers only (in v0, [] = all). Brokers are the alive agents with their
/// advertised Kafka address and their zone as rack. Each partition's leader is its leading agent
/// (replicas and ISR name the leader only: S3 is the replica). A partition whose leader is down
/// answers LEADER_NOT_AVAILABLE with leader -1. An unknown topic is created when both the request
/// (v4+ AllowAutoTopicCreation) and the cluster (`auto.create.topics.enable`) allow it, and then
/// answered LEADER_NOT_AVAILABLE so the client asks again; else UNKNOWN_TOPIC_OR_PARTITION.
/// Topic ids are all zero: clients then stay on name-based Fetch/Produce versions.
///
/// Zone routing: for a topic with routing on, a client whose zone is known sees as each
/// partition's leader the agent that represents the partition in its zone — the leader itself
/// when it is there, else the read-only replica there (docs/zone-routing.md).
struct MetadataHandler {
    let broker: KafkaBroker

    func handle(_ request: MetadataRequest, _ context: KafkaRequestContext) async throws -> MetadataResponse {
        guard var view = await broker.view() else {
            // Not registered yet: nothing to say but "try again".
            return MetadataResponse(
                topics: (request.topics ?? []).map { .init(errorCode: .leaderNotAvailable, name: $0.name ?? "") }
            )
        }
        let names: [String]
        // v0 has no null: there an empty list means every topic.
        if let topics = request.topics, !(topics.isEmpty && context.version == 0) {
            names = topics.compactMap(\.name)
        } else {
            // Every topic the client may describe, as Kafka lists them.
            names = view.topology.topics.map(\.name).sorted().filter { context.may(.describe, .topic, $0) }
        }
        // Auto-creation first, so the answer below reflects it.
        let allowCreate = context.version < 4 || request.allowAutoTopicCreation
        var justCreated: Set<String> = []
        if request.topics != nil, allowCreate, view.topology.settings.autoCreateTopics {
            var created = false
            for name in names where view.topic(name) == nil && Self.isValidTopicName(name)
                && (context.mayOnCluster(.create) || context.may(.create, .topic, name))
            {
                do {
                    _ = try await context.control(broker).createTopic(name: name, partitions: view.topology.settings.defaultPartitions)
                    created = true
                    justCreated.insert(name)
                    context.logger.info("Auto-created topic", metadata: ["amq.topic": "\(name)"])
                } catch let error as ControlPlaneError where error.code == .topicExists {
                    created = true
                } catch {
                    context.logger.warning("Auto-creating a topic failed", metadata: ["amq.topic": "\(name)", "amq.error": "\(error)"])
                }
            }
            if created, let fresh = await broker.view() { view = fresh }
        }
        let brokers = view.brokers
        let alive = Set(brokers.map(\.id))
        let zone = broker.clientZone(context, view: view)
        var response = MetadataResponse(
            brokers: brokers.map { node in
                .init(nodeId: Int32(node.id), host: node.host, port: Int32(node.kafkaPort(listener: context.session.security.listener.rawValue) ?? 0), rack: node.zone)
            },
            clusterId: view.clusterID,
            controllerId: view.controllerID
        )
        // What this agent's engine leads now: a partition the topology gives it is only named
        // with a leader once taken.
        var led: Set<PartitionKey>?
        if let storage = view.storage { led = Set(await storage.ledPartitions) }
        for name in names {
            guard context.may(.describe, .topic, name) else {
                response.topics.append(.init(errorCode: .topicAuthorizationFailed, name: name))
                continue
            }
            guard Self.isValidTopicName(name) else {
                response.topics.append(.init(errorCode: .invalidTopicException, name: name))
                continue
            }
            // As Kafka: the answer that auto-creates a topic says its leader is not available yet;
            // the client asks again, by when the leader has taken it.
            guard view.topic(name) != nil, !justCreated.contains(name) else {
                let autoCreating = request.topics != nil && allowCreate && view.topology.settings.autoCreateTopics
                response.topics.append(
                    .init(errorCode: autoCreating ? .leaderNotAvailable : .unknownTopicOrPartition, name: name)
                )
                continue
            }
            let routed = view.topic(name)?.config.routeEnabled ?? false
            let partitions = view.partitions(of: name).map { partition -> MetadataResponse.MetadataResponsePartition in
                guard alive.contains(partition.leader) else {
                    return .init(
                        errorCode: .leaderNotAvailable, partitionIndex: Int32(partition.index), leaderId: KafkaSentinel.noNode,
                        leaderEpoch: Int32(partition.leaderEpoch), replicaNodes: [Int32(partition.leader)], isrNodes: [],
                        offlineReplicas: [Int32(partition.leader)]
                    )
                }
                let leader = Int32(view.routing.representative(of: partition, routed: routed, in: zone?.zone))
                if partition.leader == view.node.id, let led, let topic = view.topic(name),
                    !led.contains(PartitionKey(topicID: topic.id, partition: partition.index))
                {
                    // Ours, but the log is still loading: no leader to write to yet, as Kafka says
                    // during an election.
                    return .init(
                        errorCode: .leaderNotAvailable, partitionIndex: Int32(partition.index), leaderId: KafkaSentinel.noNode,
                        leaderEpoch: Int32(partition.leaderEpoch), replicaNodes: [leader], isrNodes: []
                    )
                }
                return .init(
                    errorCode: .none, partitionIndex: Int32(partition.index), leaderId: leader,
                    leaderEpoch: Int32(partition.leaderEpoch), replicaNodes: [leader], isrNodes: [leader]
                )
            }
            response.topics.append(.init(errorCode: .none, name: name, partitions: partitions))
        }
        return response
    }

    /// Kafka's rule: 1–249 characters of `[a-zA-Z0-9._-]`, not "." or "..".
    static func isValidTopicName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 249, name != ".", name != ".." else { return false }
        return name.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
    }
}
