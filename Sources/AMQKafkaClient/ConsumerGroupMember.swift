import AMQKafkaProtocol
import Logging

/// One member of a classic consumer group subscribed to one topic: JoinGroup/SyncGroup (range
/// assignment computed here when we lead), heartbeats, commits, LeaveGroup.
///
/// Not concurrent: the consumer loop calls ``heartbeatIfDue()`` between fetches, which is enough
/// because a fetch waits at most a second and the session timeout is many times that.
package struct ConsumerGroupMember: Sendable {
    package let group: String
    package let topic: String
    let client: KafkaClient
    let sessionTimeout: Duration = .seconds(30)
    let rebalanceTimeout: Duration = .seconds(30)
    let heartbeatInterval: Duration = .seconds(3)

    package private(set) var memberID = ""
    package private(set) var generation = KafkaSentinel.noGeneration
    package private(set) var coordinator: BrokerAddress?
    package private(set) var assignment: [Int32] = []
    package private(set) var isLeader = false
    private var lastHeartbeat = ContinuousClock.now

    package init(client: KafkaClient, group: String, topic: String) {
        self.client = client
        self.group = group
        self.topic = topic
    }

    /// Joins (or rejoins) the group and returns this member's partitions of the topic.
    package mutating func join() async throws -> [Int32] {
        let attempts = client.configuration.attempts * 2
        var lastCode = KafkaErrorCode.none
        for attempt in 1...attempts {
            if attempt > 1 { try await client.backoff(min(attempt - 1, 3)) }
            let coordinator = try await currentCoordinator()
            let join = try await client.joinGroup(
                JoinGroupRequest(
                    groupId: group, sessionTimeoutMs: Int32(sessionTimeout.inMilliseconds), rebalanceTimeoutMs: Int32(rebalanceTimeout.inMilliseconds),
                    memberId: memberID, protocolType: "consumer",
                    protocols: [.init(name: RangeAssignor.protocolName, metadata: ConsumerProtocolBytes.subscription(topics: [topic]))]
                ),
                coordinator: coordinator
            )
            switch join.errorCode {
            case .none:
                break
            case .memberIDRequired:
                // KIP-394: the broker names us, and we join again with that id.
                memberID = join.memberId
                continue
            case .unknownMemberID:
                memberID = ""
                lastCode = join.errorCode
                continue
            case .notCoordinator, .coordinatorNotAvailable:
                self.coordinator = nil
                lastCode = join.errorCode
                continue
            case .rebalanceInProgress, .coordinatorLoadInProgress:
                lastCode = join.errorCode
                continue
            default:
                throw KafkaClientError.broker(join.errorCode, "JoinGroup for group \"\(group)\"")
            }
            memberID = join.memberId
            generation = join.generationId
            isLeader = join.leader == join.memberId
            var assignments: [SyncGroupRequest.SyncGroupRequestAssignment] = []
            if isLeader { assignments = try await assign(join.members) }
            let sync = try await client.syncGroup(
                SyncGroupRequest(
                    groupId: group, generationId: generation, memberId: memberID, protocolType: "consumer",
                    protocolName: join.protocolName ?? RangeAssignor.protocolName, assignments: assignments
                ),
                coordinator: coordinator, rebalanceTimeout: rebalanceTimeout
            )
            if sync.errorCode == .rebalanceInProgress || sync.errorCode == .illegalGeneration {
                lastCode = sync.errorCode
                continue
            }
            guard sync.errorCode == .none else { throw KafkaClientError.broker(sync.errorCode, "SyncGroup for group \"\(group)\"") }
            let decoded = try ConsumerProtocolBytes.decodeAssignment(sync.assignment)
            assignment = decoded.assignedPartitions.filter { $0.topic == topic }.flatMap(\.partitions).sorted()
            lastHeartbeat = .now
            client.logger.debug(
                "Joined consumer group",
                metadata: ["kafka.group": "\(group)", "kafka.generation": "\(generation)", "kafka.member": "\(memberID)", "kafka.partitions": "\(assignment)"]
            )
            return assignment
        }
        throw KafkaClientError.broker(lastCode, "joining group \"\(group)\" failed after \(attempts) attempts")
    }

    private mutating func currentCoordinator() async throws -> BrokerAddress {
        if let coordinator { return coordinator }
        let found = try await client.findCoordinator(group: group)
        coordinator = found
        return found
    }

    /// The leader's range assignment over every member's subscription.
    private func assign(_ members: [JoinGroupResponse.JoinGroupResponseMember]) async throws -> [SyncGroupRequest.SyncGroupRequestAssignment] {
        var subscriptions: [String: [String]] = [:]
        for member in members {
            subscriptions[member.memberId] = try ConsumerProtocolBytes.decodeSubscription(member.metadata).topics
        }
        var counts: [String: Int] = [:]
        for topic in Set(subscriptions.values.flatMap { $0 }) {
            counts[topic] = try await client.topic(topic).partitions.count
        }
        return RangeAssignor.assign(subscriptions: subscriptions, partitionCounts: counts).map {
            .init(memberId: $0.key, assignment: ConsumerProtocolBytes.assignment($0.value))
        }
    }

    /// Sends a heartbeat when one is due; false means the group is rebalancing and the caller
    /// must commit and ``join()`` again.
    package mutating func heartbeatIfDue() async throws -> Bool {
        guard ContinuousClock.now - lastHeartbeat >= heartbeatInterval, let coordinator else { return true }
        let code = try await client.heartbeat(group: group, generation: generation, memberID: memberID, coordinator: coordinator)
        lastHeartbeat = .now
        switch code {
        case .none: return true
        case .rebalanceInProgress, .illegalGeneration: return false
        case .unknownMemberID:
            memberID = ""
            return false
        case .notCoordinator, .coordinatorNotAvailable:
            self.coordinator = nil
            return false
        default: throw KafkaClientError.broker(code, "Heartbeat for group \"\(group)\"")
        }
    }

    /// Committed offsets of the assigned partitions; partitions without one are missing.
    package mutating func committed() async throws -> [Int32: Int64] {
        let coordinator = try await currentCoordinator()
        let offsets = try await client.committedOffsets(group: group, coordinator: coordinator, topics: [topic: assignment])
        var result: [Int32: Int64] = [:]
        for offset in offsets where offset.topic == topic && offset.offset >= 0 { result[offset.partition] = offset.offset }
        return result
    }

    package mutating func commit(_ offsets: [Int32: Int64]) async throws {
        let coordinator = try await currentCoordinator()
        try await client.commitOffsets(group: group, coordinator: coordinator, topic: topic, offsets: offsets, generation: generation, memberID: memberID)
    }

    /// Leaves the group so the others rebalance at once instead of after the session timeout.
    package func leave() async throws {
        guard let coordinator, !memberID.isEmpty else { return }
        let code = try await client.leaveGroup(group: group, memberID: memberID, coordinator: coordinator)
        if code != .none && code != .unknownMemberID {
            throw KafkaClientError.broker(code, "LeaveGroup for group \"\(group)\"")
        }
    }
}
