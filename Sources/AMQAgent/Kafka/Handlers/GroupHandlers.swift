import AMQControlPlane
import AMQKafkaProtocol
import AMQSecurity
import AMQStreamIndex
import Logging
import NIOCore

/// The classic consumer-group protocol: FindCoordinator v0–4, JoinGroup v0–9, SyncGroup v0–5,
/// Heartbeat v0–4, LeaveGroup v0–5, OffsetCommit v2–9, OffsetFetch v1–9, ListGroups v0–5,
/// DescribeGroups v0–5, DeleteGroups v0–2.
///
/// Each group has one coordinator: the alive agent its id hashes to (FNV-1a over the sorted alive
/// node ids, so every agent names the same one); others answer NOT_COORDINATOR and clients ask
/// FindCoordinator again. Membership lives in the coordinator's ``GroupCoordinator`` (a plain
/// state machine per group); committed offsets live in the controller's SQLite, so they survive
/// any agent's restart and a coordinator move. Transaction coordinators (key type 1) are not
/// available.
struct GroupHandlers {
    let broker: KafkaBroker

    private var groups: GroupCoordinator { broker.groups }

    /// nil when this agent coordinates `groupID`, else the error to answer with.
    /// Why this agent cannot serve `groupID` for `context` doing `operation`: not allowed
    /// (checked first, as Kafka does), not started, or not its coordinator.
    private func coordinatorError(_ groupID: String, _ view: BrokerView?, _ context: KafkaRequestContext, _ operation: ACLOperation) -> KafkaErrorCode? {
        guard context.may(operation, .group, groupID) else { return .groupAuthorizationFailed }
        return coordinatorError(groupID, view)
    }

    private func coordinatorError(_ groupID: String, _ view: BrokerView?) -> KafkaErrorCode? {
        guard let view else { return .coordinatorNotAvailable }
        let alive = view.brokers.map(\.id)
        guard !alive.isEmpty else { return .coordinatorNotAvailable }
        return GroupCoordinator.coordinatorNode(for: groupID, nodes: alive) == view.node.id ? nil : .notCoordinator
    }

    // MARK: FindCoordinator

    func handle(_ request: FindCoordinatorRequest, _ context: KafkaRequestContext) async throws -> FindCoordinatorResponse {
        let view = await broker.view()
        func find(_ key: String) -> FindCoordinatorResponse.Coordinator {
            guard request.keyType == CoordinatorKeyType.group else {
                // Transactions are not supported: a fatal error makes clients fail at once
                // (librdkafka's init_transactions, Java's initTransactions), where a retriable one
                // had them retry until their timeout.
                let transactional = request.keyType == CoordinatorKeyType.transaction
                return .init(
                    key: key, nodeId: KafkaSentinel.noNode, host: "", port: KafkaSentinel.noNode,
                    errorCode: transactional ? .transactionalIDAuthorizationFailed : .invalidRequest,
                    errorMessage: transactional ? "transactions are not supported by amq" : "unknown coordinator key type \(request.keyType)"
                )
            }
            guard context.may(.describe, .group, key) else {
                // No message: librdkafka then prints the code's own text ("Group authorization failed").
                return .init(key: key, nodeId: KafkaSentinel.noNode, host: "", port: KafkaSentinel.noNode, errorCode: .groupAuthorizationFailed, errorMessage: nil)
            }
            guard let view, !view.brokers.isEmpty else {
                return .init(key: key, nodeId: KafkaSentinel.noNode, host: "", port: KafkaSentinel.noNode, errorCode: .coordinatorNotAvailable)
            }
            let id = GroupCoordinator.coordinatorNode(for: key, nodes: view.brokers.map(\.id))
            guard let node = view.node(id), let port = node.kafkaPort(listener: context.session.security.listener.rawValue) else {
                return .init(key: key, nodeId: KafkaSentinel.noNode, host: "", port: KafkaSentinel.noNode, errorCode: .coordinatorNotAvailable)
            }
            return .init(key: key, nodeId: Int32(id), host: node.host, port: Int32(port), errorCode: .none)
        }
        if context.version >= 4 {
            return FindCoordinatorResponse(coordinators: request.coordinatorKeys.map(find))
        }
        let found = find(request.key)
        return FindCoordinatorResponse(
            errorCode: found.errorCode, errorMessage: found.errorMessage, nodeId: found.nodeId, host: found.host, port: found.port
        )
    }

