import AMQStreamIndex
import Synchronization

/// A Fetch parked until one of its partitions has data past its position, or its deadline.
struct DataWaiter {
    var positions: [PartitionKey: Int64]
    var deadline: ContinuousClock.Instant
    var continuation: CheckedContinuation<Void, any Error>
}

/// An append waiting for un-uploaded bytes to fall under the bound.
struct RoomWaiter {
    var size: Int
    var deadline: ContinuousClock.Instant
    var continuation: CheckedContinuation<Void, any Error>
}

extension StorageEngine {
    /// Waits until `partition` has data past `offset` or `deadline` passes (Fetch's long-poll).
    package func waitForData(_ partition: PartitionKey, after offset: Int64, until deadline: ContinuousClock.Instant) async throws {
        try await waitForData([partition: offset], until: deadline)
    }

    /// Waits until any of `positions` has data past its offset, or `deadline` passes: one Fetch
    /// parks on all its partitions at once. Throws `shuttingDown` once the engine stops (a wait
    /// that returned at once instead would have its caller read and wait again in a loop until
    /// its deadline), and `CancellationError` when the waiting task is cancelled (its client is
    /// gone).
    package func waitForData(_ positions: [PartitionKey: Int64], until deadline: ContinuousClock.Instant) async throws {
        if writePath.withLock({ $0.stopped }) { throw StorageError(.shuttingDown, "the agent is shutting down") }
        for (partition, offset) in positions {
            let log = try await partitionLog(partition)
            if log.committedEnd > offset { return }
        }
        guard !positions.isEmpty, deadline > .now else { return }
        if writePath.withLock({ $0.stopped }) { throw StorageError(.shuttingDown, "the agent is shutting down") }
        try Task.checkCancellation()
        nextWaiterID += 1
        let id = nextWaiterID
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                dataWaiters[id] = DataWaiter(positions: positions, deadline: deadline, continuation: continuation)
                deadlineSink.yield(deadline)
            }
        } onCancel: {
            Task { await self.cancelDataWaiter(id) }
        }
    }

    private func cancelDataWaiter(_ id: Int) {
        dataWaiters.removeValue(forKey: id)?.continuation.resume(throwing: CancellationError())
    }

    func wakeDataWaiters(_ partition: PartitionKey, end: Int64) {
        for (id, waiter) in dataWaiters where waiter.positions[partition].map({ end > $0 }) == true {
            dataWaiters.removeValue(forKey: id)
            waiter.continuation.resume()
        }
    }

    func waitForRoom(_ size: Int) async throws {
        nextWaiterID += 1
        let id = nextWaiterID
        let deadline = ContinuousClock.now + configuration.appendTimeout
        try await withCheckedThrowingContinuation { continuation in
            roomWaiters[id] = RoomWaiter(size: size, deadline: deadline, continuation: continuation)
            deadlineSink.yield(deadline)
        }
    }

    func resumeRoomWaiters() {
        for (id, waiter) in roomWaiters.sorted(by: { $0.key < $1.key }) where writePath.withLock({ $0.hasRoom(for: waiter.size) }) {
            roomWaiters.removeValue(forKey: id)
            waiter.continuation.resume()
        }
    }

    /// A deadline passed: expire waits that are due and seal a buffer whose linger is over.
    func tick() {
        guard !writePath.withLock({ $0.stopped }) else { return }
        let now = ContinuousClock.now
        for (id, waiter) in dataWaiters where waiter.deadline <= now {
            dataWaiters.removeValue(forKey: id)
            waiter.continuation.resume()
        }
        for (id, waiter) in roomWaiters where waiter.deadline <= now {
            roomWaiters.removeValue(forKey: id)
            waiter.continuation.resume(
                throwing: StorageError(
                    .backpressureTimeout,
                    "\(writePath.withLock { $0.uncommittedBytes }) bytes are waiting to be stored and committed (limit \(configuration.maxUncommittedBytes)); the object store or the controller is slow or down"
                )
            )
        }
        execute(writePath.withLock { $0.tick(now: now) })
    }
}
