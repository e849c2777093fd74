import AMQAgent
import AMQKafkaProtocol
import Foundation
import Testing

/// The classic group protocol as event/action sequences on ``GroupStateMachine``, with time
/// passed in by hand: no I/O, no sleeps.
@Suite struct GroupStateMachineTests {
    @Test func twoMembersJoinIntoOneGenerationAndTheLeaderGetsBoth() throws {
        var group = Harness()
        let (a, b) = try group.formGroup()
        #expect(group.machine.state == .completingRebalance)
        #expect(a.generationID == 1 && b.generationID == 1)
        #expect(a.leaderID == a.memberID && b.leaderID == a.memberID)
        #expect(a.protocolName == "range")
        #expect(a.members.map(\.memberID) == [a.memberID, b.memberID])
        #expect(a.members.map(\.metadata) == [[1], [2]])
        #expect(b.members.isEmpty)
        #expect(a.memberID.hasPrefix("client-a-"))

        // A follower syncing before the leader waits; the leader's sync answers both.
        #expect(group.sync(b, generation: 1).isEmpty)
        let actions = group.sync(a, generation: 1, assignments: [a.memberID: [10], b.memberID: [20]])
        #expect(group.machine.state == .stable)
        #expect(syncs(actions).map(\.assignment) == [[10], [20]])
        #expect(group.heartbeat(a, generation: 1) == nil)
        // A late sync in Stable is answered at once with the member's assignment.
        #expect(syncs(group.sync(b, generation: 1)).map(\.assignment) == [[20]])
        let description = group.machine.describe()
        #expect(description.state == "Stable" && description.protocolName == "range" && description.protocolType == "consumer")
        #expect(description.members.map(\.assignment) == [[10], [20]])
    }

    @Test func aThirdMemberTriggersARebalanceEveryoneRejoins() throws {
        var group = Harness()
        let (a, b) = try group.stableGroup()
        let c = try group.newMemberID(client: "client-c")
        #expect(group.join(client: "client-c", memberID: c, metadata: [3]).isEmpty)
        #expect(group.machine.state == .preparingRebalance)
        // Heartbeats tell the old members to rejoin.
        #expect(group.heartbeat(a, generation: 1) == .rebalanceInProgress)
        #expect(group.heartbeat(b, generation: 1) == .rebalanceInProgress)
        #expect(syncErrors(group.sync(b, generation: 1)) == [.rebalanceInProgress])
        #expect(group.join(client: "client-a", memberID: a, metadata: [1]).isEmpty)
        let answers = try joins(group.join(client: "client-b", memberID: b, metadata: [2]))
        #expect(answers.count == 3)
        #expect(Set(answers.map(\.generationID)) == [2])
        #expect(answers.first { $0.memberID == a }?.members.count == 3)
        #expect(group.heartbeat(a, generation: 1) == .illegalGeneration)
        #expect(group.heartbeat(a, generation: 2) == nil)  // between JoinGroup and SyncGroup
    }

    @Test func leaveRebalancesTheRestAndTheLastLeaveEmptiesTheGroup() throws {
        var group = Harness()
        let (a, b) = try group.stableGroup()
        let (result, actions) = group.machine.leave([LeavingMember(memberID: b), LeavingMember(memberID: "nobody")], now: group.now)
        #expect(result.members == [nil, .unknownMemberID])
        #expect(actions.isEmpty)
        #expect(group.machine.state == .preparingRebalance)
        let rejoined = try joins(group.join(client: "client-a", memberID: a, metadata: [1]))
        #expect(rejoined.map(\.generationID) == [2])
        #expect(rejoined.first?.members.map(\.memberID) == [a])

        _ = group.machine.leave([LeavingMember(memberID: a)], now: group.now)
        #expect(group.machine.state == .empty)
        #expect(group.machine.memberCount == 0)
        #expect(group.machine.describe().state == "Empty")
    }

