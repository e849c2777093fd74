import AMQAgent
import AMQKafkaProtocol
import AMQTestSupport
import Foundation
import Logging
import Testing

/// ``GroupCoordinator`` with real time: parked JoinGroup/SyncGroup callers are answered when the
/// machine says so, the tick loop enforces deadlines, cancelled callers return at once. Waits are
/// conditions with deadlines, never bare sleeps.
@Suite(.timeLimit(.minutes(1))) struct GroupCoordinatorTests {
    static func configuration() -> GroupStateMachine.Configuration {
        var configuration = GroupStateMachine.Configuration()
        configuration.initialRebalanceDelay = .milliseconds(50)
        configuration.sessionTimeoutRange = .milliseconds(100) ... .seconds(30)
        return configuration
    }

    static func request(_ client: String, memberID: String = "", sessionTimeout: Duration = .seconds(10)) -> JoinRequestInput {
        JoinRequestInput(
            groupID: "orders-app", memberID: memberID, clientID: client, sessionTimeout: sessionTimeout, rebalanceTimeout: .seconds(5),
            protocols: [GroupProtocol(name: "range", metadata: Array(client.utf8))]
        )
    }

    /// The v4+ handshake: MEMBER_ID_REQUIRED, then the real join, which waits for the rebalance.
    static func join(_ coordinator: GroupCoordinator, _ client: String, sessionTimeout: Duration = .seconds(10)) async throws -> JoinResponse {
        guard case .failure(.memberIDRequired(let id)) = await coordinator.join(request(client, sessionTimeout: sessionTimeout)) else {
            throw HarnessError("expected MEMBER_ID_REQUIRED")
        }
        return try await coordinator.join(request(client, memberID: id, sessionTimeout: sessionTimeout)).get()
    }

    @Test func twoConsumersJoinAndSyncThroughParkedRequests() async throws {
        let coordinator = GroupCoordinator(configuration: Self.configuration(), logger: Logger(label: "test.groups"))
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await coordinator.run() }
            defer { group.cancelAll() }
            async let a = Self.join(coordinator, "a")
            async let b = Self.join(coordinator, "b")
            let (joinedA, joinedB) = try await (a, b)
            #expect(joinedA.generationID == 1 && joinedB.generationID == 1)
            let leader = joinedA.leaderID == joinedA.memberID ? joinedA : joinedB
            let follower = leader.memberID == joinedA.memberID ? joinedB : joinedA
            #expect(leader.members.count == 2 && follower.members.isEmpty)

            // The follower's SyncGroup parks until the leader's arrives.
            async let followerSync = coordinator.sync(SyncRequestInput(groupID: "orders-app", memberID: follower.memberID, generationID: 1))
            let parked = await eventually(timeout: .seconds(30)) {
                await coordinator.describe(groupID: "orders-app").state == "CompletingRebalance" ? true : nil
            }
            #expect(parked == true)
            let leaderSync = await coordinator.sync(
                SyncRequestInput(
                    groupID: "orders-app", memberID: leader.memberID, generationID: 1,
                    assignments: [leader.memberID: [1], follower.memberID: [2]]
                )
            )
            #expect(try leaderSync.get().assignment == [1])
            #expect(try await followerSync.get().assignment == [2])
            #expect(await coordinator.describe(groupID: "orders-app").state == "Stable")
            #expect(await coordinator.heartbeat(HeartbeatRequestInput(groupID: "orders-app", memberID: follower.memberID, generationID: 1)) == nil)
            #expect(await coordinator.list().map(\.state) == ["Stable"])
        }
    }

    @Test func theTickLoopExpiresSilentMembers() async throws {
        let coordinator = GroupCoordinator(configuration: Self.configuration(), logger: Logger(label: "test.groups"))
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await coordinator.run() }
            defer { group.cancelAll() }
            let joined = try await Self.join(coordinator, "solo", sessionTimeout: .seconds(2))
            _ = await coordinator.sync(SyncRequestInput(groupID: "orders-app", memberID: joined.memberID, generationID: 1))
            #expect(await coordinator.describe(groupID: "orders-app").members.count == 1)
            // No heartbeats: the session runs out, the group empties and is forgotten.
            let gone = await eventually(timeout: .seconds(30)) {
                await coordinator.describe(groupID: "orders-app").members.isEmpty ? true : nil
            }
            #expect(gone == true)
            #expect(await coordinator.heartbeat(HeartbeatRequestInput(groupID: "orders-app", memberID: joined.memberID, generationID: 1)) == .unknownMemberID)
        }
    }

    /// Issue 13, item 4: a group whose last member left stays Empty (described, listed,
    /// deletable) as Kafka keeps it, until deleted or its retention runs out.
    @Test func anEmptiedGroupStaysEmptyUntilDeletedOrExpired() async throws {
        var configuration = Self.configuration()
        configuration.emptyGroupRetention = .seconds(2)
        let coordinator = GroupCoordinator(configuration: configuration, logger: Logger(label: "test.groups"))
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await coordinator.run() }
            defer { group.cancelAll() }
            for round in 0..<2 {
                let joined = try await Self.join(coordinator, "solo")
                _ = await coordinator.sync(SyncRequestInput(groupID: "orders-app", memberID: joined.memberID, generationID: joined.generationID))
                _ = await coordinator.leave(groupID: "orders-app", members: [LeavingMember(memberID: joined.memberID, groupInstanceID: nil)])
                #expect(await coordinator.describe(groupID: "orders-app").state == "Empty")
                #expect(await coordinator.list().map(\.groupID) == ["orders-app"])
                if round == 0 {
                    #expect(await coordinator.delete(groupID: "orders-app") == nil)
                    #expect(await coordinator.describe(groupID: "orders-app").state == "Dead")
                    #expect(await coordinator.delete(groupID: "orders-app") == .groupIDNotFound)
                } else {
                    // Not deleted: forgotten once the retention has run out.
                    #expect(await eventually(timeout: .seconds(20)) { await coordinator.describe(groupID: "orders-app").state == "Dead" })
                    #expect(await coordinator.list().isEmpty)
                }
            }
        }
    }

    @Test func aCancelledJoinReturnsAtOnce() async throws {
        let coordinator = GroupCoordinator(configuration: Self.configuration(), logger: Logger(label: "test.groups"))
        // No tick loop: the join would park for good, so only cancellation can end it.
        guard case .failure(.memberIDRequired(let id)) = await coordinator.join(Self.request("a")) else {
            Issue.record("expected MEMBER_ID_REQUIRED")
            return
        }
        let task = Task { await coordinator.join(Self.request("a", memberID: id)) }
        let parked = await eventually(timeout: .seconds(30)) {
            await coordinator.describe(groupID: "orders-app").state == "PreparingRebalance" ? true : nil
        }
        #expect(parked == true)
        task.cancel()
        // Without a tick loop nothing else can answer it: returning at all is the point (the
        // suite's time limit catches a hang).
        #expect(await task.value == .failure(.coordinatorNotAvailable))
        // The member itself stays until its rebalance or session deadline says otherwise.
        #expect(await coordinator.describe(groupID: "orders-app").members.count == 1)
    }

    @Test func offsetCommitsOfUnknownGroups() async {
        let coordinator = GroupCoordinator(configuration: Self.configuration(), logger: Logger(label: "test.groups"))
        #expect(await coordinator.validateOffsetCommit(HeartbeatRequestInput(groupID: "standalone", memberID: "", generationID: KafkaSentinel.noGeneration)) == nil)
        #expect(
            await coordinator.validateOffsetCommit(HeartbeatRequestInput(groupID: "standalone", memberID: "m", generationID: 4)) == .illegalGeneration
        )
        #expect(await coordinator.describe(groupID: "standalone").state == "Dead")
        #expect(await coordinator.delete(groupID: "standalone") == .groupIDNotFound)
    }

    @Test func coordinatorNodeIsStableAndIgnoresNodeOrder() {
        let nodes = [3, 1, 2, 6, 5, 4]
        for group in ["orders-app", "billing", "", "ümlaut-group"] {
            let node = GroupCoordinator.coordinatorNode(for: group, nodes: nodes)
            #expect(nodes.contains(node))
            #expect(GroupCoordinator.coordinatorNode(for: group, nodes: nodes.reversed()) == node)
        }
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c on every process and platform: even, so node 1 of [1, 2].
        #expect(GroupCoordinator.coordinatorNode(for: "a", nodes: [2, 1]) == 1)
        var counts: [Int: Int] = [:]
        for index in 0..<600 { counts[GroupCoordinator.coordinatorNode(for: "group-\(index)", nodes: nodes), default: 0] += 1 }
        #expect(counts.count == 6)
        #expect(counts.values.allSatisfy { $0 > 50 })
    }
}
