/// Rebalance mechanics, protocol choice and descriptions of ``GroupStateMachine``.
extension GroupStateMachine {
    /// Moves to PreparingRebalance. Parked SyncGroups of the abandoned generation are told to rejoin.
    mutating func prepareRebalance(now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        if state == .completingRebalance {
            for id in joinOrder {
                guard let pending = members[id]?.pendingSync else { continue }
                members[id]?.pendingSync = nil
                actions.append(.respondSync(pending, .failure(.rebalanceInProgress)))
            }
        }
        for id in members.keys { members[id]?.assignment = [] }
        syncDeadline = nil
        let rebalanceTimeout = members.values.map(\.rebalanceTimeout).max() ?? .zero
        if state == .empty {
            // First rebalance of an empty group: wait for others starting at the same time.
            initialDelayLimit = now + rebalanceTimeout
            newMemberAddedDuringDelay = false
            rebalanceDeadline = now + min(configuration.initialRebalanceDelay, rebalanceTimeout)
        } else {
            initialDelayLimit = nil
            rebalanceDeadline = now + rebalanceTimeout
        }
        state = .preparingRebalance
        return actions + tryCompleteJoin(now: now)
    }

    /// Completes the join phase early once every known member has rejoined and no handed-out
    /// member id is outstanding (not during the initial delay, whose point is to wait).
    mutating func tryCompleteJoin(now: ContinuousClock.Instant) -> [Action] {
        guard state == .preparingRebalance, initialDelayLimit == nil, pendingMembers.isEmpty,
            members.values.allSatisfy({ $0.pendingJoin != nil })
        else { return [] }
        return completeJoin(now: now)
    }

    /// Ends the join phase: drops dynamic members that did not rejoin, starts the next
    /// generation and answers every parked JoinGroup.
    mutating func completeJoin(now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        for id in joinOrder {
            guard let member = members[id], member.pendingJoin == nil, member.groupInstanceID == nil else { continue }
            actions += remove(id, answering: .unknownMemberID)
        }
        rebalanceDeadline = nil
        initialDelayLimit = nil
        generationID &+= 1
        let joined = joinOrder.filter { members[$0]?.pendingJoin != nil }
        guard !joined.isEmpty else {
            // Nobody rejoined (static members that stayed away keep their place but no generation).
            protocolName = nil
            leaderID = nil
            if members.isEmpty {
                state = .empty
                protocolType = nil
            } else {
                state = .preparingRebalance
                rebalanceDeadline = now + (members.values.map(\.rebalanceTimeout).max() ?? .zero)
            }
            return actions
        }
        if let leader = leaderID, joined.contains(leader) {} else { leaderID = joined.first }
        protocolName = selectProtocol()
        state = .completingRebalance
        syncDeadline = now + (members.values.map(\.rebalanceTimeout).max() ?? .zero)
        for id in joined {
            guard let member = members[id], let pending = member.pendingJoin else { continue }
            members[id]?.pendingJoin = nil
            members[id]?.sessionDeadline = now + member.sessionTimeout
            actions.append(.respondJoin(pending, .success(joinResponse(for: id))))
        }
        return actions
    }

    /// After members left or expired: rebalance the rest, or become Empty when none are left.
    mutating func rebalanceAfterRemoval(now: ContinuousClock.Instant) -> [Action] {
        switch state {
        case .stable, .completingRebalance: return prepareRebalance(now: now)
        case .preparingRebalance:
            if members.isEmpty && initialDelayLimit != nil {
                // Everyone left during the initial delay: nothing to wait for.
                initialDelayLimit = nil
            }
            return tryCompleteJoin(now: now)
        case .empty, .dead: return []
        }
    }

    /// Removes a member, answering whatever it had parked with `error`.
    mutating func remove(_ memberID: String, answering error: GroupError) -> [Action] {
        guard let member = members.removeValue(forKey: memberID) else { return [] }
        joinOrder.removeAll { $0 == memberID }
        if let instanceID = member.groupInstanceID, staticMembers[instanceID] == memberID { staticMembers.removeValue(forKey: instanceID) }
        if leaderID == memberID { leaderID = joinOrder.first { members[$0]?.pendingJoin != nil } ?? joinOrder.first }
        var actions: [Action] = []
        if let pending = member.pendingJoin { actions.append(.respondJoin(pending, .failure(error))) }
        if let pending = member.pendingSync { actions.append(.respondSync(pending, .failure(error))) }
        return actions
    }

