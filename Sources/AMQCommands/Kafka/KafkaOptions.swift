import AMQControlPlane
import AMQKafkaClient
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

    func validate() throws {
        if let bootstrap {
            do {
                _ = try BrokerAddress.parseList(bootstrap)
            } catch {
                throw ValidationError("--bootstrap: \(error)")
            }
        }
        guard requestTimeout > 0 else { throw ValidationError("--request-timeout must be more than 0 seconds") }
    }

    func addresses(_ global: GlobalOptions) async throws -> [BrokerAddress] {
        if let bootstrap { return try BrokerAddress.parseList(bootstrap) }
        if let text = global.environment["AMQ_BOOTSTRAP"], !text.isEmpty {
            do {
                return try BrokerAddress.parseList(text)
            } catch {
                throw KafkaClientError(.invalidArgument, "$AMQ_BOOTSTRAP: \(error)")
            }
        }
        let (store, cluster) = try await global.openCluster()
        return try await Self.agentAddresses(store: store, cluster: cluster)
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
        var configuration = KafkaClientConfiguration(bootstrap: try await addresses(global))
        configuration.requestTimeout = .milliseconds(Int64(requestTimeout * 1000))
        configuration.softwareVersion = AMQVersion.current
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
