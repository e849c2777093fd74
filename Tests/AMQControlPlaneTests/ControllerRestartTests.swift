import AMQControlPlane
import AMQTestSupport
import Foundation
import GRDB
import Testing

/// What a controller restart must not do (issue 11).
@Suite(.timeLimit(.minutes(1))) struct ControllerRestartTests {
    /// Finding 9: heartbeats sent while no controller ran were never recorded, so the first
    /// liveness check of a restarted controller saw every node as silent and marked it down,
    /// moving its leaders. Every node now gets a full grace period from the controller's start.
    @Test func aRestartedControllerGivesEveryNodeAFullGracePeriod() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = try ControlPlaneDatabase(path: directory.path + "/amq.db")
        let store = TopologyStore(database: database, actor: "test")
        try await store.createCluster(
            .init(name: "demo", zones: ["a"], agentsPerZone: 1, objectStoreURL: "file://\(directory.path)/objects", dataDir: directory.path, local: true)
        )
        // Node 1 was alive when the previous controller stopped, ten minutes ago.
        _ = try await store.heartbeat("demo", nodeID: 1, ackedVersion: nil, pid: nil)
        try await database.write { db in
            try db.execute(sql: "UPDATE node SET last_heartbeat = ?", arguments: [Date().timeIntervalSince1970 - 600])
        }
        let grace = Duration.seconds(3)  // 3 missed heartbeats of 1 s, the defaults
        try await TestController.with(directory: directory.path, createCluster: false) { controller in
            let started = ContinuousClock.now
            // Well inside the grace period the node is still up (the old controller marked it
            // down on its first check, half a heartbeat in).
            while ContinuousClock.now - started < grace - .milliseconds(1500) {
                #expect(try await controller.node(1)?.liveness == .alive)
                try await Task.sleep(for: .milliseconds(100))
            }
            // No heartbeat comes, so after the grace period it is down: the check still works.
            #expect(await eventually(timeout: .seconds(10)) { (try? await controller.node(1))??.liveness == .down })
            #expect(ContinuousClock.now - started >= grace)
        }
    }
}
