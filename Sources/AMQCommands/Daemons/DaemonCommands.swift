import AMQAgent
import AMQControlPlane
import ArgumentParser
import Foundation
import Logging

/// Logging options shared by the daemons.
struct LogOptions: ParsableArguments {
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Parses `host:port` (port 0 picks a free one).
func parseListenAddress(_ text: String) throws -> (host: String, port: Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
        throw ValidationError("listen address \"\(text)\" is not host:port, like 127.0.0.1:7070 (port 0 picks a free one)")
    }
    var host = String(text[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host.isEmpty ? "0.0.0.0" : host, port)
}

struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "The control-plane daemon.",
        discussion: "Example:\n  amq controller run --cluster demo --listen 0.0.0.0:7070 --secret-file /etc/amq/secret",
        subcommands: [ControllerRun.self]
    )
}

struct ControllerRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the controller: control API, topology push, liveness.",
        discussion: """
            Serves the control API over HTTP for agent registration, heartbeats and topology \
            long-polls; notices every topology version committed to the database (by itself or by \
            any amq command) and pushes it to agents; marks nodes down after missed heartbeats. Stops \
            gracefully on SIGTERM or SIGINT.

            Example:
              amq controller run --db /var/lib/amq/amq.db --cluster prod --listen 0.0.0.0:7070 --secret-file /etc/amq/secret
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var log: LogOptions
    @Option(name: .long, help: ArgumentHelp("Address to listen on; port 0 picks a free one.", valueName: "host:port"))
    var listen: String = "127.0.0.1:7070"
    @Option(name: .long, help: ArgumentHelp("File holding the cluster secret (else $AMQ_CLUSTER_SECRET).", valueName: "path"))
    var secretFile: String?
    @Option(name: .long, help: "Zone the controller runs in, so its traffic with agents is counted by zone (default: unknown, never inter-zone).")
    var zone: String?

    func validate() throws {
        _ = try parseListenAddress(listen)
    }

    func run() async throws {
        let (host, port) = try parseListenAddress(listen)
        let secret = try ClusterSecret.load(file: secretFile)
        let (store, cluster) = try await global.openCluster()
        if let zone {
            let zones = try await store.cluster(cluster).zones.map(\.name)
            guard zones.contains(zone) else {
                throw ValidationError("zone \"\(zone)\" is not one of cluster \(cluster)'s zones (\(zones.joined(separator: ", "))); pass one of them to --zone")
            }
        }
        let logger = log.logger("amq.controller")
        var configuration = ControllerConfiguration(cluster: cluster, host: host, port: port, secret: secret)
        configuration.zone = zone
        let service = ControllerService(
            configuration: configuration,
            database: store.database,
            logger: logger
        )
        try await service.run { url in
            Output.line(#"{"event":"listening","url":"\#(url)"}"#)
        }
    }
}

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "The node agent daemon.",
        discussion: "Example:\n  amq agent run --controller http://10.0.0.5:7070 --zone az1 --node-id 1 --secret-file /etc/amq/secret",
        subcommands: [AgentRun.self]
    )
}

struct AgentRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a node agent: Kafka listener, admin listener, controller session.",
        discussion: """
            Registers with the controller (reporting the ports actually bound), heartbeats, and \
            follows the topology by long-poll. The admin listener serves /healthz, /readyz (ready once \
            the agent holds the current topology), /metrics (Prometheus) and /v1/state. Stops \
            gracefully on SIGTERM or SIGINT, telling the controller it left.

            Example:
              amq agent run --controller http://127.0.0.1:7070 --zone a --node-id 1 --secret-file ~/.amq/clusters/demo/secret
            """
    )

    @OptionGroup var log: LogOptions
    @Option(name: .long, help: ArgumentHelp("Controller URL.", valueName: "url"))
    var controller: String
    @Option(name: .long, help: "Availability zone of this agent.")
    var zone: String
    @Option(name: .long, help: "Node id (else $AMQ_NODE_ID; else one is given by --node-name).")
    var nodeId: Int?
    @Option(name: .long, help: "Stable node name that maps to a node id (default: $HOSTNAME when no --node-id).")
    var nodeName: String?
    @Option(name: .long, help: ArgumentHelp("File holding the cluster secret (else $AMQ_CLUSTER_SECRET).", valueName: "path"))
    var secretFile: String?
    @Option(name: .long, help: "Address the listeners bind to.")
    var host: String = "127.0.0.1"
    @Option(name: .long, help: "Address clients are told to connect to (default: --host).")
    var advertisedHost: String?
    @Option(name: .long, help: "Kafka listener port; 0 picks a free one.")
    var kafkaPort: Int = 9092
    @Option(name: .long, help: "Admin listener port; 0 picks a free one.")
    var adminPort: Int = 9644
    @Option(name: .long, help: "Inter-agent RPC port (zone routing: proxied produce, read-only replicas); 0 picks a free one.")
    var rpcPort: Int = 9093
    @Option(name: .long, help: "Seconds to keep trying to reach the controller at start-up.")
    var registerTimeout: Int = 60

    func validate() throws {
        for (flag, port) in [("--kafka-port", kafkaPort), ("--admin-port", adminPort), ("--rpc-port", rpcPort)] where !(0...65535).contains(port) {
            throw ValidationError("\(flag) must be between 0 and 65535 (0 picks a free port), not \(port)")
        }
        if let nodeId, nodeId < 0 { throw ValidationError("--node-id must be 0 or more") }
        if registerTimeout < 1 { throw ValidationError("--register-timeout must be at least 1 second") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let secret = try ClusterSecret.load(file: secretFile)
        let nodeID = try nodeId ?? environment["AMQ_NODE_ID"].map { text in
            guard let id = Int(text), id >= 0 else { throw ValidationError("AMQ_NODE_ID must be a node id, not \"\(text)\"") }
            return id
        }
        let name = nodeName ?? (nodeID == nil ? environment["HOSTNAME"] ?? ProcessInfo.processInfo.hostName : nil)
        var configuration = AgentConfiguration(controllerURL: controller, secret: secret, zone: zone, nodeID: nodeID, nodeName: name)
        configuration.bindHost = host
        configuration.advertisedHost = advertisedHost
        configuration.kafkaPort = kafkaPort
        configuration.adminPort = adminPort
        configuration.rpcPort = rpcPort
        configuration.registerTimeout = .seconds(registerTimeout)
        let agent = AgentService(configuration: configuration, logger: log.logger("amq.agent"))
        try await agent.run()
    }
}