    @Test func sessionExpiryEvictsAndRebalances() throws {
        var group = Harness()
        let (a, b) = try group.stableGroup()
        // a keeps heartbeating, b goes silent.
        for _ in 0..<4 {
            group.advance(.seconds(3))
            #expect(group.heartbeat(a, generation: 1) == nil)
            _ = group.machine.tick(now: group.now)
        }
        #expect(group.machine.state == .preparingRebalance)
        #expect(group.heartbeat(b, generation: 1) == .unknownMemberID)
        #expect(group.machine.nextDeadline != nil)
        let answers = try joins(group.join(client: "client-a", memberID: a, metadata: [1]))
        #expect(answers.first?.members.map(\.memberID) == [a])
    }

    @Test func aMemberThatDoesNotRejoinIsDroppedAtTheRebalanceTimeout() throws {
        var group = Harness()
        let (a, b) = try group.stableGroup()
        // a changes its metadata: a rebalance; b never rejoins.
        #expect(group.join(client: "client-a", memberID: a, metadata: [9]).isEmpty)
        group.advance(.seconds(5))
        #expect(group.heartbeat(b, generation: 1) == .rebalanceInProgress)
        let deadline = try #require(group.machine.nextDeadline)
        #expect(deadline <= group.now + .seconds(6))
        group.now = deadline
        let answers = try joins(group.machine.tick(now: group.now))
        #expect(answers.map(\.memberID) == [a])
        #expect(answers.first?.members.map(\.metadata) == [[9]])
        #expect(group.heartbeat(b, generation: 2) == .unknownMemberID)
    }

    @Test func aLeaderThatNeverSyncsRestartsTheRebalance() throws {
        var group = Harness()
        let (a, b) = try group.formGroup()
        #expect(group.sync(b, generation: 1).isEmpty)
        group.now = try #require(group.machine.nextDeadline)
        let actions = group.machine.tick(now: group.now)
        // b's parked sync is told to rejoin; a (never synced) is gone.
        #expect(syncErrors(actions) == [.rebalanceInProgress])
        #expect(group.machine.state == .preparingRebalance)
        #expect(group.heartbeat(a, generation: 1) == .unknownMemberID)
        let answers = try joins(group.join(client: "client-b", memberID: b.memberID, metadata: [2]))
        #expect(answers.first?.leaderID == b.memberID)
    }

    @Test func staticMemberRejoinsWithoutRebalanceAndTheOldIdIsFenced() throws {
        var group = Harness()
        let a = try group.joinStatic(client: "client-a", instance: "host-a", metadata: [1])
        let b = try group.joinStatic(client: "client-b", instance: "host-b", metadata: [2])
        let answers = try group.completeInitialJoin()
        #expect(answers.count == 2)
        _ = group.sync(a, generation: 1, instance: "host-a", assignments: [a: [10], b: [20]])
        #expect(group.machine.state == .stable)

        // host-b restarts: a new member id, same instance id, same protocols.
        let restarted = try joins(group.join(client: "client-b", instance: "host-b", metadata: [2]))
        #expect(group.machine.state == .stable)
        let newB = try #require(restarted.first)
        #expect(newB.memberID != b && newB.generationID == 1 && newB.leaderID == a)
        #expect(syncs(group.sync(newB.memberID, generation: 1, instance: "host-b")).map(\.assignment) == [[20]])
        // The previous incarnation is fenced everywhere.
        #expect(group.machine.heartbeat(HeartbeatRequestInput(groupID: "g", memberID: b, groupInstanceID: "host-b", generationID: 1), now: group.now) == .fencedInstanceID)
        #expect(try joinError(group.join(client: "client-b", memberID: b, instance: "host-b", metadata: [2])) == .fencedInstanceID)
        let (left, _) = group.machine.leave([LeavingMember(memberID: b, groupInstanceID: "host-b")], now: group.now)
        #expect(left.members == [.fencedInstanceID])

        // Changed protocols on restart do rebalance.
        _ = group.join(client: "client-b", instance: "host-b", metadata: [7])
        #expect(group.machine.state == .preparingRebalance)
        // Leaving by instance id alone works.
        let (leftByInstance, _) = group.machine.leave([LeavingMember(memberID: "", groupInstanceID: "host-a")], now: group.now)
        #expect(leftByInstance.members == [nil])
    }