    // MARK: Membership

    func handle(_ request: JoinGroupRequest, _ context: KafkaRequestContext) async throws -> JoinGroupResponse {
        if let error = coordinatorError(request.groupId, await broker.view(), context, .read) {
            return JoinGroupResponse(errorCode: error, generationId: KafkaSentinel.noGeneration, protocolName: context.version >= 7 ? nil : "", leader: "", memberId: request.memberId)
        }
        let session = Duration.milliseconds(Int64(request.sessionTimeoutMs))
        let input = JoinRequestInput(
            groupID: request.groupId, memberID: request.memberId, groupInstanceID: request.groupInstanceId,
            clientID: context.header.clientID ?? "", clientHost: context.clientHost, sessionTimeout: session,
            rebalanceTimeout: context.version >= 1 && request.rebalanceTimeoutMs > 0 ? .milliseconds(Int64(request.rebalanceTimeoutMs)) : session,
            protocolType: request.protocolType, protocols: request.protocols.map { GroupProtocol(name: $0.name, metadata: $0.metadata) },
            requireKnownMemberID: context.version >= 4
        )
        switch await groups.join(input) {
        case .success(let joined):
            return JoinGroupResponse(
                errorCode: .none, generationId: joined.generationID, protocolType: joined.protocolType, protocolName: joined.protocolName,
                leader: joined.leaderID, skipAssignment: joined.skipAssignment, memberId: joined.memberID,
                members: joined.members.map { .init(memberId: $0.memberID, groupInstanceId: $0.groupInstanceID, metadata: $0.metadata) }
            )
        case .failure(let error):
            var memberID = request.memberId
            if case .memberIDRequired(let assigned) = error { memberID = assigned }
            return JoinGroupResponse(
                errorCode: error.kafkaErrorCode, generationId: KafkaSentinel.noGeneration, protocolName: context.version >= 7 ? nil : "", leader: "", memberId: memberID
            )
        }
    }

    func handle(_ request: SyncGroupRequest, _ context: KafkaRequestContext) async throws -> SyncGroupResponse {
        if let error = coordinatorError(request.groupId, await broker.view(), context, .read) {
            return SyncGroupResponse(errorCode: error)
        }
        var assignments: [String: [UInt8]] = [:]
        for assignment in request.assignments { assignments[assignment.memberId] = assignment.assignment }
        let input = SyncRequestInput(
            groupID: request.groupId, memberID: request.memberId, groupInstanceID: request.groupInstanceId,
            generationID: request.generationId, protocolType: request.protocolType, protocolName: request.protocolName, assignments: assignments
        )
        switch await groups.sync(input) {
        case .success(let synced):
            return SyncGroupResponse(errorCode: .none, protocolType: synced.protocolType, protocolName: synced.protocolName, assignment: synced.assignment)
        case .failure(let error):
            return SyncGroupResponse(errorCode: error.kafkaErrorCode)
        }
    }

    func handle(_ request: HeartbeatRequest, _ context: KafkaRequestContext) async throws -> HeartbeatResponse {
        if let error = coordinatorError(request.groupId, await broker.view(), context, .read) {
            return HeartbeatResponse(errorCode: error)
        }
        let error = await groups.heartbeat(
            HeartbeatRequestInput(groupID: request.groupId, memberID: request.memberId, groupInstanceID: request.groupInstanceId, generationID: request.generationId)
        )
        return HeartbeatResponse(errorCode: error?.kafkaErrorCode ?? KafkaErrorCode.none)
    }

