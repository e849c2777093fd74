import AMQAgent
import AMQControlPlane
import AMQSecurity
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
extension TLSClientAuth: ExpressibleByArgument {}

/// TLS options shared by the daemons (docs/security.md).
struct TLSOptions: ParsableArguments {
    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("PEM certificate (chain) to serve TLS with; reloaded on SIGHUP.", valueName: "path"))
    var certificate: String?
    @Option(name: .customLong("tls-key"), help: ArgumentHelp("PEM private key of --tls-cert; reloaded on SIGHUP. Keep it mode 0600.", valueName: "path"))
    var key: String?
    @Option(name: .customLong("tls-ca"), help: ArgumentHelp("PEM CA certificate(s) trusted for peers and client certificates.", valueName: "path"))
    var ca: String?
    @Option(name: .customLong("tls-client-auth"), help: "Client certificates on the control API and inter-agent RPC: none, optional (checked when offered) or required (mutual TLS).")
    var clientAuth: TLSClientAuth = .none

    func validate() throws {
        // Files are read by run(), so a manifest's paths parse on any machine.
        if (certificate == nil) != (key == nil) { throw ValidationError("--tls-cert and --tls-key go together: pass both, or neither for plaintext") }
        if certificate == nil, clientAuth != .none { throw ValidationError("--tls-client-auth \(clientAuth.rawValue) needs --tls-cert and --tls-key") }
        if clientAuth != .none, ca == nil { throw ValidationError("--tls-client-auth \(clientAuth.rawValue) needs --tls-ca, the CA client certificates must chain to") }
    }

    /// The loaded identity, or nil without --tls-cert.
    func material() throws -> TLSMaterial? {
        guard let certificate, let key else { return nil }
        return try TLSMaterial(TLSFiles(certificateFile: certificate, keyFile: key, caFile: ca, clientAuth: clientAuth))
    }
}

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

            With --tls-cert and --tls-key it serves https (the URL it records says so); with \
            --tls-client-auth required, only callers with a certificate from --tls-ca get in.
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
    @OptionGroup var tls: TLSOptions

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
        configuration.tls = try tls.material()
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

            Secure (docs/security.md): --listener SASL_SSL://0.0.0.0:9092 --tls-cert node.pem \
            --tls-key node-key.pem --tls-ca ca.pem --tls-client-auth required, and an https \
            --controller. With TLS the admin listener serves https too; its /v1 API needs the cluster secret.
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
    @Option(name: .long, help: "Kafka listener port (a PLAINTEXT listener) when no --listener is given; 0 picks a free one.")
    var kafkaPort: Int = 9092
    @Option(
        name: .customLong("listener"),
        help: ArgumentHelp(
            "A Kafka listener, like Kafka's listeners: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL://host:port (host: --host when empty); repeat for several, one per protocol. The first is the primary one.",
            valueName: "protocol://host:port"
        )
    )
    var listeners: [String] = []
    @OptionGroup var tls: TLSOptions
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
        let parsed = try parsedListeners()
        if Set(parsed.map(\.name)).count != parsed.count { throw ValidationError("--listener: one listener per protocol (Kafka names a listener by its protocol here)") }
        if parsed.contains(where: \.securityProtocol.usesTLS), tls.certificate == nil {
            throw ValidationError("an SSL or SASL_SSL --listener needs --tls-cert and --tls-key")
        }
    }

    func parsedListeners() throws -> [KafkaListenerSpec] {
        do {
            return try listeners.map { try KafkaListenerSpec.parse($0) }
        } catch {
            throw ValidationError("--listener: \(error)")
        }
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
        configuration.listeners = try parsedListeners()
        configuration.tls = try tls.material()
        let agent = AgentService(configuration: configuration, logger: log.logger("amq.agent"))
        try await agent.run()
    }
}