    @Test func protocolIsChosenByVote() throws {
        var group = Harness()
        let a = try group.newMemberID(client: "client-a")
        _ = group.join(client: "client-a", memberID: a, protocols: [("roundrobin", [1]), ("range", [1])])
        let b = try group.newMemberID(client: "client-b")
        _ = group.join(client: "client-b", memberID: b, protocols: [("range", [2]), ("roundrobin", [2]), ("sticky", [2])])
        let c = try group.newMemberID(client: "client-c")
        _ = group.join(client: "client-c", memberID: c, protocols: [("sticky", [3]), ("range", [3]), ("roundrobin", [3])])
        // Candidates: range, roundrobin (sticky is not supported by a). Votes: a→roundrobin, b→range, c→range.
        let answers = try group.completeInitialJoin()
        #expect(answers.first?.protocolName == "range")
        #expect(answers.first { $0.memberID == a }?.members.map(\.metadata) == [[1], [2], [3]])
    }

    @Test func inconsistentProtocolsAreRefused() throws {
        var group = Harness()
        _ = try group.stableGroup()
        #expect(try joinError(group.join(client: "x", protocols: [("sticky", [1])], requireKnownMemberID: false)) == .inconsistentGroupProtocol)
        #expect(try joinError(group.join(client: "x", protocolType: "connect", protocols: [("range", [1])], requireKnownMemberID: false)) == .inconsistentGroupProtocol)
        #expect(try joinError(group.join(client: "x", protocols: [])) == .inconsistentGroupProtocol)
        #expect(group.machine.state == .stable)
    }

    @Test func sessionTimeoutMustBeInRange() throws {
        var group = Harness()
        #expect(try joinError(group.join(client: "x", sessionTimeout: .milliseconds(5999))) == .invalidSessionTimeout)
        #expect(try joinError(group.join(client: "x", sessionTimeout: .milliseconds(300_001))) == .invalidSessionTimeout)
    }

    @Test func oldClientsJoinWithoutMemberIDRequired() throws {
        var group = Harness()
        #expect(group.join(client: "old", requireKnownMemberID: false).isEmpty)
        #expect(group.machine.state == .preparingRebalance)
        let answers = try group.completeInitialJoin()
        #expect(answers.count == 1 && answers.first?.memberID.hasPrefix("old-") == true)
    }

    @Test func syncAndHeartbeatChecks() throws {
        var group = Harness()
        let (a, _) = try group.stableGroup()
        #expect(syncErrors(group.sync(a, generation: 7)) == [.illegalGeneration])
        #expect(syncErrors(group.sync("ghost", generation: 1)) == [.unknownMemberID])
        #expect(group.heartbeat("ghost", generation: 1) == .unknownMemberID)
        #expect(group.heartbeat(a, generation: 0) == .illegalGeneration)
        #expect(syncErrors(group.sync(a, generation: 1, protocolName: "roundrobin")) == [.inconsistentGroupProtocol])
    }

    @Test func offsetCommitGenerationChecks() throws {
        var group = Harness()
        // Nobody joined: a simple commit is fine, a member commit is not.
        #expect(group.commit("", generation: KafkaSentinel.noGeneration) == nil)
        #expect(group.commit("someone", generation: 3) == .unknownMemberID)
        let (a, b) = try group.formGroup()
        #expect(group.commit(a.memberID, generation: 1) == .rebalanceInProgress)  // CompletingRebalance
        _ = group.sync(a, generation: 1, assignments: [:])
        #expect(group.commit(a.memberID, generation: 1) == nil)
        #expect(group.commit(a.memberID, generation: 0) == .illegalGeneration)
        #expect(group.commit("", generation: KafkaSentinel.noGeneration) == .unknownMemberID)  // members exist
        #expect(group.commit("ghost", generation: 1) == .unknownMemberID)
        // During PreparingRebalance members may still commit what they processed.
        _ = group.join(client: "client-b", memberID: b.memberID, metadata: [5])
        #expect(group.machine.state == .preparingRebalance)
        #expect(group.commit(a.memberID, generation: 1) == nil)
    }

