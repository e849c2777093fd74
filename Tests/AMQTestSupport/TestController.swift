import AMQControlPlane
import Foundation
import Logging

/// A real controller for cluster `demo` (zones a and b by default, one node each) on a SQLite database in a
/// directory, listening on a free port on 127.0.0.1, for the duration of a test body.
package struct TestController: Sendable {
    package let url: String
    package let secret: ClusterSecret
    package let store: TopologyStore
    package let client: ControlClient
    package let directory: String

    package func node(_ id: Int) async throws -> NodeInfo? {
        try await store.snapshot("demo").nodes.first { $0.id == id }
    }

    package struct StartError: Error, CustomStringConvertible {
        package var description: String { "the test controller stopped before it listened" }
    }

    /// Runs the controller on `directory` (a fresh temporary one when nil, removed afterwards);
    /// `createCluster: false` reopens a database a previous run left.
    package static func with(
        directory: String? = nil, createCluster: Bool = true, zones: [String] = ["a", "b"], logger: Logger = Self.quietLogger,
        _ body: @Sendable (TestController) async throws -> Void
    ) async throws {
        let owned = directory == nil
        let path = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("amq-controller-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { if owned { try? FileManager.default.removeItem(atPath: path) } }
        let database = try ControlPlaneDatabase(path: path + "/amq.db")
        let store = TopologyStore(database: database, actor: "test")
        if createCluster {
            try await store.createCluster(
                .init(name: "demo", zones: zones, agentsPerZone: 1, objectStoreURL: "file://\(path)/objects", dataDir: path, local: true)
            )
            // An in-process agent shares this test process's few threads with CPU-heavy tests, so
            // its heartbeats can be late by seconds; being marked down would fail its partitions
            // over mid-test. Liveness and failover are tested with real processes instead.
            _ = try await store.updateSettings("demo", [("missed.heartbeats.before.down", "60")])
        }
        let secret = ClusterSecret.generate()
        let controller = ControllerService(
            configuration: .init(cluster: "demo", host: "127.0.0.1", port: 0, secret: secret), database: database, logger: logger
        )
        let (urls, continuation) = AsyncStream.makeStream(of: String.self)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await controller.run { continuation.yield($0) } }
            defer { group.cancelAll() }
            var iterator = urls.makeAsyncIterator()
            guard let url = await iterator.next() else { throw StartError() }
            try await body(
                TestController(url: url, secret: secret, store: store, client: try ControlClient(baseURL: url, secret: secret), directory: path)
            )
        }
    }

    /// Cancelling the controller at the end of each test logs shutdown noise; tests check results.
    package static var quietLogger: Logger {
        var logger = Logger(label: "test.controller")
        logger.logLevel = .critical
        return logger
    }
}
