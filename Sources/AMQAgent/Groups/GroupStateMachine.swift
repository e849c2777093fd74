import Foundation

/// One classic consumer group (JoinGroup/SyncGroup/Heartbeat/LeaveGroup), as a plain state
/// machine: requests and time go in, answers come out as ``Action``s, nothing here does I/O or
/// reads a clock. Modelled on Kafka's `GroupCoordinator`/`GroupMetadata` (classic protocol):
///
/// - Empty → PreparingRebalance when a member joins; the first rebalance of an empty group waits
///   `initialRebalanceDelay` (extended while members keep arriving, up to the rebalance timeout)
///   so a fleet of consumers starting together gets one generation, not one per member.
/// - PreparingRebalance → CompletingRebalance when every known member has rejoined (or the
///   rebalance timeout passed; who did not rejoin is dropped). Every parked JoinGroup is then
///   answered; the leader's answer carries all members' metadata.
/// - CompletingRebalance → Stable when the leader's SyncGroup brings the assignment; parked
///   followers' SyncGroups are answered with theirs.
/// - Any membership change (join with new metadata, leave, session expiry) → PreparingRebalance.
/// - Dead after ``delete(now:)``; a dead group answers COORDINATOR_NOT_AVAILABLE.
///
/// Members parked in JoinGroup or SyncGroup do not expire by session timeout (Kafka keeps them
/// alive too); the rebalance and sync deadlines bound those waits instead.
package struct GroupStateMachine: Sendable {
    package struct Configuration: Sendable, Hashable {
        /// Kafka's `group.initial.rebalance.delay.ms`.
        package var initialRebalanceDelay: Duration = .seconds(3)
        /// Kafka's `group.min.session.timeout.ms` / `group.max.session.timeout.ms`.
        package var sessionTimeoutRange: ClosedRange<Duration> = .milliseconds(6000) ... .milliseconds(300_000)
        /// Kafka's `group.max.size`.
        package var maxSize: Int = .max
        /// How long a group with no members is kept (Empty: described, listed, deletable) before
        /// it is forgotten: Kafka's `offsets.retention.minutes`, 7 days.
        package var emptyGroupRetention: Duration = .seconds(7 * 24 * 3600)

        package init() {}
    }

    package enum Action: Sendable, Hashable {
        case respondJoin(GroupRequestID, JoinResult)
        case respondSync(GroupRequestID, SyncResult)
    }

    struct Member: Sendable {
        var memberID: String
        var groupInstanceID: String?
        var clientID: String
        var clientHost: String
        var sessionTimeout: Duration
        var rebalanceTimeout: Duration
        var protocolType: String
        var protocols: [GroupProtocol]
        var assignment: [UInt8] = []
        var sessionDeadline: ContinuousClock.Instant
        /// A JoinGroup parked until the rebalance completes.
        var pendingJoin: GroupRequestID?
        /// A SyncGroup parked until the leader's assignment arrives.
        var pendingSync: GroupRequestID?

        func metadata(for protocolName: String) -> [UInt8] {
            protocols.first { $0.name == protocolName }?.metadata ?? []
        }
    }

    package let groupID: String
    package let configuration: Configuration
    package internal(set) var state: GroupState = .empty
    package internal(set) var generationID: Int32 = 0
    package internal(set) var protocolType: String?
    package internal(set) var protocolName: String?
    package internal(set) var leaderID: String?

    var members: [String: Member] = [:]
    /// Member ids in the order they joined; the first rejoined one becomes leader if needed.
    var joinOrder: [String] = []
    /// Static instance id → the member id that holds it.
    var staticMembers: [String: String] = [:]
    /// Ids handed out with MEMBER_ID_REQUIRED, not yet used to join; they hold up a rebalance
    /// until they join or their session timeout passes (as in Kafka).
    var pendingMembers: [String: ContinuousClock.Instant] = [:]
    var rebalanceDeadline: ContinuousClock.Instant?
    /// Set while the first rebalance of an empty group waits for more members.
    var initialDelayLimit: ContinuousClock.Instant?
    var newMemberAddedDuringDelay = false
    var syncDeadline: ContinuousClock.Instant?

    package init(groupID: String, configuration: Configuration = Configuration()) {
        self.groupID = groupID
        self.configuration = configuration
    }

    package var memberCount: Int { members.count }
    package var isEmpty: Bool { members.isEmpty && pendingMembers.isEmpty }

    /// When ``tick(now:)`` must next run; nil when nothing is timed.
    package var nextDeadline: ContinuousClock.Instant? {
        var deadlines = Array(pendingMembers.values)
        for member in members.values where member.pendingJoin == nil && member.pendingSync == nil {
            deadlines.append(member.sessionDeadline)
        }
        if state == .preparingRebalance, let rebalanceDeadline { deadlines.append(rebalanceDeadline) }
        if state == .completingRebalance, let syncDeadline { deadlines.append(syncDeadline) }
        return deadlines.min()
    }

    // MARK: JoinGroup

    /// Handles a JoinGroup; its answer comes as a `.respondJoin(requestID, …)` action, now or later.
    package mutating func join(_ request: JoinRequestInput, requestID: GroupRequestID, now: ContinuousClock.Instant) -> [Action] {
        func fail(_ error: GroupError) -> [Action] { [.respondJoin(requestID, .failure(error))] }
        if state == .dead { return fail(.coordinatorNotAvailable) }
        guard configuration.sessionTimeoutRange.contains(request.sessionTimeout) else { return fail(.invalidSessionTimeout) }
        guard supportsProtocols(request.protocolType, request.protocols) else { return fail(.inconsistentGroupProtocol) }

        if request.memberID.isEmpty {
            return joinUnknownMember(request, requestID: requestID, now: now)
        }
        if pendingMembers.removeValue(forKey: request.memberID) != nil {
            return addMemberAndRebalance(request, memberID: request.memberID, requestID: requestID, now: now)
        }
        if let error = staticMemberError(memberID: request.memberID, groupInstanceID: request.groupInstanceID) { return fail(error) }
        guard var member = members[request.memberID] else { return fail(.unknownMemberID) }

        let sameMetadata = member.protocolType == request.protocolType && member.protocols == request.protocols
        switch state {
        case .preparingRebalance:
            var actions: [Action] = []
            // A client has one JoinGroup in flight; an older parked one is a retry's leftover.
            if let old = member.pendingJoin { actions.append(.respondJoin(old, .failure(.rebalanceInProgress))) }
            member.update(from: request)
            member.pendingJoin = requestID
            members[request.memberID] = member
            return actions + tryCompleteJoin(now: now)
        case .completingRebalance where sameMetadata:
            // It lost the JoinGroup answer of this generation: send it again.
            return [.respondJoin(requestID, .success(joinResponse(for: request.memberID)))]
        case .stable where sameMetadata && leaderID != request.memberID:
            // A follower rejoining with unchanged metadata changes nothing.
            return [.respondJoin(requestID, .success(joinResponse(for: request.memberID)))]
        case .completingRebalance, .stable:
            member.update(from: request)
            member.pendingJoin = requestID
            members[request.memberID] = member
            return prepareRebalance(now: now)
        case .empty, .dead:
            return fail(.unknownMemberID)
        }
    }

    private mutating func joinUnknownMember(_ request: JoinRequestInput, requestID: GroupRequestID, now: ContinuousClock.Instant) -> [Action] {
        let newMemberID = "\(request.clientID)-\(UUID().uuidString.lowercased())"
        if let instanceID = request.groupInstanceID, let oldMemberID = staticMembers[instanceID], members[oldMemberID] != nil {
            return replaceStaticMember(request, oldMemberID: oldMemberID, newMemberID: newMemberID, requestID: requestID, now: now)
        }
        if members.count + pendingMembers.count >= configuration.maxSize {
            return [.respondJoin(requestID, .failure(.groupMaxSizeReached))]
        }
        // KIP-394: the member must come back with this id, so a lost answer cannot leave a ghost member.
        if request.requireKnownMemberID && request.groupInstanceID == nil {
            pendingMembers[newMemberID] = now + request.sessionTimeout
            return [.respondJoin(requestID, .failure(.memberIDRequired(memberID: newMemberID)))]
        }
        return addMemberAndRebalance(request, memberID: newMemberID, requestID: requestID, now: now)
    }

    /// KIP-345: a static member restarted (new member id, same instance id). With unchanged
    /// protocols in a Stable group it takes its old place without a rebalance.
    private mutating func replaceStaticMember(
        _ request: JoinRequestInput, oldMemberID: String, newMemberID: String, requestID: GroupRequestID, now: ContinuousClock.Instant
    ) -> [Action] {
        guard var member = members.removeValue(forKey: oldMemberID) else { return [] }
        var actions: [Action] = []
        // Whoever still waits under the old id is the fenced previous incarnation.
        if let old = member.pendingJoin { actions.append(.respondJoin(old, .failure(.fencedInstanceID))) }
        if let old = member.pendingSync { actions.append(.respondSync(old, .failure(.fencedInstanceID))) }
        member.pendingJoin = nil
        member.pendingSync = nil
        let sameMetadata = member.protocolType == request.protocolType && member.protocols == request.protocols
        member.memberID = newMemberID
        member.update(from: request)
        member.sessionDeadline = now + member.sessionTimeout
        members[newMemberID] = member
        staticMembers[request.groupInstanceID ?? ""] = newMemberID
        joinOrder = joinOrder.map { $0 == oldMemberID ? newMemberID : $0 }
        if leaderID == oldMemberID { leaderID = newMemberID }

        switch state {
        case .stable where sameMetadata:
            var response = joinResponse(for: newMemberID)
            response.skipAssignment = leaderID == newMemberID
            return actions + [.respondJoin(requestID, .success(response))]
        case .preparingRebalance:
            members[newMemberID]?.pendingJoin = requestID
            return actions + tryCompleteJoin(now: now)
        default:
            members[newMemberID]?.pendingJoin = requestID
            return actions + prepareRebalance(now: now)
        }
    }

    private mutating func addMemberAndRebalance(
        _ request: JoinRequestInput, memberID: String, requestID: GroupRequestID, now: ContinuousClock.Instant
    ) -> [Action] {
        members[memberID] = Member(
            memberID: memberID, groupInstanceID: request.groupInstanceID, clientID: request.clientID, clientHost: request.clientHost,
            sessionTimeout: request.sessionTimeout, rebalanceTimeout: request.rebalanceTimeout, protocolType: request.protocolType,
            protocols: request.protocols, sessionDeadline: now + request.sessionTimeout, pendingJoin: requestID
        )
        joinOrder.append(memberID)
        if let instanceID = request.groupInstanceID { staticMembers[instanceID] = memberID }
        if protocolType == nil { protocolType = request.protocolType }
        if leaderID == nil { leaderID = memberID }
        newMemberAddedDuringDelay = true
        if state == .preparingRebalance { return tryCompleteJoin(now: now) }
        return prepareRebalance(now: now)
    }

    // MARK: SyncGroup

    /// Handles a SyncGroup; its answer comes as a `.respondSync(requestID, …)` action, now or
    /// once the leader has synced.
    package mutating func sync(_ request: SyncRequestInput, requestID: GroupRequestID, now: ContinuousClock.Instant) -> [Action] {
        func fail(_ error: GroupError) -> [Action] { [.respondSync(requestID, .failure(error))] }
        if state == .dead { return fail(.coordinatorNotAvailable) }
        if let error = staticMemberError(memberID: request.memberID, groupInstanceID: request.groupInstanceID) { return fail(error) }
        guard var member = members[request.memberID] else { return fail(.unknownMemberID) }
        guard request.generationID == generationID else { return fail(.illegalGeneration) }
        if let type = request.protocolType, type != protocolType { return fail(.inconsistentGroupProtocol) }
        if let name = request.protocolName, name != protocolName { return fail(.inconsistentGroupProtocol) }
        member.sessionDeadline = now + member.sessionTimeout

        switch state {
        case .empty, .dead:
            return fail(.unknownMemberID)
        case .preparingRebalance:
            members[request.memberID] = member
            return fail(.rebalanceInProgress)
        case .stable:
            members[request.memberID] = member
            return [.respondSync(requestID, .success(syncResponse(assignment: member.assignment)))]
        case .completingRebalance:
            if let old = member.pendingSync { return fail(.rebalanceInProgress) + [.respondSync(old, .failure(.rebalanceInProgress))] }
            member.pendingSync = requestID
            members[request.memberID] = member
            guard request.memberID == leaderID else { return [] }
            // The leader's assignment: members it left out get an empty one, as in Kafka.
            for id in members.keys { members[id]?.assignment = request.assignments[id] ?? [] }
            state = .stable
            syncDeadline = nil
            var actions: [Action] = []
            for id in joinOrder {
                guard let waiting = members[id], let pending = waiting.pendingSync else { continue }
                members[id]?.pendingSync = nil
                members[id]?.sessionDeadline = now + waiting.sessionTimeout
                actions.append(.respondSync(pending, .success(syncResponse(assignment: waiting.assignment))))
            }
            return actions
        }
    }

    // MARK: Heartbeat, LeaveGroup, offsets

    /// Handles a Heartbeat, answered at once; refreshes the member's session.
    package mutating func heartbeat(_ request: HeartbeatRequestInput, now: ContinuousClock.Instant) -> GroupError? {
        if state == .dead { return .coordinatorNotAvailable }
        if let error = staticMemberError(memberID: request.memberID, groupInstanceID: request.groupInstanceID) { return error }
        guard let member = members[request.memberID] else { return .unknownMemberID }
        guard request.generationID == generationID else { return .illegalGeneration }
        members[request.memberID]?.sessionDeadline = now + member.sessionTimeout
        switch state {
        case .empty, .dead: return .unknownMemberID
        // Members heartbeat between their JoinGroup and SyncGroup answers: that is fine.
        case .completingRebalance, .stable: return nil
        case .preparingRebalance: return .rebalanceInProgress
        }
    }

    /// May a member (or a "simple" committer: generation -1, empty member id) commit offsets now?
    /// A successful check counts as a heartbeat, as in Kafka.
    package mutating func validateOffsetCommit(_ request: HeartbeatRequestInput, now: ContinuousClock.Instant) -> GroupError? {
        if state == .dead { return .coordinatorNotAvailable }
        if let error = staticMemberError(memberID: request.memberID, groupInstanceID: request.groupInstanceID) { return error }
        // Standalone consumers (assign() + commit()) store offsets in a group nobody joined.
        if request.generationID < 0 && state == .empty { return nil }
        guard let member = members[request.memberID] else { return .unknownMemberID }
        guard request.generationID == generationID else { return .illegalGeneration }
        switch state {
        case .completingRebalance:
            // It holds this generation but not yet its assignment: let it commit after SyncGroup.
            return .rebalanceInProgress
        case .stable, .preparingRebalance:
            // PreparingRebalance: consumers commit what they processed before they rejoin.
            members[request.memberID]?.sessionDeadline = now + member.sessionTimeout
            return nil
        case .empty, .dead:
            return .unknownMemberID
        }
    }

    /// Handles a LeaveGroup of one or more members (by member id, or by instance id for static ones).
    package mutating func leave(_ leaving: [LeavingMember], now: ContinuousClock.Instant) -> (result: LeaveResult, actions: [Action]) {
        if state == .dead {
            return (LeaveResult(error: .coordinatorNotAvailable, members: leaving.map { _ in .coordinatorNotAvailable }), [])
        }
        var errors: [GroupError?] = []
        var actions: [Action] = []
        var removed = false
        for member in leaving {
            var memberID = member.memberID
            if let instanceID = member.groupInstanceID {
                guard let holder = staticMembers[instanceID] else {
                    errors.append(.unknownMemberID)
                    continue
                }
                if !memberID.isEmpty && memberID != holder {
                    errors.append(.fencedInstanceID)
                    continue
                }
                memberID = holder
            }
            if pendingMembers.removeValue(forKey: memberID) != nil {
                errors.append(nil)
                continue
            }
            guard members[memberID] != nil else {
                errors.append(.unknownMemberID)
                continue
            }
            actions += remove(memberID, answering: .unknownMemberID)
            errors.append(nil)
            removed = true
        }
        if removed { actions += rebalanceAfterRemoval(now: now) }
        return (LeaveResult(error: nil, members: errors), actions)
    }

    /// Deletes the group (DeleteGroups): only an empty group may go.
    package mutating func delete() -> GroupError? {
        switch state {
        case .dead: return .groupIDNotFound
        case .empty where pendingMembers.isEmpty:
            state = .dead
            return nil
        default: return .nonEmptyGroup
        }
    }

    // MARK: Time

    /// Expires members and pending ids whose session passed, completes a rebalance whose
    /// deadline passed, and gives up on a leader that did not sync in time.
    package mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        let expiredPending = pendingMembers.filter { $0.value <= now }.map(\.key)
        for id in expiredPending { pendingMembers.removeValue(forKey: id) }

        let expired = joinOrder.filter { id in
            guard let member = members[id] else { return false }
            return member.pendingJoin == nil && member.pendingSync == nil && member.sessionDeadline <= now
        }
        for id in expired { actions += remove(id, answering: .unknownMemberID) }
        if !expired.isEmpty {
            actions += rebalanceAfterRemoval(now: now)
        } else if !expiredPending.isEmpty {
            actions += tryCompleteJoin(now: now)
        }

        if state == .preparingRebalance, let deadline = rebalanceDeadline, deadline <= now {
            if let limit = initialDelayLimit, newMemberAddedDuringDelay, limit > now {
                // Members still arrive: wait another delay, but never past the rebalance timeout.
                newMemberAddedDuringDelay = false
                rebalanceDeadline = min(now + configuration.initialRebalanceDelay, limit)
            } else {
                initialDelayLimit = nil
                actions += completeJoin(now: now)
            }
        }
        if state == .completingRebalance, let deadline = syncDeadline, deadline <= now {
            // The leader never sent the assignment: drop who did not sync and start over.
            syncDeadline = nil
            let silent = joinOrder.filter { members[$0]?.pendingSync == nil }
            for id in silent { actions += remove(id, answering: .unknownMemberID) }
            for id in joinOrder {
                guard let pending = members[id]?.pendingSync else { continue }
                members[id]?.pendingSync = nil
                actions.append(.respondSync(pending, .failure(.rebalanceInProgress)))
            }
            actions += prepareRebalance(now: now)
        }
        return actions
    }
}
