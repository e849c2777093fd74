/// Runs `operation`, throwing `error()` if it has not finished after `timeout`. The operation is
/// cancelled then, so it must give up promptly on cancellation (``BrokerConnection`` does).
func withTimeout<T: Sendable>(
    _ timeout: Duration, _ error: @escaping @Sendable () -> KafkaClientError, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw error()
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw error() }
        return first
    }
}
