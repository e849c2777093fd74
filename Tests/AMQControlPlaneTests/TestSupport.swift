import AMQControlPlane
import Foundation

/// A fresh directory under the system temp directory, removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("amq-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A store on a new database file with one cluster `demo` of zones a, b, c and two nodes per zone.
func makeStore(zones: [String] = ["a", "b", "c"], agentsPerZone: Int = 2) async throws -> (TopologyStore, TemporaryDirectory) {
    let directory = try TemporaryDirectory()
    let database = try ControlPlaneDatabase(path: directory.path + "/amq.db")
    let store = TopologyStore(database: database, actor: "test")
    try await store.createCluster(
        .init(
            name: "demo", zones: zones, agentsPerZone: agentsPerZone, objectStoreURL: "file://\(directory.path)/objects",
            dataDir: directory.path + "/demo", local: true
        )
    )
    return (store, directory)
}
