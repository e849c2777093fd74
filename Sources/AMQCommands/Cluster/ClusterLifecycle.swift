import AMQControlPlane
import AMQSecurity
import ArgumentParser
import Foundation

/// Opens the cluster named by the argument or the global options, for commands that take it as
/// their argument (`amq cluster stop demo`).
private func openNamed(_ name: String?, _ global: GlobalOptions) async throws -> (TopologyStore, ClusterInfo) {
    let store = try global.openStore()
    let cluster = try await store.resolveCluster(name ?? global.cluster ?? global.environment["AMQ_CLUSTER"])
    return (store, try await store.cluster(cluster))
}

private func requireLocal(_ info: ClusterInfo, _ verb: String) throws {
    guard info.local else {
        throw ControlPlaneError(
            .conflict,
            "cluster \"\(info.name)\" is not local: amq does not \(verb) its processes; use systemd or Kubernetes (see manifests/)"
        )
    }
}

struct ClusterStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the controller and every agent: process, zone, ports, liveness, last heartbeat.",
        discussion: """
            Liveness is the controller's view (alive, down after missed heartbeats, stopped after a clean \
            exit, unknown before the first registration); PROCESS is what the pid file says on this \
            machine (running, stopped, stale). VERSION is the topology version each agent holds.

            Example:
              amq cluster status --format json
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "Cluster name (default: --cluster, $AMQ_CLUSTER, else the only cluster).")
    var name: String?

    struct ControllerStatus: Codable {
        var url: String?
        var pid: Int?
        var process: LocalFleet.ProcessState?
        var reachable: Bool
        var topologyVersion: Int
    }

    struct AgentStatus: Codable {
        var nodeId: Int
        var zone: String
        var host: String
        var pid: Int?
        var process: LocalFleet.ProcessState?
        var liveness: NodeLiveness
        var adminState: NodeAdminState
        var kafkaPort: Int?
        var adminPort: Int?
        var rpcPort: Int?
        var lastHeartbeat: Date?
        var topologyVersion: Int?
        var leaders: Int
        var replicas: Int
    }

    /// How to connect to a secured local cluster: files, never their contents.
    struct SecurityStatus: Codable {
        var kafkaProtocol: String
        var caFile: String?
        var certFile: String?
        var keyFile: String?
        var adminUser: String?
        var adminPasswordFile: String?
        var secretFile: String
    }

    struct Status: Codable {
        var cluster: String
        var controller: ControllerStatus
        var agents: [AgentStatus]
        var security: SecurityStatus?
    }

    func run() async throws {
        let (store, info) = try await openNamed(name, global)
        let snapshot = try await store.snapshot(info.name)
        let fleet = info.local ? LocalFleet(store: store, cluster: info) : nil
        var reachable = false
        let layout = FleetLayout(directory: info.dataDir)
        let security = LocalSecurity.load(layout)
        if let url = info.controllerURL, let secret = try? ClusterSecret.load(file: layout.secretFile) {
            reachable = (try? await security.controlClient(url, secret: secret).health(timeout: .seconds(2))) != nil
        }
        let controllerProcess = fleet?.process(.controller)
        let status = Status(
            cluster: info.name,
            controller: ControllerStatus(
                url: info.controllerURL, pid: info.controllerPID, process: controllerProcess?.state, reachable: reachable,
                topologyVersion: snapshot.version
            ),
            agents: snapshot.nodes.map { node in
                let process = fleet?.process(.agent(node.id))
                return AgentStatus(
                    nodeId: node.id, zone: node.zone, host: node.host, pid: process?.pid.map(Int.init) ?? node.pid,
                    process: process?.state, liveness: node.liveness, adminState: node.adminState,
                    kafkaPort: node.kafkaPort, adminPort: node.adminPort, rpcPort: node.rpcPort, lastHeartbeat: node.lastHeartbeat,
                    topologyVersion: node.ackedVersion,
                    leaders: snapshot.partitions.filter { $0.leader == node.id }.count,
                    replicas: snapshot.partitions.filter { $0.replicas.values.contains(node.id) }.count
                )
            },
            security: info.local
                ? SecurityStatus(
                    kafkaProtocol: security.kafkaProtocol.rawValue, caFile: security.tls?.caFile, certFile: security.tls?.certificateFile,
                    keyFile: security.tls?.keyFile, adminUser: security.adminUser, adminPasswordFile: security.adminPasswordFile, secretFile: layout.secretFile
                ) : nil
        )
        if output.format == .json { return try Output.json(status) }
        render(status)
    }

    private func render(_ status: Status) {
        let controller = status.controller
        let state = controller.reachable ? "reachable" : "unreachable"
        Output.line(
            "Cluster \(status.cluster), topology version \(controller.topologyVersion); controller \(controller.url ?? "-") \(state)"
                + (controller.process.map { " (process \($0.rawValue), pid \(Output.optional(controller.pid)))" } ?? "")
        )
        Output.table(
            ["node", "zone", "pid", "process", "liveness", "state", "kafka", "admin", "rpc", "heartbeat", "version", "leaders", "replicas"],
            status.agents.map {
                [
                    String($0.nodeId), $0.zone, Output.optional($0.pid), $0.process?.rawValue ?? "-", $0.liveness.rawValue,
                    $0.adminState.rawValue, Output.optional($0.kafkaPort),
                    Output.optional($0.adminPort), Output.optional($0.rpcPort), Output.age($0.lastHeartbeat), Output.optional($0.topologyVersion),
                    String($0.leaders), String($0.replicas),
                ]
            }
        )
        if let security = status.security, security.kafkaProtocol != SecurityProtocol.plaintext.rawValue {
            Output.line(
                "Kafka listeners: \(security.kafkaProtocol)" + (security.caFile.map { "; CA \($0)" } ?? "")
                    + (security.adminUser.map { "; super user \($0), password in \(security.adminPasswordFile ?? "-")" } ?? "")
            )
        }
    }
}

struct ClusterStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a local cluster's controller and agents from the stored topology.",
        discussion: """
            Starts only what is not running; stale pid files are detected and replaced. Returns once \
            every agent is ready.

            Example:
              amq cluster start demo
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Cluster name (default: --cluster, $AMQ_CLUSTER, else the only cluster).")
    var name: String?

    func run() async throws {
        let (store, info) = try await openNamed(name, global)
        try requireLocal(info, "start")
        Output.progress("Starting cluster \(info.name)…")
        try await LocalFleet(store: store, cluster: info).start(databasePath: global.resolvedDBPath)
        Output.line("Cluster \(info.name) is up")
    }
}

