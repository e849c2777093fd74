import AMQControlPlane
import AMQKafkaProtocol
import AMQSecurity
import Logging
import AMQStorage

/// Topic and cluster administration: CreateTopics v2–7, DeleteTopics v1–6, CreatePartitions
/// v0–3, DescribeConfigs v1–4, DeleteRecords v0–2, DescribeCluster v0–1. Every change goes through
/// the controller (the same validation and audit log as `amq topic …`), so the CLI and Kafka admin
/// clients always agree; agents learn the result through the topology long-poll. Any agent
/// answers: it forwards to the controller. Replication factor is accepted and ignored — the object
/// store is the replica — and manual replica assignments are refused.
struct AdminHandlers {
    let broker: KafkaBroker

    // MARK: CreateTopics

    func handle(_ request: CreateTopicsRequest, _ context: KafkaRequestContext) async throws -> CreateTopicsResponse {
        let defaults = await broker.view()?.topology.settings.defaultPartitions ?? 1
        let repeated = Self.repeated(request.topics.map(\.name))
        let mayCreate = context.mayOnCluster(.create)
        var response = CreateTopicsResponse()
        for topic in request.topics {
            var result = CreateTopicsResponse.CreatableTopicResult(name: topic.name)
            let partitions = topic.numPartitions == KafkaSentinel.defaultPartitionCount ? defaults : Int(topic.numPartitions)
            if repeated.contains(topic.name) {
                // As Kafka: every entry of a name given twice is refused, and none is created.
                result.errorCode = .invalidRequest
                result.errorMessage = "the request names topic \(topic.name) more than once"
            } else if !mayCreate && !context.may(.create, .topic, topic.name) {
                result.errorCode = .topicAuthorizationFailed
                result.errorMessage = "\(context.access.principal) may not create topic \(topic.name)"
            } else if !MetadataHandler.isValidTopicName(topic.name) {
                result.errorCode = .invalidTopicException
                result.errorMessage = "topic names are 1-249 characters of [a-zA-Z0-9._-]"
            } else if partitions <= 0 {
                result.errorCode = .invalidPartitions
                result.errorMessage = "number of partitions must be at least 1"
            } else if !topic.assignments.isEmpty {
                result.errorCode = .invalidRequest
                result.errorMessage = "manual replica assignment is not supported: amq places partitions itself"
            } else {
                var configs: [String: String] = [:]
                for config in topic.configs { if let value = config.value { configs[config.name] = value } }
                do {
                    let created = try await context.control(broker).createTopic(
                        name: topic.name, partitions: partitions, configs: configs, validateOnly: request.validateOnly
                    ).topic
                    result.numPartitions = Int32(created.partitions)
                    result.replicationFactor = topic.replicationFactor == KafkaSentinel.defaultReplicationFactor ? 1 : topic.replicationFactor
                    result.configs = Self.describe(created.config).map {
                        .init(name: $0.name, value: $0.value, readOnly: false, configSource: $0.source, isSensitive: false)
                    }
                } catch {
                    (result.errorCode, result.errorMessage) = Self.code(for: error, topicExists: .topicAlreadyExists, invalid: .invalidConfig)
                }
            }
            response.topics.append(result)
        }
        return response
    }

    // MARK: DeleteTopics

    func handle(_ request: DeleteTopicsRequest, _ context: KafkaRequestContext) async throws -> DeleteTopicsResponse {
        let names = context.version >= 6 ? request.topics.map { $0.name } : request.topicNames.map { Optional($0) }
        let repeated = Self.repeated(names.compactMap { $0 })
        var response = DeleteTopicsResponse()
        for name in names {
            var result = DeleteTopicsResponse.DeletableTopicResult(name: name)
            if let name, repeated.contains(name) {
                result.errorCode = .invalidRequest
                result.errorMessage = "the request names topic \(name) more than once"
            } else if let name, !context.may(.delete, .topic, name) {
                result.errorCode = .topicAuthorizationFailed
                result.errorMessage = "\(context.access.principal) may not delete topic \(name)"
            } else if let name {
                do {
                    try await context.control(broker).deleteTopic(name: name)
                } catch {
                    (result.errorCode, result.errorMessage) = Self.code(for: error, topicExists: .unknownServerError, invalid: .invalidRequest)
                }
            } else {
                // By topic id: amq's topics have none a client could know.
                result.errorCode = .unknownTopicID
            }
            response.responses.append(result)
        }
        return response
    }

