import AMQControlPlane
import ArgumentParser
import Foundation

/// Where the topology lives and which cluster a command means.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("SQLite topology database (default: $AMQ_DB, else DATA_DIR/amq.db).", valueName: "path"))
    var db: String?

    @Option(name: .long, help: ArgumentHelp("Data directory (default: $AMQ_DATA_DIR, else ~/.amq).", valueName: "dir"))
    var dataDir: String?

    @Option(name: .long, help: ArgumentHelp("Cluster to act on (default: $AMQ_CLUSTER, else the only cluster).", valueName: "name"))
    var cluster: String?

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    var resolvedDataDir: String {
        let path = dataDir ?? environment["AMQ_DATA_DIR"] ?? (NSHomeDirectory() + "/.amq")
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }

    var resolvedDBPath: String {
        let path = db ?? environment["AMQ_DB"] ?? (resolvedDataDir + "/amq.db")
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// Opens the database for this command (one connection pool per process).
    func openStore() throws -> TopologyStore {
        let database = try ControlPlaneDatabase(path: resolvedDBPath)
        return TopologyStore(database: database, actor: TopologyStore.cliActor)
    }

    /// Opens the store and names the cluster meant: --cluster, $AMQ_CLUSTER, else the only one.
    func openCluster() async throws -> (store: TopologyStore, cluster: String) {
        let store = try openStore()
        let name = try await store.resolveCluster(cluster ?? environment["AMQ_CLUSTER"])
        return (store, name)
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
}

struct OutputOptions: ParsableArguments {
    @Option(name: .long, help: "Output format: table or json.")
    var format: OutputFormat = .table
}