struct ClusterStop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a local cluster's agents and controller.",
        discussion: """
            Sends SIGTERM to the agents (they leave the controller cleanly), then to the controller, \
            and SIGKILL to whatever still runs after --timeout seconds.

            Example:
              amq cluster stop demo --timeout 10
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Cluster name (default: --cluster, $AMQ_CLUSTER, else the only cluster).")
    var name: String?
    @Option(name: .long, help: "Seconds to wait after SIGTERM before SIGKILL.")
    var timeout: Int = 10

    func validate() throws {
        if timeout < 0 { throw ValidationError("--timeout must be 0 or more seconds") }
    }

    func run() async throws {
        let (store, info) = try await openNamed(name, global)
        try requireLocal(info, "stop")
        let report = try await LocalFleet(store: store, cluster: info).stop(timeout: .seconds(timeout))
        var parts = ["stopped \(report.stopped.count)"]
        if !report.killed.isEmpty { parts.append("killed \(report.killed.count) after \(timeout)s (\(report.killed.joined(separator: ", ")))") }
        if !report.stale.isEmpty { parts.append("removed \(report.stale.count) stale pid file(s)") }
        Output.line("Cluster \(info.name): \(parts.joined(separator: ", "))")
    }
}

struct ClusterDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a cluster: stop its local processes, remove its topology and its directory.",
        discussion: """
            The audit log keeps the cluster's history. For a local cluster the cluster directory \
            (secret, logs, local objects) is removed too; --keep-files keeps it.

            Example:
              amq cluster delete demo
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Cluster name.")
    var name: String
    @Flag(name: .long, help: "Keep the cluster directory.")
    var keepFiles = false

    func run() async throws {
        let store = try global.openStore()
        let info = try await store.cluster(name)
        if info.local {
            _ = try await LocalFleet(store: store, cluster: info).stop(timeout: .seconds(10))
        }
        try await store.deleteCluster(name)
        if info.local && !keepFiles {
            try? FileManager.default.removeItem(atPath: info.dataDir)
        }
        Output.line("Deleted cluster \(name)")
    }
}
