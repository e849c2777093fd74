import Foundation
import Logging
import Synchronization

/// The I/O shell around one ``GroupStateMachine`` per group id: Kafka handlers call its async
/// methods, which suspend until the machine answers (a JoinGroup waits for the rebalance, a
/// follower's SyncGroup for the leader), and ``run()`` ticks the machines at the deadlines they ask for.
///
/// Cancellation: a caller that goes away (its connection closed) gets its continuation resumed
/// with COORDINATOR_NOT_AVAILABLE at once and the machine's later answer to that request is
/// dropped, which is what Kafka does with an answer for a closed connection; the member itself
/// stays until its session or the rebalance timeout says otherwise.
package actor GroupCoordinator {
    private let configuration: GroupStateMachine.Configuration
    private let logger: Logger
    private var groups: [String: GroupStateMachine] = [:]
    /// When each group kept Empty (no members) became so; forgotten after `emptyGroupRetention`.
    private var emptySince: [String: ContinuousClock.Instant] = [:]
    private var nextRequestID: GroupRequestID = 0
    /// Parked callers. Behind a mutex, not actor state, because cancellation handlers run
    /// synchronously outside the actor and must resume the continuation themselves.
    private let waiters = Mutex(Waiters())
    private let wakeup = Wakeup()

    package init(configuration: GroupStateMachine.Configuration = GroupStateMachine.Configuration(), logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The agent that coordinates `groupID`: FNV-1a of its UTF-8 bytes over the sorted alive
    /// node ids, so every agent computes the same answer (Swift's `hashValue` is per process).
    /// - Precondition: `nodes` is not empty (the asking agent is alive, so it is in the list).
    package static func coordinatorNode(for groupID: String, nodes: [Int]) -> Int {
        precondition(!nodes.isEmpty, "coordinatorNode needs at least one alive node")
        let sorted = nodes.sorted()
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in groupID.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return sorted[Int(hash % UInt64(sorted.count))]
    }

    // MARK: Requests

    package func join(_ request: JoinRequestInput) async -> JoinResult {
        guard !request.groupID.isEmpty else { return .failure(.invalidGroupID) }
        let id = allocateRequestID()
        return await park(id, as: \.joins, abandoned: .failure(.coordinatorNotAvailable)) {
            var group = groups[request.groupID] ?? GroupStateMachine(groupID: request.groupID, configuration: configuration)
            let actions = group.join(request, requestID: id, now: .now)
            store(group)
            perform(actions)
        }
    }

    package func sync(_ request: SyncRequestInput) async -> SyncResult {
        guard !request.groupID.isEmpty else { return .failure(.invalidGroupID) }
        guard groups[request.groupID] != nil else { return .failure(.unknownMemberID) }
        let id = allocateRequestID()
        return await park(id, as: \.syncs, abandoned: .failure(.coordinatorNotAvailable)) {
            guard var group = groups[request.groupID] else {
                perform([.respondSync(id, .failure(.unknownMemberID))])
                return
            }
            let actions = group.sync(request, requestID: id, now: .now)
            store(group)
            perform(actions)
        }
    }

    package func heartbeat(_ request: HeartbeatRequestInput) -> GroupError? {
        guard !request.groupID.isEmpty else { return .invalidGroupID }
        guard var group = groups[request.groupID] else { return .unknownMemberID }
        let error = group.heartbeat(request, now: .now)
        store(group)
        return error
    }

    package func leave(groupID: String, members: [LeavingMember]) -> LeaveResult {
        guard !groupID.isEmpty else { return LeaveResult(error: .invalidGroupID, members: []) }
        guard var group = groups[groupID] else { return LeaveResult(error: nil, members: members.map { _ in .unknownMemberID }) }
        let (result, actions) = group.leave(members, now: .now)
        store(group)
        perform(actions)
        logger.debug("Members left group", metadata: ["kafka.group_id": "\(groupID)", "amq.members": "\(members.count)"])
        return result
    }

    /// Whether an OffsetCommit with this identity may be stored now (nil: yes). A simple commit
    /// (generation -1, empty member id) to a group nobody joined is allowed.
    package func validateOffsetCommit(_ request: HeartbeatRequestInput) -> GroupError? {
        guard !request.groupID.isEmpty else { return .invalidGroupID }
        guard var group = groups[request.groupID] else {
            // Kafka: an unknown group accepts only simple commits.
            return request.generationID < 0 && request.memberID.isEmpty ? nil : .illegalGeneration
        }
        let error = group.validateOffsetCommit(request, now: .now)
        store(group)
        return error
    }

    /// DescribeGroups: an unknown group is described as Dead with no members, as Kafka does.
    package func describe(groupID: String) -> GroupDescription {
        groups[groupID]?.describe()
            ?? GroupDescription(groupID: groupID, state: GroupState.dead.rawValue, protocolType: "", protocolName: "", members: [])
    }

    /// ListGroups, optionally filtered by state (v4+ `StatesFilter`).
    package func list(states: Set<GroupState> = []) -> [GroupOverview] {
        groups.values
            .filter { states.isEmpty || states.contains($0.state) }
            .map { $0.overview() }
            .sorted { $0.groupID < $1.groupID }
    }

    /// DeleteGroups for one group.
    package func delete(groupID: String) -> GroupError? {
        guard var group = groups[groupID] else { return .groupIDNotFound }
        if let error = group.delete() { return error }
        store(group)
        return nil
    }

    // MARK: Time

    /// Ticks every group at the deadlines the machines ask for, until cancelled.
    package func run() async {
        logger.info("Group coordinator started")
        while !Task.isCancelled {
            let now = ContinuousClock.now
            for groupID in groups.keys where (groups[groupID]?.nextDeadline).map({ $0 <= now }) == true {
                guard var group = groups[groupID] else { continue }
                let before = group.state
                let actions = group.tick(now: now)
                store(group)
                perform(actions)
                if group.state != before {
                    logger.debug(
                        "Group state changed on timeout",
                        metadata: ["kafka.group_id": "\(groupID)", "amq.group.state": "\(group.state.rawValue)"]
                    )
                }
            }
            // Empty groups past their retention are forgotten, as Kafka expires them.
            for (groupID, since) in emptySince where now - since >= configuration.emptyGroupRetention {
                groups.removeValue(forKey: groupID)
                emptySince.removeValue(forKey: groupID)
            }
            let expiry = emptySince.values.min().map { $0 + configuration.emptyGroupRetention }
            let deadline = (groups.values.compactMap(\.nextDeadline) + [expiry].compactMap { $0 }).min()
            await wakeup.wait(until: deadline)
        }
        logger.info("Group coordinator stopped")
    }

    // MARK: Plumbing

    private func allocateRequestID() -> GroupRequestID {
        nextRequestID += 1
        return nextRequestID
    }

    /// Keeps a machine; a group with no members stays Empty (DescribeGroups, ListGroups and
    /// DeleteGroups see it, as Kafka's do) until deleted or `emptyGroupRetention` after it emptied;
    /// a deleted (Dead) one is forgotten at once. (Committed offsets live in the controller.)
    private func store(_ group: GroupStateMachine) {
        let id = group.groupID
        if group.state == .dead {
            groups.removeValue(forKey: id)
            emptySince.removeValue(forKey: id)
        } else {
            groups[id] = group
            if group.state == .empty && group.isEmpty {
                if emptySince[id] == nil { emptySince[id] = .now }
            } else {
                emptySince.removeValue(forKey: id)
            }
        }
        wakeup.wake()
    }

    private func perform(_ actions: [GroupStateMachine.Action]) {
        for action in actions {
            switch action {
            case .respondJoin(let id, let result): waiters.resume(id, in: \.joins, with: result)
            case .respondSync(let id, let result): waiters.resume(id, in: \.syncs, with: result)
            }
        }
    }

    /// Registers a continuation under `id`, runs `body` (which feeds the machine, possibly
    /// answering at once), and returns the answer whenever it comes.
    private func park<Result: Sendable>(
        _ id: GroupRequestID,
        as slot: any WritableKeyPath<Waiters, [GroupRequestID: Waiters.Slot<Result>]> & Sendable,
        abandoned: Result,
        body: () -> Void
    ) async -> Result {
        waiters.withLock { $0[keyPath: slot][id] = .allocated }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let cancelled = waiters.withLock { waiters -> Bool in
                    if case .cancelled = waiters[keyPath: slot][id] {
                        waiters[keyPath: slot][id] = nil
                        return true
                    }
                    waiters[keyPath: slot][id] = .waiting(continuation)
                    return false
                }
                if cancelled {
                    continuation.resume(returning: abandoned)
                } else {
                    body()
                }
            }
        } onCancel: {
            let continuation = waiters.withLock { waiters -> CheckedContinuation<Result, Never>? in
                switch waiters[keyPath: slot][id] {
                case .allocated:
                    waiters[keyPath: slot][id] = .cancelled
                    return nil
                case .waiting(let continuation):
                    waiters[keyPath: slot][id] = nil
                    return continuation
                case .cancelled, nil:
                    return nil
                }
            }
            continuation?.resume(returning: abandoned)
        }
    }
}