    /// Kafka's vote: among the protocols every member supports, each member votes for the first
    /// of them in its own preference order; most votes wins, ties go to the leader's preference.
    func selectProtocol() -> String? {
        let candidates = candidateProtocols()
        guard !candidates.isEmpty else { return nil }
        var votes: [String: Int] = [:]
        for member in members.values {
            if let vote = member.protocols.first(where: { candidates.contains($0.name) }) { votes[vote.name, default: 0] += 1 }
        }
        let leaderOrder = leaderID.flatMap { members[$0] }?.protocols.map(\.name) ?? []
        let ordered = leaderOrder.filter(candidates.contains) + candidates.sorted().filter { !leaderOrder.contains($0) }
        let best = votes.values.max() ?? 0
        return ordered.first { votes[$0, default: 0] == best }
    }

    /// Names every current member supports.
    func candidateProtocols() -> Set<String> {
        var candidates: Set<String>?
        for member in members.values {
            let names = Set(member.protocols.map(\.name))
            candidates = candidates.map { $0.intersection(names) } ?? names
        }
        return candidates ?? []
    }

    /// Whether a member with these protocols can be in the group: same protocol type and at
    /// least one protocol every current member also supports.
    func supportsProtocols(_ type: String, _ protocols: [GroupProtocol]) -> Bool {
        guard !type.isEmpty, !protocols.isEmpty else { return false }
        guard !members.isEmpty, let protocolType else { return true }
        return type == protocolType && !candidateProtocols().isDisjoint(with: protocols.map(\.name))
    }

    /// FENCED_INSTANCE_ID when a known instance id is presented with someone else's member id.
    func staticMemberError(memberID: String, groupInstanceID: String?) -> GroupError? {
        guard let groupInstanceID, let holder = staticMembers[groupInstanceID], holder != memberID else { return nil }
        return .fencedInstanceID
    }

    func joinResponse(for memberID: String) -> JoinResponse {
        let protocolName = protocolName ?? ""
        let isLeader = memberID == leaderID
        let everyone = joinOrder.compactMap { id in
            members[id].map { JoinedMember(memberID: id, groupInstanceID: $0.groupInstanceID, metadata: $0.metadata(for: protocolName)) }
        }
        return JoinResponse(
            generationID: generationID, protocolType: protocolType ?? "", protocolName: protocolName, leaderID: leaderID ?? "",
            memberID: memberID, members: isLeader ? everyone : [], skipAssignment: false
        )
    }

    func syncResponse(assignment: [UInt8]) -> SyncResponse {
        SyncResponse(protocolType: protocolType ?? "", protocolName: protocolName ?? "", assignment: assignment)
    }

    // MARK: Describe

    /// DescribeGroups: metadata, assignments and the protocol are shown only when Stable, as Kafka does.
    package func describe() -> GroupDescription {
        let stable = state == .stable
        let protocolName = stable ? (self.protocolName ?? "") : ""
        return GroupDescription(
            groupID: groupID, state: state.rawValue, protocolType: protocolType ?? "", protocolName: protocolName,
            members: joinOrder.compactMap { id in
                members[id].map { member in
                    GroupDescription.Member(
                        memberID: id, groupInstanceID: member.groupInstanceID, clientID: member.clientID, clientHost: member.clientHost,
                        metadata: stable ? member.metadata(for: protocolName) : [], assignment: stable ? member.assignment : []
                    )
                }
            }
        )
    }

    package func overview() -> GroupOverview {
        GroupOverview(groupID: groupID, protocolType: protocolType ?? "", state: state.rawValue)
    }
}

extension GroupStateMachine.Member {
    mutating func update(from request: JoinRequestInput) {
        clientID = request.clientID
        clientHost = request.clientHost
        sessionTimeout = request.sessionTimeout
        rebalanceTimeout = request.rebalanceTimeout
        protocolType = request.protocolType
        protocols = request.protocols
    }
}
