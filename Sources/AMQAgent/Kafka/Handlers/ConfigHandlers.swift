import AMQControlPlane
import AMQKafkaProtocol
import AMQSecurity

/// AlterConfigs v0–2 and IncrementalAlterConfigs v0–1 (topics, and the broker default: the
/// cluster settings Kafka has broker configs for), ElectLeaders v0–2, ListPartitionReassignments
/// v0. Changes go through the controller, validated, versioned and audited like `amq topic alter`
/// and `amq cluster set`; DescribeConfigs shows them once the topology reaches this agent.
extension AdminHandlers {
    /// IncrementalAlterConfigs operations (Kafka's OpType).
    enum ConfigOperation: Int8 {
        case set = 0, delete = 1, append = 2, subtract = 3
    }

    /// One resource's change, whichever API asked.
    struct ConfigChange {
        var set: [String: String] = [:]
        var reset: [String] = []
        /// AlterConfigs replaces the whole set: what it does not name goes back to the default.
        var replace = false
    }

    // MARK: AlterConfigs

    func handle(_ request: AlterConfigsRequest, _ context: KafkaRequestContext) async throws -> AlterConfigsResponse {
        var response = AlterConfigsResponse()
        let repeated = Self.repeated(request.resources.map { "\($0.resourceType)\u{0}\($0.resourceName)" })
        for resource in request.resources {
            var change = ConfigChange(replace: true)
            for config in resource.configs {
                if let value = config.value { change.set[config.name] = value } else { change.reset.append(config.name) }
            }
            let duplicate = repeated.contains("\(resource.resourceType)\u{0}\(resource.resourceName)")
                || !Self.repeated(resource.configs.map(\.name)).isEmpty
            var outcome: (KafkaErrorCode, String?) = (.invalidRequest, "a resource or config named twice")
            if !duplicate {
                outcome = await apply(change, type: resource.resourceType, name: resource.resourceName, validateOnly: request.validateOnly, context)
            }
            let (code, message) = outcome
            response.responses.append(
                .init(errorCode: code, errorMessage: message, resourceType: resource.resourceType, resourceName: resource.resourceName)
            )
        }
        return response
    }

    // MARK: IncrementalAlterConfigs

    func handle(_ request: IncrementalAlterConfigsRequest, _ context: KafkaRequestContext) async throws -> IncrementalAlterConfigsResponse {
        var response = IncrementalAlterConfigsResponse()
        let repeated = Self.repeated(request.resources.map { "\($0.resourceType)\u{0}\($0.resourceName)" })
        for resource in request.resources {
            var change = ConfigChange()
            var refusal: (KafkaErrorCode, String)?
            if repeated.contains("\(resource.resourceType)\u{0}\(resource.resourceName)") || !Self.repeated(resource.configs.map(\.name)).isEmpty {
                refusal = (.invalidRequest, "a resource or config named twice")
            }
            for config in resource.configs where refusal == nil {
                switch ConfigOperation(rawValue: config.configOperation) {
                case .set?:
                    guard let value = config.value else {
                        refusal = (.invalidRequest, "SET \(config.name) needs a value")
                        break
                    }
                    change.set[config.name] = value
                case .delete?:
                    change.reset.append(config.name)
                case .append?, .subtract?:
                    // No config amq keeps is a list (cleanup.policy can only be delete).
                    refusal = (.invalidConfig, "\(config.name) is not a list config: APPEND and SUBTRACT do not apply")
                case nil:
                    refusal = (.invalidRequest, "unknown config operation \(config.configOperation)")
                }
            }
            var outcome: (KafkaErrorCode, String?)
            if let refusal {
                outcome = (refusal.0, refusal.1)
            } else {
                outcome = await apply(change, type: resource.resourceType, name: resource.resourceName, validateOnly: request.validateOnly, context)
            }
            let (code, message) = outcome
            response.responses.append(
                .init(errorCode: code, errorMessage: message, resourceType: resource.resourceType, resourceName: resource.resourceName)
            )
        }
        return response
    }