    func handle(_ request: LeaveGroupRequest, _ context: KafkaRequestContext) async throws -> LeaveGroupResponse {
        if let error = coordinatorError(request.groupId, await broker.view(), context, .read) {
            return LeaveGroupResponse(errorCode: error)
        }
        let leaving = context.version >= 3
            ? request.members.map { LeavingMember(memberID: $0.memberId, groupInstanceID: $0.groupInstanceId) }
            : [LeavingMember(memberID: request.memberId)]
        let result = await groups.leave(groupID: request.groupId, members: leaving)
        var response = LeaveGroupResponse(errorCode: result.error?.kafkaErrorCode ?? KafkaErrorCode.none)
        if context.version >= 3 {
            response.members = zip(leaving, result.members).map { member, error in
                .init(memberId: member.memberID, groupInstanceId: member.groupInstanceID, errorCode: error?.kafkaErrorCode ?? KafkaErrorCode.none)
            }
        } else if let first = result.members.first, let error = first {
            response.errorCode = error.kafkaErrorCode
        }
        return response
    }

    // MARK: Offsets

    func handle(_ request: OffsetCommitRequest, _ context: KafkaRequestContext) async throws -> OffsetCommitResponse {
        func answer(_ code: KafkaErrorCode) -> OffsetCommitResponse {
            OffsetCommitResponse(
                topics: request.topics.map { topic in
                    .init(name: topic.name, partitions: topic.partitions.map { .init(partitionIndex: $0.partitionIndex, errorCode: code) })
                }
            )
        }
        if let error = coordinatorError(request.groupId, await broker.view(), context, .read) { return answer(error) }
        // Offsets only for topics the member may read (Kafka answers the others TOPIC_AUTHORIZATION_FAILED).
        let unreadable = Set(request.topics.map(\.name).filter { !context.may(.read, .topic, $0) })
        if let error = await groups.validateOffsetCommit(
            HeartbeatRequestInput(
                groupID: request.groupId, memberID: request.memberId, groupInstanceID: request.groupInstanceId,
                generationID: request.generationIdOrMemberEpoch
            )
        ) {
            return answer(error.kafkaErrorCode)
        }
        let offsets = request.topics.filter { !unreadable.contains($0.name) }.flatMap { topic in
            topic.partitions.map {
                GroupOffset(
                    topic: topic.name, partition: Int($0.partitionIndex), offset: $0.committedOffset, leaderEpoch: $0.committedLeaderEpoch,
                    metadata: $0.committedMetadata
                )
            }
        }
        let results: [GroupOffsetResult]
        do {
            results = try await broker.control.commitOffsets(group: request.groupId, offsets)
        } catch {
            context.logger.warning("Offset commit failed", metadata: ["amq.group": "\(request.groupId)", "amq.error": "\(error)"])
            return answer(.coordinatorNotAvailable)
        }
        var outcome: [String: [Int: KafkaErrorCode]] = [:]
        for topic in request.topics where unreadable.contains(topic.name) {
            for partition in topic.partitions { outcome[topic.name, default: [:]][Int(partition.partitionIndex)] = .topicAuthorizationFailed }
        }
        for result in results {
            outcome[result.topic, default: [:]][result.partition] = switch result.outcome {
            case .ok: KafkaErrorCode.none
            case .unknownTopicOrPartition: .unknownTopicOrPartition
            case .offsetMetadataTooLarge: .offsetMetadataTooLarge
            }
        }
        return OffsetCommitResponse(
            topics: request.topics.map { topic in
                .init(
                    name: topic.name,
                    partitions: topic.partitions.map {
                        .init(partitionIndex: $0.partitionIndex, errorCode: outcome[topic.name]?[Int($0.partitionIndex)] ?? KafkaErrorCode.none)
                    }
                )
            }
        )
    }

