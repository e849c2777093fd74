import Synchronization

/// A result that arrives later, awaited by any number of callers: the first outcome wins and
/// every waiter gets it. A caller that is cancelled stops waiting (CancellationError); the work
/// itself goes on, and later callers still get its outcome.
package final class Completion<Value: Sendable>: Sendable {
    private let state: Mutex<State>

    private struct State {
        var outcome: Result<Value, StorageError>?
        var waiters: [Int: CheckedContinuation<Value, any Error>] = [:]
        /// Waiters cancelled before they were registered.
        var cancelled: Set<Int> = []
        var nextWaiter = 0
    }

    private enum Now { case wait, outcome(Result<Value, StorageError>), cancelled }

    package init() {
        state = Mutex(State())
    }

    /// Already decided.
    package init(_ outcome: Result<Value, StorageError>) {
        state = Mutex(State(outcome: outcome))
    }

    /// The outcome once there is one.
    package var outcome: Result<Value, StorageError>? { state.withLock { $0.outcome } }

    package func result() async throws -> Value {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let now: Now = state.withLock { state in
                    if let outcome = state.outcome { return .outcome(outcome) }
                    if state.cancelled.remove(id) != nil { return .cancelled }
                    state.waiters[id] = continuation
                    return .wait
                }
                switch now {
                case .wait: break
                case .outcome(let outcome): continuation.resume(with: outcome.mapError { $0 as any Error })
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Value, any Error>? = state.withLock { state in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                if state.outcome == nil { state.cancelled.insert(id) }
                return nil
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Sets the outcome (the first one wins) and wakes every waiter.
    package func complete(_ outcome: Result<Value, StorageError>) {
        let waiters: [CheckedContinuation<Value, any Error>] = state.withLock { state in
            guard state.outcome == nil else { return [] }
            state.outcome = outcome
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(with: outcome.mapError { $0 as any Error }) }
    }
}

/// An append the engine has taken and given offsets, whose durability is still to come: the
/// Kafka layer stages appends in request order and awaits them concurrently, so pipelined
/// produces keep their order without waiting for each other's commit.
package final class PendingAppend: Sendable {
    package let offsets: AppendResult
    private let completion: Completion<AppendResult>

    init(offsets: AppendResult) {
        self.offsets = offsets
        completion = Completion()
    }

    /// Already decided (a duplicate of a committed batch, or a refusal).
    init(offsets: AppendResult, outcome: Result<AppendResult, StorageError>) {
        self.offsets = offsets
        completion = Completion(outcome)
    }

    /// The offsets, once the batches are durable and committed; or why they never will be. A
    /// cancelled caller stops waiting (CancellationError); the append itself goes on.
    package func result() async throws -> AppendResult {
        try await completion.result()
    }

    func complete(_ outcome: Result<AppendResult, StorageError>) {
        completion.complete(outcome)
    }
}
