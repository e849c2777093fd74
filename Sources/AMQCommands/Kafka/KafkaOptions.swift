import AMQControlPlane
import AMQKafkaClient
import AMQSecurity
import ArgumentParser
import Foundation
import Logging

/// Where the Kafka commands connect: `--bootstrap`, else `$AMQ_BOOTSTRAP`, else the alive agents
/// of the cluster the topology database names (the same `--db`/`--cluster` resolution as every
/// other command).
struct KafkaOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Kafka bootstrap addresses (default: $AMQ_BOOTSTRAP, else the cluster's alive agents).", valueName: "host:port,..."))
    var bootstrap: String?

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for any one broker response.", valueName: "seconds"))
    var requestTimeout: Double = 15

    @Option(name: .long, help: "Client log level on stderr: trace shows every request, debug connections and groups.")
    var logLevel: Logger.Level = .warning

    @Option(name: .long, help: ArgumentHelp("CA certificate to verify TLS listeners with (turns TLS on; default for a local --tls cluster: its CA).", valueName: "path"))
    var tlsCa: String?

    @Option(name: .long, help: ArgumentHelp("SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default with --sasl-user: SCRAM-SHA-512).", valueName: "mechanism"))
    var saslMechanism: String?

    @Option(name: .long, help: ArgumentHelp("SASL user (default for a local --sasl cluster: its super user).", valueName: "name"))
    var saslUser: String?

    @Option(name: .long, help: ArgumentHelp("File whose first line is the SASL password (never on the command line).", valueName: "path"))
    var saslPasswordFile: String?

    func validate() throws {
        if let bootstrap {
            do {
                _ = try BrokerAddress.parseList(bootstrap)
            } catch {
                throw ValidationError("--bootstrap: \(error)")
            }
        }
        guard requestTimeout > 0 else { throw ValidationError("--request-timeout must be more than 0 seconds") }
        if let saslMechanism, !["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"].contains(saslMechanism) {
            throw ValidationError("--sasl-mechanism must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, not \(saslMechanism)")
        }
        if (saslUser == nil) != (saslPasswordFile == nil) { throw ValidationError("--sasl-user and --sasl-password-file go together") }
    }

    /// The addresses given (`--bootstrap`, `$AMQ_BOOTSTRAP`), or nil to use the cluster's agents.
    func givenAddresses(_ global: GlobalOptions) throws -> [BrokerAddress]? {
        if let bootstrap { return try BrokerAddress.parseList(bootstrap) }
        if let text = global.environment["AMQ_BOOTSTRAP"], !text.isEmpty {
            do {
                return try BrokerAddress.parseList(text)
            } catch {
                throw KafkaClientError(.invalidArgument, "$AMQ_BOOTSTRAP: \(error)")
            }
        }
        return nil
    }

    /// The Kafka listeners of a cluster's alive agents.
    static func agentAddresses(store: TopologyStore, cluster: String) async throws -> [BrokerAddress] {
        let nodes = try await store.nodes(cluster)
        let alive = nodes.filter { $0.liveness == .alive }.compactMap { node in node.kafkaPort.map { BrokerAddress(host: node.host, port: $0) } }
        guard !alive.isEmpty else {
            throw KafkaClientError(
                .brokerUnreachable,
                "cluster \"\(cluster)\" has no alive agent with a Kafka port (\(nodes.count) node(s) known); is the cluster running? check 'amq cluster status', or pass --bootstrap host:port"
            )
        }
        return alive
    }

    func configuration(_ global: GlobalOptions) async throws -> KafkaClientConfiguration {
        // Given addresses are taken as they are; else the cluster's agents, and for a local
        // cluster made with --tls/--sasl its CA and super user, unless told otherwise.
        var local: LocalSecurity?
        let addresses: [BrokerAddress]
        if let given = try givenAddresses(global) {
            addresses = given
        } else {
            let (store, cluster) = try await global.openCluster()
            addresses = try await Self.agentAddresses(store: store, cluster: cluster)
            let info = try await store.cluster(cluster)
            if info.local { local = LocalSecurity.load(FleetLayout(directory: info.dataDir)) }
        }
        var configuration = KafkaClientConfiguration(bootstrap: addresses)
        configuration.requestTimeout = .milliseconds(Int64(requestTimeout * 1000))
        configuration.softwareVersion = AMQVersion.current
        if let ca = tlsCa ?? local?.tls?.caFile {
            configuration.tls = try TLSClientFiles(caFile: ca).configuration()
        }
        let login: (user: String, passwordFile: String)? =
            if let saslUser, let saslPasswordFile { (saslUser, saslPasswordFile) }
            else if let local, local.kafkaProtocol.usesSASL, let user = local.adminUser, let file = local.adminPasswordFile { (user, file) }
            else { nil }
        if let login {
            configuration.sasl = SASLCredentials(
                mechanism: saslMechanism ?? SCRAMMechanism.sha512.rawValue, user: login.user, password: try PasswordInput.read(file: login.passwordFile)
            )
        }
        return configuration
    }
}

extension KafkaClient {
    /// Runs `body` with a client configured from the command line.
    static func withClient<Result: Sendable>(
        _ options: KafkaOptions, _ global: GlobalOptions, _ body: (KafkaClient) async throws -> Result
    ) async throws -> Result {
        var logger = Logger(label: "amq.kafka")
        logger.logLevel = options.logLevel
        return try await withClient(try await options.configuration(global), logger: logger, body)
    }
}