    func handle(_ request: OffsetFetchRequest, _ context: KafkaRequestContext) async throws -> OffsetFetchResponse {
        let view = await broker.view()
        if context.version >= 8 {
            var response = OffsetFetchResponse()
            for group in request.groups {
                let wanted = group.topics.map { $0.map { (name: $0.name, partitions: $0.partitionIndexes) } }
                let fetched = await fetch(group.groupId, wanted, view: view, context: context)
                response.groups.append(
                    .init(
                        groupId: group.groupId,
                        topics: fetched.topics.map { topic in
                            .init(
                                name: topic.name,
                                partitions: topic.partitions.map {
                                    .init(partitionIndex: $0.partition, committedOffset: $0.offset, committedLeaderEpoch: $0.leaderEpoch, metadata: $0.metadata, errorCode: $0.error)
                                }
                            )
                        },
                        errorCode: fetched.error
                    )
                )
            }
            return response
        }
        let wanted = request.topics.map { $0.map { (name: $0.name, partitions: $0.partitionIndexes) } }
        let fetched = await fetch(request.groupId, wanted, view: view, context: context)
        var response = OffsetFetchResponse(
            topics: fetched.topics.map { topic in
                .init(
                    name: topic.name,
                    partitions: topic.partitions.map {
                        .init(partitionIndex: $0.partition, committedOffset: $0.offset, committedLeaderEpoch: $0.leaderEpoch, metadata: $0.metadata, errorCode: $0.error)
                    }
                )
            },
            errorCode: fetched.error
        )
        if context.version < 2, fetched.error != .none {
            // No top-level error before v2: every partition carries it.
            for t in response.topics.indices {
                for p in response.topics[t].partitions.indices { response.topics[t].partitions[p].errorCode = fetched.error }
            }
        }
        return response
    }

    private struct FetchedPartition {
        var partition: Int32
        var offset: Int64
        var leaderEpoch: Int32
        var metadata: String?
        var error: KafkaErrorCode = .none
    }

    /// Committed offsets of `groupID` for `wanted` (nil: every committed one). Partitions asked for
    /// without a committed offset get -1, as Kafka answers.
    private func fetch(
        _ groupID: String, _ wanted: [(name: String, partitions: [Int32])]?, view: BrokerView?, context: KafkaRequestContext
    ) async -> (topics: [(name: String, partitions: [FetchedPartition])], error: KafkaErrorCode) {
        if let error = coordinatorError(groupID, view, context, .describe) {
            return ((wanted ?? []).map { ($0.name, $0.partitions.map { FetchedPartition(partition: $0, offset: KafkaSentinel.unknownOffset, leaderEpoch: KafkaSentinel.unknownLeaderEpoch, metadata: "") }) }, error)
        }
        let committed: [GroupOffset]
        do {
            committed = try await broker.control.fetchOffsets(group: groupID, topics: wanted?.map(\.name))
        } catch {
            context.logger.warning("Offset fetch failed", metadata: ["amq.group": "\(groupID)", "amq.error": "\(error)"])
            return ((wanted ?? []).map { ($0.name, []) }, .coordinatorNotAvailable)
        }
        var byTopic: [String: [Int: GroupOffset]] = [:]
        for offset in committed { byTopic[offset.topic, default: [:]][offset.partition] = offset }
        // Offsets of topics the client may not describe: asked-for ones are refused, the rest left out (as Kafka).
        let describable = Set(byTopic.keys.filter { context.may(.describe, .topic, $0) } + (wanted ?? []).map(\.name).filter { context.may(.describe, .topic, $0) })
        byTopic = byTopic.filter { describable.contains($0.key) }
        if let wanted {
            return (
                wanted.map { topic in
                    (
                        topic.name,
                        topic.partitions.map { partition in
                            let found = byTopic[topic.name]?[Int(partition)]
                            return FetchedPartition(
                                partition: partition, offset: found?.offset ?? KafkaSentinel.unknownOffset, leaderEpoch: found?.leaderEpoch ?? KafkaSentinel.unknownLeaderEpoch, metadata: found?.metadata ?? "",
                                error: describable.contains(topic.name) ? .none : .topicAuthorizationFailed
                            )
                        }
                    )
                },
                .none
            )
        }
        return (
            byTopic.keys.sorted().map { name in
                (
                    name,
                    byTopic[name]!.values.sorted { $0.partition < $1.partition }.map {
                        FetchedPartition(partition: Int32($0.partition), offset: $0.offset, leaderEpoch: $0.leaderEpoch, metadata: $0.metadata ?? "")
                    }
                )
            },
            .none
        )
    }

