/// Holds the newest topology snapshot and wakes the long-polls waiting for a newer one.
package actor TopologyBroadcaster {
    private(set) var snapshot: TopologySnapshot?
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    /// Waiters woken (by timeout or cancellation) before they suspended.
    private var woken: Set<Int> = []
    private var nextWaiter = 0

    package init() {}

    package func current() -> TopologySnapshot? { snapshot }

    package func publish(_ snapshot: TopologySnapshot) {
        guard snapshot.version != self.snapshot?.version else { return }
        self.snapshot = snapshot
        for waiter in waiters.values { waiter.resume() }
        waiters.removeAll()
    }

    /// Returns the snapshot once its version is above `version`, or nil when `timeout` passes first
    /// or the caller is cancelled.
    package func snapshot(after version: Int, timeout: Duration) async -> TopologySnapshot? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let snapshot, snapshot.version > version { return snapshot }
            if ContinuousClock.now >= deadline || Task.isCancelled { return nil }
            await waitForPublish(until: deadline)
        }
    }

    private func waitForPublish(until deadline: ContinuousClock.Instant) async {
        let id = nextWaiter
        nextWaiter += 1
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.suspend(id) }
            group.addTask {
                // Cancellation (the other task finished, or the caller went away) ends the sleep early.
                try? await Task.sleep(until: deadline, clock: .continuous)
                await self.wake(id)
            }
            await group.next()
            group.cancelAll()
        }
        // Both children are done; forget a wake that came after the publish.
        woken.remove(id)
    }

    private func suspend(_ id: Int) async {
        if woken.remove(id) != nil { return }
        await withCheckedContinuation { waiters[id] = $0 }
    }

    private func wake(_ id: Int) {
        if let waiter = waiters.removeValue(forKey: id) {
            waiter.resume()
        } else {
            woken.insert(id)
        }
    }
}
