import AMQControlPlane
import AMQSecurity
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The controller and agents of a `--local` cluster, run as detached background processes of this
/// same binary, with pid files and logs under the cluster's directory.
struct LocalFleet {
    let store: TopologyStore
    let cluster: ClusterInfo
    let layout: FleetLayout
    /// TLS and SASL of the local processes.
    let security: LocalSecurity
    /// Longest wait for a process to come up.
    var startTimeout: Duration = .seconds(60)

    init(store: TopologyStore, cluster: ClusterInfo) {
        self.store = store
        self.cluster = cluster
        self.layout = FleetLayout(directory: cluster.dataDir)
        self.security = LocalSecurity.load(layout)
    }

    enum Role: Sendable, Equatable {
        case controller
        case agent(Int)
    }

    enum ProcessState: String, Codable, Sendable {
        case running
        case stopped
        /// A pid file whose process is gone or is not ours.
        case stale
    }

    func pidFile(_ role: Role) -> String {
        switch role {
        case .controller: layout.controllerPIDFile
        case .agent(let id): layout.agentPIDFile(id)
        }
    }

    func logFile(_ role: Role) -> String {
        switch role {
        case .controller: layout.controllerLog
        case .agent(let id): layout.agentLog(id)
        }
    }

    /// The process of `role`, if its pid file names one of ours that runs.
    func process(_ role: Role) -> (state: ProcessState, pid: Int32?) {
        guard let pid = ProcessControl.readPID(pidFile(role)) else { return (.stopped, nil) }
        guard ProcessControl.isAlive(pid), isOurs(pid, role) else { return (.stale, pid) }
        return (.running, pid)
    }

    private func isOurs(_ pid: Int32, _ role: Role) -> Bool {
        guard let arguments = ProcessControl.commandLine(pid) else { return false }
        func has(_ flag: String, _ value: String) -> Bool { ProcessControl.argument(flag, of: pid) == value }
        switch role {
        case .controller: return arguments.contains("controller") && has("--secret-file", layout.secretFile)
        case .agent(let id): return arguments.contains("agent") && has("--node-id", String(id)) && has("--secret-file", layout.secretFile)
        }
    }

    // MARK: Start

    /// Starts whatever is not running: the controller, then one agent per node; returns once all
    /// are ready, printing progress to stderr.
    func start(databasePath: String) async throws {
        let controllerURL = try await startController(databasePath: databasePath)
        let nodes = try await store.nodes(cluster.name)
        var started: [Int: Int32] = [:]
        for node in nodes {
            if case (.running, let pid?) = process(.agent(node.id)) {
                if ProcessControl.argument("--controller", of: pid) == controllerURL {
                    Output.progress("  agent \(node.id) (zone \(node.zone)) already running (pid \(pid))")
                    continue
                }
                // The controller could not get its old port back: this agent calls an address
                // nobody answers, so it is restarted (cleanly) with the new one.
                Output.progress("  agent \(node.id) (zone \(node.zone)) follows an old controller address; restarting it")
                var report = StopReport()
                try await stopGroup([.agent(node.id)], timeout: .seconds(10), report: &report)
            }
            started[node.id] = try spawn(.agent(node.id), arguments: agentArguments(node, controllerURL: controllerURL))
        }
        try await waitForAgents(started)
    }

    private func startController(databasePath: String) async throws -> String {
        if case (.running, let pid?) = process(.controller), let url = try await store.cluster(cluster.name).controllerURL {
            Output.progress("  controller already running at \(url) (pid \(pid))")
            return url
        }
        try await store.setController(cluster.name, url: nil, pid: nil)
        // Back on its last port when that is free: running agents (and anything else that knows
        // the address) find it again without a restart.
        let lastPort = (try? String(contentsOfFile: layout.controllerPortFile, encoding: .utf8)).flatMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let port = lastPort.flatMap { ProcessControl.isPortFree(host: "127.0.0.1", port: $0) ? $0 : nil } ?? 0
        let pid = try spawn(
            .controller,
            arguments: [
                "controller", "run", "--db", databasePath, "--cluster", cluster.name, "--listen", "127.0.0.1:\(port)",
                "--secret-file", layout.secretFile,
            ] + (cluster.zones.first.map { ["--zone", $0.name] } ?? []) + security.daemonArguments
        )
        let deadline = ContinuousClock.now + startTimeout
        while ContinuousClock.now < deadline {
            let info = try await store.cluster(cluster.name)
            if let url = info.controllerURL, info.controllerPID == Int(pid) {
                if let port = URLComponents(string: url)?.port {
                    try? "\(port)\n".write(toFile: layout.controllerPortFile, atomically: true, encoding: .utf8)
                }
                Output.progress("  controller up at \(url) (pid \(pid))")
                return url
            }
            try requireAlive(pid, .controller)
            try await Task.sleep(for: .milliseconds(50))
        }
        throw FleetError("the controller (pid \(pid)) did not come up within \(startTimeout); see \(layout.controllerLog)")
    }