    // MARK: Listing and deleting

    func handle(_ request: ListGroupsRequest, _ context: KafkaRequestContext) async throws -> ListGroupsResponse {
        let view = await broker.view()
        let states = Set(request.statesFilter.compactMap { filter in GroupState.allCases.first { $0.rawValue.lowercased() == filter.lowercased() } })
        var listed = await groups.list(states: states).filter { $0.state != GroupState.dead.rawValue }
        // Groups whose members are gone but whose offsets remain are Empty groups at their coordinator.
        if states.isEmpty || states.contains(.empty), let withOffsets = try? await broker.control.listOffsetGroups() {
            let known = Set(listed.map(\.groupID))
            for group in withOffsets where !known.contains(group) && coordinatorError(group, view) == nil {
                listed.append(GroupOverview(groupID: group, protocolType: "consumer", state: GroupState.empty.rawValue))
            }
        }
        // Kafka lists every group to those who may describe the cluster, else the groups they may describe.
        if !context.mayOnCluster(.describe) { listed = listed.filter { context.may(.describe, .group, $0.groupID) } }
        return ListGroupsResponse(
            errorCode: .none,
            groups: listed.sorted { $0.groupID < $1.groupID }.map {
                .init(groupId: $0.groupID, protocolType: $0.protocolType, groupState: $0.state, groupType: "classic")
            }
        )
    }

    func handle(_ request: DescribeGroupsRequest, _ context: KafkaRequestContext) async throws -> DescribeGroupsResponse {
        let view = await broker.view()
        var response = DescribeGroupsResponse()
        for groupID in request.groups {
            if let error = coordinatorError(groupID, view, context, .describe) {
                response.groups.append(.init(errorCode: error, groupId: groupID, groupState: "", protocolType: "", protocolData: ""))
                continue
            }
            var description = await groups.describe(groupID: groupID)
            if description.state == GroupState.dead.rawValue,
                let offsets = try? await broker.control.fetchOffsets(group: groupID, topics: nil), !offsets.isEmpty
            {
                description.state = GroupState.empty.rawValue
                description.protocolType = "consumer"
            }
            response.groups.append(
                .init(
                    errorCode: .none, groupId: groupID, groupState: description.state, protocolType: description.protocolType,
                    protocolData: description.protocolName,
                    members: description.members.map {
                        .init(
                            memberId: $0.memberID, groupInstanceId: $0.groupInstanceID, clientId: $0.clientID, clientHost: $0.clientHost,
                            memberMetadata: $0.metadata, memberAssignment: $0.assignment
                        )
                    }
                )
            )
        }
        return response
    }

    func handle(_ request: DeleteGroupsRequest, _ context: KafkaRequestContext) async throws -> DeleteGroupsResponse {
        let view = await broker.view()
        var response = DeleteGroupsResponse()
        for groupID in request.groupsNames {
            var code = coordinatorError(groupID, view, context, .delete)
            // Known to the coordinator (an Empty group is: Kafka keeps it), or only by its offsets.
            var known = false
            if code == nil {
                switch await groups.delete(groupID: groupID) {
                case nil: known = true
                case .groupIDNotFound?: break
                case let error?: code = error.kafkaErrorCode
                }
            }
            if code == nil {
                do {
                    let had = try await broker.control.fetchOffsets(group: groupID, topics: nil)
                    try await context.control(broker).deleteOffsets(group: groupID)
                    if had.isEmpty, !known { code = .groupIDNotFound }
                } catch {
                    code = .coordinatorNotAvailable
                }
            }
            response.results.append(.init(groupId: groupID, errorCode: code ?? KafkaErrorCode.none))
        }
        return response
    }
}