    /// Applies one resource's change through the controller; the Kafka error (or none) and message.
    private func apply(_ change: ConfigChange, type: Int8, name: String, validateOnly: Bool, _ context: KafkaRequestContext) async -> (KafkaErrorCode, String?) {
        guard AdminHandlers.mayConfigure(.alterConfigs, type, name, context) else {
            return type == Self.topicResource
                ? (.topicAuthorizationFailed, "\(context.access.principal) may not alter the configs of topic \(name)")
                : (.clusterAuthorizationFailed, "\(context.access.principal) may not alter the cluster's configs")
        }
        let broker = self.broker.acting(for: context)
        do {
            switch type {
            case Self.topicResource:
                _ = try await broker.control.alterTopicConfigs(
                    name, .init(set: change.set, reset: change.reset, replace: change.replace, validateOnly: validateOnly)
                )
            case Self.brokerResource:
                // amq's broker configs are cluster settings, one value for every agent: the
                // cluster-wide default entity (resource name "") or any agent's id changes them
                // for all (clients that can only name a broker, kafka-python's, still work).
                let known = await broker.view()?.topology.nodes.contains { String($0.id) == name } ?? false
                guard name.isEmpty || known else {
                    return (.invalidRequest, "no broker \(name); amq's broker configs apply to every agent: alter the broker default (resource name \"\")")
                }
                let settings = Dictionary(uniqueKeysWithValues: Self.brokerSettings.map { ($0.kafka, $0.setting) })
                var set: [String: String] = [:]
                var reset: [String] = []
                for key in change.set.keys.sorted() + change.reset {
                    guard let setting = settings[key] ?? (ClusterSettings.keys.contains(key) ? key : nil) else {
                        return (.invalidConfig, "\(key) is not a broker config amq has; it has \(Self.brokerSettings.map(\.kafka).joined(separator: ", "))")
                    }
                    if let value = change.set[key] { set[setting] = value } else { reset.append(setting) }
                }
                if change.replace {
                    // Replacing the default entity's whole set: what it does not name goes back.
                    for (kafka, setting) in Self.brokerSettings where change.set[kafka] == nil && set[setting] == nil { reset.append(setting) }
                }
                _ = try await broker.control.alterSettings(.init(set: set, reset: reset, validateOnly: validateOnly))
            default:
                return (.invalidRequest, "resource type \(type) is not supported")
            }
            return (.none, nil)
        } catch {
            return Self.code(for: error, topicExists: .unknownServerError, invalid: .invalidConfig)
        }
    }

    // MARK: ElectLeaders

    /// amq has no preferred replica apart from the leader its placement picked: a partition whose
    /// leader is up needs no election (ELECTION_NOT_NEEDED), and one whose leader is down is failed
    /// over by the controller on its own (ELIGIBLE_LEADERS_NOT_AVAILABLE until then). Evening out
    /// leaders across agents is `amq cluster rebalance`.
    func handle(_ request: ElectLeadersRequest, _ context: KafkaRequestContext) async throws -> ElectLeadersResponse {
        guard context.mayOnCluster(.alter) else {
            return ElectLeadersResponse(errorCode: .clusterAuthorizationFailed)
        }
        guard let view = await broker.view() else { return ElectLeadersResponse(errorCode: .brokerNotAvailable) }
        let alive = Set(view.brokers.map(\.id))
        let asked: [(String, [Int32])] =
            request.topicPartitions.map { $0.map { ($0.topic, $0.partitions) } }
            ?? view.topology.topics.map { topic in (topic.name, view.partitions(of: topic.name).map { Int32($0.index) }) }
        var response = ElectLeadersResponse()
        for (topic, partitions) in asked {
            var result = ElectLeadersResponse.ReplicaElectionResult(topic: topic)
            for index in partitions {
                let (code, message): (KafkaErrorCode, String?) =
                    if let partition = view.partition(topic, Int(index)) {
                        alive.contains(partition.leader)
                            ? (.electionNotNeeded, "node \(partition.leader) leads it")
                            : (.eligibleLeadersNotAvailable, "its leader is down; the controller fails it over")
                    } else {
                        (.unknownTopicOrPartition, nil)
                    }
                result.partitionResult.append(.init(partitionId: index, errorCode: code, errorMessage: message))
            }
            response.replicaElectionResults.append(result)
        }
        return response
    }

    // MARK: ListPartitionReassignments

    /// amq moves partitions by placement in one topology change, never by a reassignment in
    /// progress: there is none to list.
    func handle(_ request: ListPartitionReassignmentsRequest, _ context: KafkaRequestContext) async throws -> ListPartitionReassignmentsResponse {
        guard context.mayOnCluster(.describe) else {
            return ListPartitionReassignmentsResponse(errorCode: .clusterAuthorizationFailed, errorMessage: "\(context.access.principal) may not describe the cluster")
        }
        return ListPartitionReassignmentsResponse()
    }
}