    @Test func deleteOnlyEmptyGroups() throws {
        var group = Harness()
        _ = try group.stableGroup()
        #expect(group.machine.delete() == .nonEmptyGroup)
        var empty = GroupStateMachine(groupID: "e")
        #expect(empty.delete() == nil)
        #expect(empty.state == .dead)
        #expect(empty.heartbeat(HeartbeatRequestInput(groupID: "e", memberID: "m", generationID: 1), now: .now) == .coordinatorNotAvailable)
    }

    @Test func initialDelayWaitsForMembersStartingTogether() throws {
        var group = Harness()
        let a = try group.newMemberID(client: "client-a")
        _ = group.join(client: "client-a", memberID: a)
        // Nothing completes before the delay, even with everyone joined.
        #expect(group.machine.tick(now: group.now + .milliseconds(50)).isEmpty)
        group.advance(.milliseconds(90))
        let b = try group.newMemberID(client: "client-b")
        _ = group.join(client: "client-b", memberID: b)
        // At the first deadline b's arrival extends the wait by another delay.
        group.now = try #require(group.machine.nextDeadline)
        #expect(group.machine.tick(now: group.now).isEmpty)
        group.now = try #require(group.machine.nextDeadline)
        let answers = try joins(group.machine.tick(now: group.now))
        #expect(answers.count == 2 && Set(answers.map(\.generationID)) == [1])
    }

    @Test func groupMaxSize() throws {
        var configuration = GroupStateMachine.Configuration()
        configuration.maxSize = 1
        var group = Harness(configuration: configuration)
        _ = try group.newMemberID(client: "client-a")
        #expect(try joinError(group.join(client: "client-b")) == .groupMaxSizeReached)
    }
}

// MARK: Harness

/// A machine, a hand-driven clock and request ids.
struct Harness {
    var machine: GroupStateMachine
    var now: ContinuousClock.Instant = .now
    var lastRequest: GroupRequestID = 0

    init(configuration: GroupStateMachine.Configuration? = nil) {
        var defaults = GroupStateMachine.Configuration()
        defaults.initialRebalanceDelay = .milliseconds(100)
        machine = GroupStateMachine(groupID: "g", configuration: configuration ?? defaults)
    }

    mutating func advance(_ duration: Duration) { now += duration }

    mutating func nextRequest() -> GroupRequestID {
        lastRequest += 1
        return lastRequest
    }

    mutating func join(
        client: String, memberID: String = "", instance: String? = nil, metadata: [UInt8] = [0],
        protocolType: String = "consumer", protocols: [(String, [UInt8])]? = nil, sessionTimeout: Duration = .seconds(10),
        requireKnownMemberID: Bool = true
    ) -> [GroupStateMachine.Action] {
        let protocols = (protocols ?? [("range", metadata), ("roundrobin", metadata)]).map { GroupProtocol(name: $0.0, metadata: $0.1) }
        let request = JoinRequestInput(
            groupID: "g", memberID: memberID, groupInstanceID: instance, clientID: client, sessionTimeout: sessionTimeout,
            rebalanceTimeout: .seconds(5), protocolType: protocolType, protocols: protocols, requireKnownMemberID: requireKnownMemberID
        )
        return machine.join(request, requestID: nextRequest(), now: now)
    }

    /// The v4+ first step: an empty member id comes back as MEMBER_ID_REQUIRED with the id to use.
    mutating func newMemberID(client: String) throws -> String {
        guard case .memberIDRequired(let id) = try joinError(join(client: client)) else {
            throw HarnessError("expected MEMBER_ID_REQUIRED")
        }
        return id
    }

