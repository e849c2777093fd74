/// Polls `condition` until it holds or `timeout` passes; returns whether it held. Tests wait on
/// conditions with deadlines like this, never on bare sleeps.
package func eventually(
    timeout: Duration = .seconds(15), every interval: Duration = .milliseconds(25), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    try await eventually(timeout: timeout, every: interval) { try await condition() ? true : nil } ?? false
}

/// Polls until `probe` yields a value, for at most `timeout`; the value, or nil at the deadline.
package func eventually<T>(
    timeout: Duration = .seconds(15), every interval: Duration = .milliseconds(25), _ probe: () async throws -> T?
) async rethrows -> T? {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let value = try await probe() { return value }
        try? await Task.sleep(for: interval)
    }
    return try await probe()
}