/// Parked JoinGroup and SyncGroup callers by request id.
struct Waiters: Sendable {
    enum Slot<Value: Sendable>: Sendable {
        /// Id handed out, continuation not yet registered.
        case allocated
        /// Cancelled before the continuation was registered.
        case cancelled
        case waiting(CheckedContinuation<Value, Never>)
    }

    var joins: [GroupRequestID: Slot<JoinResult>] = [:]
    var syncs: [GroupRequestID: Slot<SyncResult>] = [:]
}

extension Mutex where Value == Waiters {
    /// Resumes the caller parked under `id`, if it still waits; an abandoned request's answer is dropped.
    func resume<Result: Sendable>(
        _ id: GroupRequestID, in slot: WritableKeyPath<Waiters, [GroupRequestID: Waiters.Slot<Result>]>, with result: Result
    ) {
        let continuation = withLock { waiters -> CheckedContinuation<Result, Never>? in
            guard case .waiting(let continuation) = waiters[keyPath: slot].removeValue(forKey: id) else { return nil }
            return continuation
        }
        continuation?.resume(returning: result)
    }
}

/// Lets the tick loop sleep until a deadline and be woken early when a request may have moved
/// the earliest deadline.
final class Wakeup: Sendable {
    private struct State {
        var waiter: CheckedContinuation<Void, Never>?
        /// A wake that came while nobody slept; the next wait returns at once.
        var pending = false
    }

    private let state = Mutex(State())

    func wake() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns at `deadline` (never, if nil), on ``wake()``, or on cancellation.
    func wait(until deadline: ContinuousClock.Instant?) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let resumeNow = self.state.withLock { state -> Bool in
                            if state.pending || Task.isCancelled {
                                state.pending = false
                                return true
                            }
                            state.waiter = continuation
                            return false
                        }
                        if resumeNow { continuation.resume() }
                    }
                } onCancel: {
                    self.wake()
                }
            }
            if let deadline {
                group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            }
            await group.next()
            group.cancelAll()
        }
        state.withLock { $0.pending = false }
    }
}