    private func agentArguments(_ node: NodeInfo, controllerURL: String) -> [String] {
        // Back on the ports it had when they are still free, so clients' cached addresses work.
        func port(_ last: Int?) -> String {
            guard let last, ProcessControl.isPortFree(host: node.host, port: last) else { return "0" }
            return String(last)
        }
        let kafka = security.kafkaProtocol == .plaintext
            ? ["--kafka-port", port(node.kafkaPort)]
            : ["--listener", "\(security.kafkaProtocol.rawValue)://\(node.host):\(port(node.kafkaPort))"]
        return [
            "agent", "run", "--controller", controllerURL, "--zone", node.zone, "--node-id", String(node.id),
            "--secret-file", layout.secretFile, "--host", node.host, "--admin-port", port(node.adminPort), "--rpc-port", port(node.rpcPort),
        ] + kafka + security.daemonArguments
    }

    private func spawn(_ role: Role, arguments: [String]) throws -> Int32 {
        try FileManager.default.createDirectory(atPath: layout.logsDirectory, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        // The secret travels by file; never leave a stale one in the children's environment.
        environment.removeValue(forKey: ClusterSecret.environmentVariable)
        let pid = try ProcessControl.spawnDetached(
            [ProcessControl.executablePath] + arguments, logFile: logFile(role), environment: environment
        )
        try ProcessControl.writePID(pid, to: pidFile(role))
        return pid
    }

    private func requireAlive(_ pid: Int32, _ role: Role) throws {
        guard !ProcessControl.isAlive(pid) else { return }
        let name = if case .agent(let id) = role { "agent \(id)" } else { "the controller" }
        try? FileManager.default.removeItem(atPath: pidFile(role))
        throw FleetError(
            "\(name) (pid \(pid)) exited during start-up; its log \(logFile(role)) ends with:\n\(ProcessControl.tail(logFile(role)))"
        )
    }

    /// Waits until every started agent has registered with its pid and answers `/readyz`.
    private func waitForAgents(_ started: [Int: Int32]) async throws {
        var pending = started
        let deadline = ContinuousClock.now + startTimeout
        while !pending.isEmpty {
            guard ContinuousClock.now < deadline else {
                let names = pending.keys.sorted().map(String.init).joined(separator: ", ")
                throw FleetError("agents \(names) did not become ready within \(startTimeout); see \(layout.logsDirectory)")
            }
            let nodes = try await store.nodes(cluster.name)
            for node in nodes {
                guard let pid = pending[node.id] else { continue }
                try requireAlive(pid, .agent(node.id))
                guard node.pid == Int(pid), node.liveness == .alive, let admin = node.adminPort, await security.isReady(node.host, admin) else {
                    continue
                }
                pending.removeValue(forKey: node.id)
                Output.progress(
                    "  agent \(node.id) (zone \(node.zone)) ready: kafka \(node.host):\(Output.optional(node.kafkaPort)), admin \(node.host):\(admin) (pid \(pid))"
                )
            }
            if !pending.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
    }

    // MARK: Stop

    struct StopReport: Codable, Sendable {
        var stopped: [String] = []
        var killed: [String] = []
        var stale: [String] = []
    }

    /// SIGTERMs the agents (they leave the controller cleanly), then the controller; SIGKILLs what
    /// is still running after `timeout`. Removes pid files, stale ones included.
    func stop(timeout: Duration) async throws -> StopReport {
        var report = StopReport()
        let nodes = try await store.nodes(cluster.name)
        try await stopGroup(nodes.map { Role.agent($0.id) } + strayAgents(excluding: nodes), timeout: timeout, report: &report)
        try await stopGroup([.controller], timeout: timeout, report: &report)
        return report
    }

    /// Pid files of agents whose nodes were removed from the topology.
    private func strayAgents(excluding nodes: [NodeInfo]) -> [Role] {
        let known = Set(nodes.map { "agent-\($0.id).pid" })
        let files = (try? FileManager.default.contentsOfDirectory(atPath: layout.runDirectory)) ?? []
        return files.filter { $0.hasPrefix("agent-") && $0.hasSuffix(".pid") && !known.contains($0) }
            .compactMap { Int($0.dropFirst(6).dropLast(4)) }
            .map { Role.agent($0) }
    }

    func stopGroup(_ roles: [Role], timeout: Duration, report: inout StopReport) async throws {
        var running: [(Role, Int32)] = []
        for role in roles {
            switch process(role) {
            case (.running, let pid?):
                ProcessControl.signal(pid, SIGTERM)
                running.append((role, pid))
            case (.stale, _):
                report.stale.append(Self.name(role))
                try? FileManager.default.removeItem(atPath: pidFile(role))
            default:
                break
            }
        }
        let deadline = ContinuousClock.now + timeout
        while running.contains(where: { ProcessControl.isAlive($0.1) }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        for (role, pid) in running {
            if ProcessControl.isAlive(pid) {
                ProcessControl.signal(pid, SIGKILL)
                report.killed.append(Self.name(role))
            } else {
                report.stopped.append(Self.name(role))
            }
            try? FileManager.default.removeItem(atPath: pidFile(role))
        }
        // A SIGKILLed process is gone once the kernel says so; wait briefly for that.
        let killDeadline = ContinuousClock.now + .seconds(5)
        while running.contains(where: { ProcessControl.isAlive($0.1) }) && ContinuousClock.now < killDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func name(_ role: Role) -> String {
        switch role {
        case .controller: "controller"
        case .agent(let id): "agent \(id)"
        }
    }
}

/// A local fleet failed to start or stop.
struct FleetError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