    // MARK: CreatePartitions

    func handle(_ request: CreatePartitionsRequest, _ context: KafkaRequestContext) async throws -> CreatePartitionsResponse {
        var response = CreatePartitionsResponse()
        let repeated = Self.repeated(request.topics.map(\.name))
        for topic in request.topics {
            var result = CreatePartitionsResponse.CreatePartitionsTopicResult(name: topic.name)
            if repeated.contains(topic.name) {
                result.errorCode = .invalidRequest
                result.errorMessage = "the request names topic \(topic.name) more than once"
            } else if !context.may(.alter, .topic, topic.name) {
                result.errorCode = .topicAuthorizationFailed
                result.errorMessage = "\(context.access.principal) may not alter topic \(topic.name)"
            } else if topic.assignments != nil {
                result.errorCode = .invalidRequest
                result.errorMessage = "manual replica assignment is not supported: amq places partitions itself"
            } else if let current = await broker.view()?.topic(topic.name)?.partitions, Int(topic.count) <= current {
                result.errorCode = .invalidPartitions
                result.errorMessage = "topic \(topic.name) already has \(current) partitions; the count can only grow"
            } else {
                do {
                    _ = try await context.control(broker).createPartitions(topic: topic.name, count: Int(topic.count), validateOnly: request.validateOnly)
                } catch {
                    (result.errorCode, result.errorMessage) = Self.code(for: error, topicExists: .unknownServerError, invalid: .invalidPartitions)
                }
            }
            response.results.append(result)
        }
        return response
    }

    // MARK: DescribeConfigs

    /// Resource types (Kafka's ConfigResource.Type).
    /// Kafka checks DescribeConfigs/AlterConfigs on the topic, and on the cluster for broker configs.
    static func mayConfigure(_ operation: ACLOperation, _ type: Int8, _ name: String, _ context: KafkaRequestContext) -> Bool {
        type == topicResource ? context.may(operation, .topic, name) : context.mayOnCluster(operation)
    }

    static let topicResource: Int8 = 2
    static let brokerResource: Int8 = 4

    func handle(_ request: DescribeConfigsRequest, _ context: KafkaRequestContext) async throws -> DescribeConfigsResponse {
        let view = await broker.view()
        var response = DescribeConfigsResponse()
        for resource in request.resources {
            var result = DescribeConfigsResponse.DescribeConfigsResult(resourceType: resource.resourceType, resourceName: resource.resourceName)
            var entries: [ConfigEntry] = []
            guard Self.mayConfigure(.describeConfigs, resource.resourceType, resource.resourceName, context) else {
                result.errorCode = resource.resourceType == Self.topicResource ? .topicAuthorizationFailed : .clusterAuthorizationFailed
                response.results.append(result)
                continue
            }
            switch resource.resourceType {
            case Self.topicResource:
                if let topic = view?.topic(resource.resourceName) {
                    entries = Self.describe(topic.config)
                } else {
                    result.errorCode = .unknownTopicOrPartition
                    result.errorMessage = "unknown topic \(resource.resourceName)"
                }
            case Self.brokerResource:
                if let view {
                    entries = Self.describeBroker(view)
                } else {
                    result.errorCode = .unknownServerError
                }
            default:
                result.errorCode = .invalidRequest
                result.errorMessage = "resource type \(resource.resourceType) is not supported"
            }
            if let keys = resource.configurationKeys, !keys.isEmpty {
                entries = entries.filter { keys.contains($0.name) }
            }
            result.configs = entries.map { entry in
                .init(
                    name: entry.name, value: entry.value, readOnly: entry.readOnly, configSource: entry.source,
                    isDefault: entry.source == ConfigEntry.defaultSource, isSensitive: false,
                    synonyms: request.includeSynonyms ? [.init(name: entry.name, value: entry.value, source: entry.source)] : []
                )
            }
            response.results.append(result)
        }
        return response
    }