    mutating func joinStatic(client: String, instance: String, metadata: [UInt8]) throws -> String {
        let actions = join(client: client, instance: instance, metadata: metadata)
        #expect(actions.isEmpty)
        return try #require(machine.describe().members.last?.memberID)
    }

    /// Runs the initial delay out and returns the JoinGroup answers.
    mutating func completeInitialJoin() throws -> [JoinResponse] {
        var answers: [JoinResponse] = []
        for _ in 0..<10 where answers.isEmpty {
            now = try #require(machine.nextDeadline)
            answers = try joins(machine.tick(now: now))
        }
        return answers
    }

    /// Two members a (metadata [1]) and b ([2]) through JoinGroup; the group is CompletingRebalance.
    mutating func formGroup() throws -> (JoinResponse, JoinResponse) {
        let a = try newMemberID(client: "client-a")
        #expect(join(client: "client-a", memberID: a, metadata: [1]).isEmpty)
        let b = try newMemberID(client: "client-b")
        #expect(join(client: "client-b", memberID: b, metadata: [2]).isEmpty)
        let answers = try completeInitialJoin()
        return (try #require(answers.first { $0.memberID == a }), try #require(answers.first { $0.memberID == b }))
    }

    /// Two members, synced: Stable at generation 1.
    mutating func stableGroup() throws -> (a: String, b: String) {
        let (a, b) = try formGroup()
        _ = sync(a, generation: 1, assignments: [a.memberID: [10], b.memberID: [20]])
        return (a.memberID, b.memberID)
    }

    mutating func sync(_ member: JoinResponse, generation: Int32, assignments: [String: [UInt8]] = [:]) -> [GroupStateMachine.Action] {
        sync(member.memberID, generation: generation, assignments: assignments)
    }

    mutating func sync(
        _ memberID: String, generation: Int32, instance: String? = nil, protocolName: String? = nil, assignments: [String: [UInt8]] = [:]
    ) -> [GroupStateMachine.Action] {
        let request = SyncRequestInput(
            groupID: "g", memberID: memberID, groupInstanceID: instance, generationID: generation, protocolType: "consumer",
            protocolName: protocolName, assignments: assignments
        )
        return machine.sync(request, requestID: nextRequest(), now: now)
    }

    mutating func heartbeat(_ member: JoinResponse, generation: Int32) -> GroupError? {
        heartbeat(member.memberID, generation: generation)
    }

    mutating func heartbeat(_ memberID: String, generation: Int32) -> GroupError? {
        machine.heartbeat(HeartbeatRequestInput(groupID: "g", memberID: memberID, generationID: generation), now: now)
    }

    mutating func commit(_ memberID: String, generation: Int32) -> GroupError? {
        machine.validateOffsetCommit(HeartbeatRequestInput(groupID: "g", memberID: memberID, generationID: generation), now: now)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func joins(_ actions: [GroupStateMachine.Action]) throws -> [JoinResponse] {
    try actions.compactMap { action in
        guard case .respondJoin(_, let result) = action else { return nil }
        return try result.get()
    }
}

func joinError(_ actions: [GroupStateMachine.Action]) throws -> GroupError {
    guard actions.count == 1, case .respondJoin(_, .failure(let error)) = actions[0] else {
        throw HarnessError("expected one failed JoinGroup, got \(actions)")
    }
    return error
}

func syncs(_ actions: [GroupStateMachine.Action]) -> [SyncResponse] {
    actions.compactMap { action in
        guard case .respondSync(_, .success(let response)) = action else { return nil }
        return response
    }
}

func syncErrors(_ actions: [GroupStateMachine.Action]) -> [GroupError] {
    actions.compactMap { action in
        guard case .respondSync(_, .failure(let error)) = action else { return nil }
        return error
    }
}