extension GroupHandlers {
    // MARK: OffsetDelete

    /// OffsetDelete v0: deletes a group's committed offsets for the named partitions, except those
    /// of topics its members still consume (GROUP_SUBSCRIBED_TO_TOPIC; when a rebalancing group's
    /// subscriptions cannot be read, every topic counts as consumed). A group that does not exist
    /// is GROUP_ID_NOT_FOUND; a partition named twice, INVALID_REQUEST.
    func handle(_ request: OffsetDeleteRequest, _ context: KafkaRequestContext) async throws -> OffsetDeleteResponse {
        let view = await broker.view()
        if let code = coordinatorError(request.groupId, view, context, .delete) { return OffsetDeleteResponse(errorCode: code) }
        guard let view else { return OffsetDeleteResponse(errorCode: .coordinatorNotAvailable) }
        let description = await broker.groups.describe(groupID: request.groupId)
        let committed: [GroupOffset]
        do {
            committed = try await broker.control.fetchOffsets(group: request.groupId, topics: nil)
        } catch {
            return OffsetDeleteResponse(errorCode: .coordinatorNotAvailable)
        }
        if description.state == GroupState.dead.rawValue, committed.isEmpty { return OffsetDeleteResponse(errorCode: .groupIDNotFound) }
        // What the members consume: nil when a member's subscription is not known (mid-rebalance).
        var subscribed: Set<String>? = []
        for member in description.members {
            var bytes = ByteBuffer(bytes: member.metadata)
            guard !member.metadata.isEmpty, let version = bytes.readInteger(as: Int16.self),
                let subscription = try? ConsumerProtocolSubscription(from: &bytes, version: version)
            else {
                subscribed = nil
                break
            }
            subscribed?.formUnion(subscription.topics)
        }
        let repeated = AdminHandlers.repeated(request.topics.flatMap { topic in topic.partitions.map { GroupPartitionRef(topic: topic.name, partition: Int($0.partitionIndex)) } })
        var response = OffsetDeleteResponse()
        var deleting: [GroupPartitionRef] = []
        for topic in request.topics {
            var partitions: [OffsetDeleteResponse.OffsetDeleteResponsePartition] = []
            for partition in topic.partitions {
                let code: KafkaErrorCode
                let ref = GroupPartitionRef(topic: topic.name, partition: Int(partition.partitionIndex))
                if repeated.contains(ref) {
                    code = .invalidRequest
                } else if view.partition(topic.name, Int(partition.partitionIndex)) == nil {
                    code = .unknownTopicOrPartition
                } else if subscribed?.contains(topic.name) ?? true {
                    code = .groupSubscribedToTopic
                } else {
                    code = .none
                    deleting.append(ref)
                }
                partitions.append(.init(partitionIndex: partition.partitionIndex, errorCode: code))
            }
            response.topics.append(.init(name: topic.name, partitions: partitions))
        }
        if !deleting.isEmpty {
            do {
                try await context.control(broker).deleteOffsets(group: request.groupId, partitions: deleting)
            } catch {
                return OffsetDeleteResponse(errorCode: .coordinatorNotAvailable)
            }
        }
        return response
    }
}

extension KafkaRequestContext {
    /// The client's address as Kafka shows it in DescribeGroups (`/127.0.0.1`).
    var clientHost: String {
        "/" + (session.peer?.ipAddress ?? "unknown")
    }
}