    struct ConfigEntry {
        static let topicSource: Int8 = 1
        static let dynamicDefaultBrokerSource: Int8 = 3
        static let staticBrokerSource: Int8 = 4
        static let defaultSource: Int8 = 5
        var name: String
        var value: String?
        var source: Int8
        var readOnly = false
    }

    /// Kafka's topic configs a client expects to see, with amq's own beside them; explicitly set
    /// values are DYNAMIC_TOPIC_CONFIG, the rest DEFAULT_CONFIG.
    static func describe(_ config: TopicConfig) -> [ConfigEntry] {
        let defaults = TopicConfig()
        var entries: [String: ConfigEntry] = [:]
        for (name, value) in kafkaTopicDefaults { entries[name] = ConfigEntry(name: name, value: value, source: ConfigEntry.defaultSource) }
        for (name, value) in config.allEntries {
            let isDefault = defaults.allEntries.contains { $0.key == name && $0.value == value } && config.extra[name] == nil
            entries[name] = ConfigEntry(name: name, value: value, source: isDefault ? ConfigEntry.defaultSource : ConfigEntry.topicSource)
        }
        return entries.values.sorted { $0.name < $1.name }
    }

    static let kafkaTopicDefaults: [(String, String)] = [
        ("cleanup.policy", "delete"), ("compression.type", "producer"), ("delete.retention.ms", "86400000"),
        ("max.message.bytes", String(ProduceHandler.defaultMaxMessageBytes)), ("message.timestamp.type", "CreateTime"),
        ("min.insync.replicas", "1"), ("segment.bytes", "1073741824"), ("segment.ms", "604800000"),
        ("unclean.leader.election.enable", "false"),
    ]

    /// Broker configs: the cluster settings Kafka has broker configs for (changed ones show as
    /// DYNAMIC_DEFAULT_BROKER_CONFIG: amq's apply to every agent), and a few fixed ones.
    static func describeBroker(_ view: BrokerView) -> [ConfigEntry] {
        let settings = view.topology.settings
        let defaults = ClusterSettings()
        let adjustable = brokerSettings.map { kafkaName, setting in
            let value = settings.value(of: setting)
            return ConfigEntry(
                name: kafkaName, value: value, source: value == defaults.value(of: setting) ? ConfigEntry.defaultSource : ConfigEntry.dynamicDefaultBrokerSource
            )
        }
        return (adjustable + [
            ConfigEntry(name: "broker.id", value: String(view.node.id), source: ConfigEntry.staticBrokerSource, readOnly: true),
            ConfigEntry(name: "broker.rack", value: view.node.zone, source: ConfigEntry.staticBrokerSource, readOnly: true),
            ConfigEntry(name: "message.max.bytes", value: String(ProduceHandler.defaultMaxMessageBytes), source: ConfigEntry.defaultSource, readOnly: true),
            ConfigEntry(name: "log.retention.ms", value: String(TopicConfig().retentionMs), source: ConfigEntry.defaultSource, readOnly: true),
        ]).sorted { $0.name < $1.name }
    }

    /// Kafka broker config → the cluster setting it is (AlterConfigs on the broker default changes it).
    static let brokerSettings: [(kafka: String, setting: String)] = [
        ("auto.create.topics.enable", "auto.create.topics.enable"), ("num.partitions", "default.partitions"),
        ("fetch.max.bytes", "fetch.max.bytes"), ("max.connections", "max.connections"),
        ("connections.max.idle.ms", "connections.max.idle.ms"),
    ]

    // MARK: DeleteRecords

