import AMQKafkaProtocol
import NIOCore

/// A group as ListGroups reports it.
package struct ListedGroup: Sendable, Equatable, Codable {
    package var groupID: String
    package var protocolType: String
    package var state: String
    package var coordinator: Int32
}

/// A committed offset; `KafkaSentinel.unknownOffset` when the group has none for the partition.
package struct CommittedOffset: Sendable, Equatable {
    package var topic: String
    package var partition: Int32
    package var offset: Int64
    package var metadata: String?
}

extension KafkaClient {
    // MARK: Coordinator

    /// The broker coordinating `group` (FindCoordinator, group key type), retrying while the
    /// coordinator is not available yet.
    package func findCoordinator(group: String) async throws -> BrokerAddress {
        var lastCode = KafkaErrorCode.none
        for attempt in 1...configuration.attempts {
            if attempt > 1 { try await backoff(attempt - 1) }
            let (response, version) = try await callAnyBroker { version in
                // v4+ batches keys in CoordinatorKeys (KIP-699); earlier versions take one Key.
                version >= 4
                    ? FindCoordinatorRequest(keyType: CoordinatorKeyType.group, coordinatorKeys: [group])
                    : FindCoordinatorRequest(key: group, keyType: CoordinatorKeyType.group)
            }
            let (code, host, port): (KafkaErrorCode, String, Int32)
            if version >= 4 {
                guard let coordinator = response.coordinators.first(where: { $0.key == group }) ?? response.coordinators.first else {
                    throw KafkaClientError(.protocolError, "FindCoordinator returned no coordinator for group \"\(group)\"")
                }
                (code, host, port) = (coordinator.errorCode, coordinator.host, coordinator.port)
            } else {
                (code, host, port) = (response.errorCode, response.host, response.port)
            }
            if code == .none { return BrokerAddress(host: host, port: Int(port)) }
            lastCode = code
            guard code.isRetriableWithRefresh else { throw KafkaClientError.broker(code, "FindCoordinator for group \"\(group)\"") }
        }
        throw KafkaClientError.broker(lastCode, "FindCoordinator for group \"\(group)\" after \(configuration.attempts) attempts")
    }

    // MARK: Offsets

    /// Commits `offsets` (the next offset to read, per partition of `topic`). No generation with
    /// an empty member id commits for an empty group, as standalone consumers and admin tools do.
    package func commitOffsets(
        group: String, coordinator: BrokerAddress, topic: String, offsets: [Int32: Int64], generation: Int32 = KafkaSentinel.noGeneration, memberID: String = ""
    ) async throws {
        guard !offsets.isEmpty else { return }
        let (response, _) = try await call(coordinator) { _ in
            OffsetCommitRequest(
                groupId: group, generationIdOrMemberEpoch: generation, memberId: memberID, retentionTimeMs: KafkaSentinel.defaultRetentionTime,
                topics: [
                    .init(
                        name: topic,
                        partitions: offsets.sorted { $0.key < $1.key }.map {
                            .init(partitionIndex: $0.key, committedOffset: $0.value, committedLeaderEpoch: KafkaSentinel.unknownLeaderEpoch, commitTimestamp: KafkaSentinel.noTimestamp, committedMetadata: "")
                        }
                    )
                ]
            )
        }
        for partition in response.topics.flatMap(\.partitions) where partition.errorCode != .none {
            throw KafkaClientError.broker(partition.errorCode, "OffsetCommit for group \"\(group)\" partition \(partition.partitionIndex)")
        }
    }

