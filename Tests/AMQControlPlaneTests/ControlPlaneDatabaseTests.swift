import AMQControlPlane
import GRDB
import Foundation
import Testing

@Suite struct ControlPlaneDatabaseTests {
    @Test func refusesAFileThatIsNotSQLite() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/notes.txt"
        try Data("hello, not a database".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: ControlPlaneError.self) { try ControlPlaneDatabase(path: path) }
        do {
            _ = try ControlPlaneDatabase(path: path)
        } catch {
            #expect(error.code == .notAnAMQDatabase)
            #expect(error.message.contains("is not an amq database"))
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "hello, not a database")
    }

    @Test func refusesSomeoneElsesSQLiteDatabase() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/other.db"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sqlite3; c = sqlite3.connect('\(path)'); c.execute('create table t(x)'); c.commit()"]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        do {
            _ = try ControlPlaneDatabase(path: path)
            Issue.record("opened a foreign database")
        } catch {
            #expect(error.code == .notAnAMQDatabase)
        }
    }

    /// A commit the controller answered survives a power loss: the connection that writes syncs
    /// the WAL on every commit (issue 11, finding 1).
    @Test func commitsAreDurableAcrossPowerLoss() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = try ControlPlaneDatabase(path: directory.path + "/amq.db")
        // 2 is FULL; GRDB's default in WAL mode is 1, NORMAL.
        #expect(try await database.write { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
    }

    @Test func reopeningKeepsDataAndMigratesOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/amq.db"
        do {
            let store = TopologyStore(database: try ControlPlaneDatabase(path: path), actor: "test")
            try await store.createCluster(.init(name: "one", zones: ["a"], agentsPerZone: 1, objectStoreURL: "file:///tmp/o", dataDir: "/tmp/o", local: false))
        }
        let store = TopologyStore(database: try ControlPlaneDatabase(path: path), actor: "test")
        #expect(try await store.listClusters().map(\.name) == ["one"])
    }

    /// Several independent connections (as several processes would have) create topics at once;
    /// every change must land, each with its own topology version.
    @Test func concurrentWritersLoseNoUpdate() async throws {
        let (first, directory) = try await makeStore()
        defer { directory.cleanup() }
        let start = try await first.topologyVersion("demo")
        let writers = 6
        let perWriter = 15
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let store = TopologyStore(database: try ControlPlaneDatabase(path: first.database.path), actor: "writer-\(writer)")
                    for index in 0..<perWriter {
                        _ = try await store.createTopic("demo", name: "t-\(writer)-\(index)", partitions: 2, config: TopicConfig())
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await first.topics("demo").count == writers * perWriter)
        #expect(try await first.topologyVersion("demo") == start + writers * perWriter)
        let versions = try await first.auditLog("demo", limit: 1000).filter { $0.action == "topic.create" }.map(\.topologyVersion)
        #expect(Set(versions).count == writers * perWriter)
    }
}