    func handle(_ request: DeleteRecordsRequest, _ context: KafkaRequestContext) async throws -> DeleteRecordsResponse {
        let view = await broker.view()
        var response = DeleteRecordsResponse()
        let repeated = Self.repeated(request.topics.flatMap { topic in topic.partitions.map { GroupPartitionRef(topic: topic.name, partition: Int($0.partitionIndex)) } })
        for topic in request.topics {
            var partitions: [DeleteRecordsResponse.DeleteRecordsPartitionResult] = []
            for partition in topic.partitions {
                var out = DeleteRecordsResponse.DeleteRecordsPartitionResult(partitionIndex: partition.partitionIndex, lowWatermark: KafkaSentinel.unknownOffset)
                if repeated.contains(GroupPartitionRef(topic: topic.name, partition: Int(partition.partitionIndex))) {
                    // Which of two offsets was meant? Neither is applied.
                    out.errorCode = .invalidRequest
                    partitions.append(out)
                    continue
                }
                guard context.may(.delete, .topic, topic.name) else {
                    out.errorCode = .topicAuthorizationFailed
                    partitions.append(out)
                    continue
                }
                do {
                    // Only the leader moves the log start (admin clients send DeleteRecords to the
                    // leader Metadata named; admin tools do not tag a zone).
                    guard let view else { throw BrokerView.NotLed(code: .notLeaderOrFollower) }
                    let (storage, key, _) = try await view.led(topic.name, partition.partitionIndex)
                    let bounds = try await storage.bounds(key)
                    let before = partition.offset == KafkaSentinel.deleteToHighWatermark ? bounds.highWatermark : partition.offset
                    if before < 0 || before > bounds.highWatermark {
                        out.errorCode = .offsetOutOfRange
                    } else {
                        out.lowWatermark = try await storage.deleteRecords(key, before: before)
                    }
                } catch {
                    out.errorCode = KafkaErrorCode(error)
                }
                partitions.append(out)
            }
            response.topics.append(.init(name: topic.name, partitions: partitions))
        }
        return response
    }

    // MARK: DescribeCluster

    func handle(_ request: DescribeClusterRequest, _ context: KafkaRequestContext) async throws -> DescribeClusterResponse {
        guard context.mayOnCluster(.describe) else {
            return DescribeClusterResponse(errorCode: .clusterAuthorizationFailed, errorMessage: "\(context.access.principal) may not describe the cluster")
        }
        guard let view = await broker.view() else {
            return DescribeClusterResponse(errorCode: .brokerNotAvailable, errorMessage: "the agent is starting up")
        }
        return DescribeClusterResponse(
            clusterId: view.clusterID, controllerId: view.controllerID,
            brokers: view.brokers.map { .init(brokerId: Int32($0.id), host: $0.host, port: Int32($0.kafkaPort(listener: context.session.security.listener.rawValue) ?? 0), rack: $0.zone) }
        )
    }

    // MARK: Errors

    /// The entries of `items` given more than once: Kafka refuses each of them with
    /// INVALID_REQUEST and applies none.
    static func repeated<T: Hashable>(_ items: [T]) -> Set<T> {
        var seen = Set<T>()
        var twice = Set<T>()
        for item in items where !seen.insert(item).inserted { twice.insert(item) }
        return twice
    }

    /// The code and message for a failed topic-management call. The controller's errors say more
    /// here than on the data path (`KafkaErrorMapping.swift`), and two of them depend on the API:
    /// an existing topic is only an error for CreateTopics, and a bad argument is a bad config or
    /// partition count depending on what was asked.
    static func code(for error: any Error, topicExists: KafkaErrorCode, invalid: KafkaErrorCode) -> (KafkaErrorCode, String?) {
        guard let error = error as? ControlPlaneError else {
            return (KafkaErrorCode(error), "\(error)")
        }
        let code: KafkaErrorCode
        switch error.code {
        case .topicExists: code = topicExists
        case .topicNotFound: code = .unknownTopicOrPartition
        case .invalidTopicName: code = .invalidTopicException
        case .invalidPartitions: code = .invalidPartitions
        case .invalidConfig: code = .invalidConfig
        case .invalidArgument: code = invalid
        case .controllerUnreachable: code = .requestTimedOut
        default: code = .unknownServerError
        }
        return (code, error.message)
    }
}