    /// The group's committed offsets: for `topics`, or every topic the group has offsets for.
    package func committedOffsets(group: String, coordinator: BrokerAddress, topics: [String: [Int32]]?) async throws -> [CommittedOffset] {
        let sortedTopics = topics.map { $0.sorted { $0.key < $1.key } }
        let (response, version) = try await call(coordinator) { version -> OffsetFetchRequest in
            if version >= 8 {
                // v8+ asks for several groups at once (KIP-709).
                let wanted: [OffsetFetchRequest.OffsetFetchRequestTopics]? = sortedTopics.map { $0.map { .init(name: $0.key, partitionIndexes: $0.value) } }
                return OffsetFetchRequest(groups: [.init(groupId: group, memberId: nil, memberEpoch: KafkaSentinel.noMemberEpoch, topics: wanted)])
            }
            let wanted: [OffsetFetchRequest.OffsetFetchRequestTopic]? = sortedTopics.map { $0.map { .init(name: $0.key, partitionIndexes: $0.value) } }
            return OffsetFetchRequest(groupId: group, topics: wanted)
        }
        var result: [CommittedOffset] = []
        if version >= 8 {
            guard let answer = response.groups.first(where: { $0.groupId == group }) ?? response.groups.first else { return [] }
            guard answer.errorCode == .none else { throw KafkaClientError.broker(answer.errorCode, "OffsetFetch for group \"\(group)\"") }
            for topic in answer.topics {
                for partition in topic.partitions {
                    guard partition.errorCode == .none else { throw KafkaClientError.broker(partition.errorCode, "OffsetFetch for \(topic.name)") }
                    result.append(.init(topic: topic.name, partition: partition.partitionIndex, offset: partition.committedOffset, metadata: partition.metadata))
                }
            }
        } else {
            guard response.errorCode == .none else { throw KafkaClientError.broker(response.errorCode, "OffsetFetch for group \"\(group)\"") }
            for topic in response.topics {
                for partition in topic.partitions {
                    guard partition.errorCode == .none else { throw KafkaClientError.broker(partition.errorCode, "OffsetFetch for \(topic.name)") }
                    result.append(.init(topic: topic.name, partition: partition.partitionIndex, offset: partition.committedOffset, metadata: partition.metadata))
                }
            }
        }
        return result.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }

    // MARK: Membership (classic protocol)

    /// JoinGroup; the response may take up to the rebalance timeout, so the call waits longer.
    func joinGroup(_ request: JoinGroupRequest, coordinator: BrokerAddress) async throws -> JoinGroupResponse {
        let timeout = configuration.requestTimeout + .milliseconds(Int64(max(request.rebalanceTimeoutMs, request.sessionTimeoutMs)))
        return try await call(coordinator, timeout: timeout) { _ in request }.response
    }

    func syncGroup(_ request: SyncGroupRequest, coordinator: BrokerAddress, rebalanceTimeout: Duration) async throws -> SyncGroupResponse {
        try await call(coordinator, timeout: configuration.requestTimeout + rebalanceTimeout) { _ in request }.response
    }

    func heartbeat(group: String, generation: Int32, memberID: String, coordinator: BrokerAddress) async throws -> KafkaErrorCode {
        try await call(coordinator) { _ in HeartbeatRequest(groupId: group, generationId: generation, memberId: memberID) }.response.errorCode
    }

    func leaveGroup(group: String, memberID: String, coordinator: BrokerAddress) async throws -> KafkaErrorCode {
        let (response, _) = try await call(coordinator) { version in
            // v3+ leaves several members at once (KIP-345).
            version >= 3
                ? LeaveGroupRequest(groupId: group, members: [.init(memberId: memberID, groupInstanceId: nil, reason: "amq consume exiting")])
                : LeaveGroupRequest(groupId: group, memberId: memberID)
        }
        return response.errorCode != .none ? response.errorCode : (response.members.first { $0.errorCode != .none }?.errorCode ?? KafkaErrorCode.none)
    }

    // MARK: Groups admin

    /// Every group on every broker (each coordinates a share).
    package func listGroups() async throws -> [ListedGroup] {
        var groups: [ListedGroup] = []
        for broker in try await allBrokers() {
            let (response, _) = try await call(broker.address) { _ in ListGroupsRequest() }
            guard response.errorCode == .none else { throw KafkaClientError.broker(response.errorCode, "ListGroups on broker \(broker.address)") }
            groups += response.groups.map {
                ListedGroup(groupID: $0.groupId, protocolType: $0.protocolType, state: $0.groupState.isEmpty ? "-" : $0.groupState, coordinator: broker.nodeID)
            }
        }
        var seen = Set<String>()
        return groups.sorted { $0.groupID < $1.groupID }.filter { seen.insert($0.groupID).inserted }
    }

    package func describeGroup(_ group: String, coordinator: BrokerAddress) async throws -> DescribeGroupsResponse.DescribedGroup {
        let (response, _) = try await call(coordinator) { _ in DescribeGroupsRequest(groups: [group]) }
        guard let described = response.groups.first(where: { $0.groupId == group }) else {
            throw KafkaClientError(.protocolError, "DescribeGroups from \(coordinator) did not mention group \"\(group)\"")
        }
        guard described.errorCode == .none else { throw KafkaClientError.broker(described.errorCode, "DescribeGroups for \"\(group)\"") }
        return described
    }
}
