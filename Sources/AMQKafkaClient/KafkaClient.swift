import AMQKafkaProtocol
import AMQSecurity
import NIOSSL
import Logging
import NIOCore

/// How a ``KafkaClient`` connects and how patient it is.
/// A SASL login: PLAIN or SCRAM-SHA-256/512.
package struct SASLCredentials: Sendable {
    package var mechanism: String
    package var user: String
    package var password: String

    package init(mechanism: String, user: String, password: String) {
        self.mechanism = mechanism
        self.user = user
        self.password = password
    }
}

package struct KafkaClientConfiguration: Sendable {
    package var bootstrap: [BrokerAddress]
    package var clientID = "amq-cli"
    /// Longest wait for any one response (JoinGroup adds its rebalance timeout).
    package var requestTimeout: Duration = .seconds(15)
    package var connectTimeout: Duration = .seconds(5)
    /// What ApiVersions v3+ tells the broker this client is (`ClientSoftwareName`/`Version`).
    package var softwareName = "amq"
    package var softwareVersion = "0.0.0"
    /// Attempts for calls that fail with a retriable error (stale leader, topic being created).
    package var attempts = 5
    /// First pause between attempts; doubled each time.
    package var retryBackoff: Duration = .milliseconds(200)
    /// TLS to the brokers (SSL and SASL_SSL listeners), or nil for plaintext.
    package var tls: TLSConfiguration?
    /// SASL credentials (SASL_PLAINTEXT and SASL_SSL listeners), or nil.
    package var sasl: SASLCredentials?

    package init(bootstrap: [BrokerAddress]) {
        precondition(!bootstrap.isEmpty, "a Kafka client needs at least one bootstrap address")
        self.bootstrap = bootstrap
    }
}

/// A partition as Metadata describes it.
package struct PartitionMetadata: Sendable, Equatable {
    package var index: Int32
    package var leader: Int32
    package var leaderEpoch: Int32
    package var errorCode: KafkaErrorCode
}

package struct TopicMetadata: Sendable, Equatable {
    package var name: String
    /// Sorted by index.
    package var partitions: [PartitionMetadata]
}

package struct BrokerMetadata: Sendable, Equatable {
    package var nodeID: Int32
    package var address: BrokerAddress
    package var rack: String?
}

/// A small Kafka client speaking the real protocol through the generated codec in
/// `AMQKafkaProtocol`, like `kcat` or `rpk`: one connection per broker, versions negotiated with
/// ApiVersions (highest common), pipelined requests, a timeout on every call.
///
/// Use it inside ``withClient(_:logger:_:)``, whose task group owns the connections' readers, so
/// nothing outlives the call.
package actor KafkaClient {
    package let configuration: KafkaClientConfiguration
    let logger: Logger
    private let readers: AsyncStream<BrokerConnection>.Continuation
    private var connections: [BrokerAddress: BrokerConnection] = [:]
    /// Node id → address, from the latest Metadata.
    private(set) var brokers: [Int32: BrokerMetadata] = [:]
    private var topicCache: [String: TopicMetadata] = [:]
    private var roundRobin = 0
    /// One TLS context for every connection (nil: plaintext).
    private let tlsContext: NIOSSLContext?

    private init(configuration: KafkaClientConfiguration, logger: Logger, readers: AsyncStream<BrokerConnection>.Continuation) throws {
        tlsContext = try configuration.tls.map { try NIOSSLContext(configuration: $0) }
        self.configuration = configuration
        self.logger = logger
        self.readers = readers
    }

    /// Runs `body` with a client; closes every connection when it returns or throws.
    package static func withClient<Result: Sendable>(
        _ configuration: KafkaClientConfiguration, logger: Logger, _ body: (KafkaClient) async throws -> Result
    ) async throws -> Result {
        let (stream, continuation) = AsyncStream.makeStream(of: BrokerConnection.self)
        let client = try KafkaClient(configuration: configuration, logger: logger, readers: continuation)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await withDiscardingTaskGroup { readers in
                    for await connection in stream {
                        readers.addTask { await connection.run() }
                    }
                }
            }
            let result: Swift.Result<Result, any Error>
            do {
                result = .success(try await body(client))
            } catch {
                result = .failure(error)
            }
            await client.closeAll()
            try await group.waitForAll()
            return try result.get()
        }
    }

    private func closeAll() {
        for connection in connections.values { connection.close() }
        connections = [:]
        readers.finish()
    }

    // MARK: Connections

    /// The connection to `address`, opened and version-negotiated on first use.
    func connection(to address: BrokerAddress) async throws -> BrokerConnection {
        if let existing = connections[address], !existing.isFailed { return existing }
        let connection = try await BrokerConnection.connect(to: address, timeout: configuration.connectTimeout, tls: tlsContext, logger: logger)
        readers.yield(connection)
        do {
            try await negotiate(connection)
            if let sasl = configuration.sasl { try await authenticate(connection, sasl) }
        } catch {
            connection.close()
            throw error
        }
        // Another caller may have connected meanwhile (actor reentrancy): keep one.
        if let existing = connections[address], !existing.isFailed {
            connection.close()
            return existing
        }
        connections[address] = connection
        return connection
    }

    /// ApiVersions, v3 first as librdkafka does. A broker that does not speak v3 answers
    /// UNSUPPORTED_VERSION with a v0 body listing its ApiVersions range, and we retry with that.
    private func negotiate(_ connection: BrokerConnection) async throws {
        var version: Int16 = 3
        for _ in 0..<3 {
            var body = ByteBuffer()
            ApiVersionsRequest(clientSoftwareName: configuration.softwareName, clientSoftwareVersion: configuration.softwareVersion)
                .encode(into: &body, version: version)
            let (clientID, asked, request) = (configuration.clientID, version, body)
            let raw = try await exchange(connection, apiKey: .apiVersions) {
                try await connection.roundTrip(apiKey: .apiVersions, version: asked, clientID: clientID, body: request)
            }
            guard var response = raw else { throw KafkaClientError(.protocolError, "ApiVersions expected a response") }
            if response.getInteger(at: response.readerIndex, as: Int16.self) == KafkaErrorCode.unsupportedVersion.rawValue {
                // Kafka sends a v0 body here; librdkafka's mock broker a body of the version asked
                // for. Read whichever parses; if neither does, fall back to v0 as librdkafka does.
                var asV0 = response
                var asAsked = response
                let fallback = (try? ApiVersionsResponse(from: &asV0, version: 0)) ?? (try? ApiVersionsResponse(from: &asAsked, version: version))
                let brokerMax = fallback?.apiKeys.first { $0.apiKey == ApiKey.apiVersions.rawValue }?.maxVersion ?? 0
                guard brokerMax < version else { break }
                version = brokerMax
                continue
            }
            let decoded: ApiVersionsResponse
            do {
                decoded = try ApiVersionsResponse(from: &response, version: version)
            } catch {
                throw KafkaClientError(
                    .protocolError, "cannot decode ApiVersions v\(version) response from broker \(connection.address): \(error)", underlying: error
                )
            }
            guard decoded.errorCode == .none else { throw KafkaClientError.broker(decoded.errorCode, "ApiVersions from \(connection.address)") }
            var ranges: [Int16: ClosedRange<Int16>] = [:]
            for key in decoded.apiKeys where key.minVersion <= key.maxVersion {
                ranges[key.apiKey] = key.minVersion...key.maxVersion
            }
            connection.setVersions(ranges)
            logger.debug("Kafka versions negotiated", metadata: ["kafka.broker": "\(connection.address)", "kafka.api_versions_version": "\(version)"])
            return
        }
        throw KafkaClientError(.protocolError, "broker \(connection.address) and amq share no ApiVersions version")
    }

    /// SaslHandshake v1 and SaslAuthenticate (KIP-152): PLAIN in one step, SCRAM in two with the
    /// server's signature checked.
    private func authenticate(_ connection: BrokerConnection, _ sasl: SASLCredentials) async throws {
        let clientID = configuration.clientID
        let address = connection.address
        let handshake = try await exchange(connection, apiKey: .saslHandshake) {
            try await connection.call(SaslHandshakeRequest(mechanism: sasl.mechanism), version: 1, clientID: clientID)
        }
        guard handshake.errorCode == .none else {
            throw KafkaClientError.broker(
                handshake.errorCode, "SASL handshake with \(address) for \(sasl.mechanism) (the broker offers \(handshake.mechanisms.joined(separator: ", ")))"
            )
        }
        guard let version = connection.version(for: .saslAuthenticate) else {
            throw KafkaClientError(.protocolError, "broker \(address) does not speak SaslAuthenticate")
        }
        func step(_ bytes: [UInt8]) async throws -> [UInt8] {
            let response = try await exchange(connection, apiKey: .saslAuthenticate) {
                try await connection.call(SaslAuthenticateRequest(authBytes: bytes), version: version, clientID: clientID)
            }
            guard response.errorCode == .none else {
                throw KafkaClientError(
                    .invalidArgument,
                    "SASL authentication as \(sasl.user) to \(address) failed: \(response.errorMessage ?? "\(response.errorCode)"); check the user and password",
                    kafkaError: response.errorCode
                )
            }
            return response.authBytes
        }
        switch sasl.mechanism {
        case "PLAIN":
            _ = try await step(SASLPlain.message(user: sasl.user, password: sasl.password))
        case SCRAMMechanism.sha256.rawValue, SCRAMMechanism.sha512.rawValue:
            var client = SCRAMClient(mechanism: SCRAMMechanism(rawValue: sasl.mechanism)!, user: sasl.user, password: sasl.password)
            let serverFirst = try await step(client.clientFirst())
            let serverFinal = try await step(try client.clientFinal(serverFirst: serverFirst))
            do {
                try client.verify(serverFinal: serverFinal)
            } catch {
                throw KafkaClientError(.protocolError, "broker \(address) did not prove it knows \(sasl.user)'s credentials: \(error)")
            }
        default:
            throw KafkaClientError(.invalidArgument, "SASL mechanism \(sasl.mechanism) is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
        }
    }

    /// Runs one exchange with `connection`, failing it after the request timeout (or `timeout`).
    private func exchange<T: Sendable>(
        _ connection: BrokerConnection, apiKey: ApiKey, timeout: Duration? = nil, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let address = connection.address
        let timeout = timeout ?? configuration.requestTimeout
        return try await withTimeout(
            timeout,
            { KafkaClientError(.timeout, "\(apiKey.name) to broker \(address) got no answer within \(timeout); is the cluster healthy? check 'amq cluster status'") },
            operation
        )
    }

    /// Sends the request `build` makes for the negotiated version (capped at `maxVersion`) and
    /// decodes the response.
    func call<Request: KafkaRequest>(
        _ address: BrokerAddress, maxVersion: Int16? = nil, timeout: Duration? = nil, _ build: (Int16) -> Request
    ) async throws -> (response: Request.Response, version: Int16) {
        let connection = try await connection(to: address)
        guard let version = connection.version(for: Request.apiKey, upTo: maxVersion) else {
            throw KafkaClientError(
                .protocolError, "broker \(address) supports no version of \(Request.apiKey.name) that amq speaks (\(Request.apiKey.acceptedVersions))"
            )
        }
        let request = build(version)
        let clientID = configuration.clientID
        let response = try await exchange(connection, apiKey: Request.apiKey, timeout: timeout) {
            try await connection.call(request, version: version, clientID: clientID)
        }
        return (response, version)
    }

    /// Sends a request that gets no response (Produce with acks=0).
    func send<Request: KafkaRequest>(_ address: BrokerAddress, _ build: (Int16) -> Request) async throws {
        let connection = try await connection(to: address)
        guard let version = connection.version(for: Request.apiKey) else {
            throw KafkaClientError(.protocolError, "broker \(address) supports no version of \(Request.apiKey.name) that amq speaks")
        }
        let request = build(version)
        let clientID = configuration.clientID
        let timeout = configuration.requestTimeout
        _ = try await withTimeout(
            timeout, { KafkaClientError(.timeout, "\(Request.apiKey.name) to broker \(address) could not be sent within \(timeout)") }
        ) {
            try await connection.send(request, version: version, clientID: clientID)
        }
    }

    /// Pauses before attempt `attempt` (1-based), doubling each time.
    package func backoff(_ attempt: Int) async throws {
        try await Task.sleep(for: configuration.retryBackoff * (1 << min(attempt - 1, 5)))
    }

    // MARK: Metadata

    /// Addresses to ask cluster-wide questions: known brokers first, then the bootstrap list.
    private var anyBrokers: [BrokerAddress] {
        var seen = Set<BrokerAddress>()
        return (brokers.values.sorted { $0.nodeID < $1.nodeID }.map(\.address) + configuration.bootstrap).filter { seen.insert($0).inserted }
    }

    /// Asks the first broker that answers; nil topics means all topics.
    package func metadata(topics: [String]?) async throws -> MetadataResponse {
        let (response, _) = try await callAnyBroker { version in
            MetadataRequest(
                topics: topics.map { $0.map { MetadataRequest.MetadataRequestTopic(name: $0) } } ?? (version == 0 ? [] : nil),
                allowAutoTopicCreation: false
            )
        }
        remember(response)
        return response
    }

    /// Sends a cluster-wide question to known brokers, then bootstrap addresses, until one answers.
    func callAnyBroker<Request: KafkaRequest>(_ build: (Int16) -> Request) async throws -> (response: Request.Response, version: Int16) {
        var lastError: KafkaClientError?
        let candidates = anyBrokers
        for address in candidates {
            do {
                return try await call(address, build)
            } catch let error as KafkaClientError where [.brokerUnreachable, .connectionClosed, .timeout].contains(error.code) {
                lastError = error
                logger.debug("Broker did not answer", metadata: ["kafka.broker": "\(address)", "kafka.api_key": "\(Request.apiKey.name)", "error": "\(error)"])
            }
        }
        let tried = candidates.map(\.description).joined(separator: ", ")
        throw KafkaClientError(
            .brokerUnreachable, "no broker answered \(Request.apiKey.name) (tried \(tried)\(lastError.map { "; last: \($0.message)" } ?? ""))",
            underlying: lastError
        )
    }

    private func remember(_ response: MetadataResponse) {
        for broker in response.brokers {
            brokers[broker.nodeId] = BrokerMetadata(
                nodeID: broker.nodeId, address: BrokerAddress(host: broker.host, port: Int(broker.port)), rack: broker.rack
            )
        }
        for topic in response.topics where topic.errorCode == .none {
            guard let name = topic.name else { continue }
            topicCache[name] = TopicMetadata(
                name: name,
                partitions: topic.partitions.map {
                    PartitionMetadata(index: $0.partitionIndex, leader: $0.leaderId, leaderEpoch: $0.leaderEpoch, errorCode: $0.errorCode)
                }.sorted { $0.index < $1.index }
            )
        }
    }

    /// Forgets a topic's leaders, so the next call asks Metadata again.
    package func invalidate(_ topic: String) {
        topicCache[topic] = nil
    }

    /// A topic with a leader for every partition, retrying while it is being created or its
    /// leaders move (UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER).
    package func topic(_ name: String) async throws -> TopicMetadata {
        if let cached = topicCache[name] { return cached }
        var lastCode = KafkaErrorCode.none
        for attempt in 1...configuration.attempts {
            if attempt > 1 { try await backoff(attempt - 1) }
            let response = try await metadata(topics: [name])
            guard let topic = response.topics.first(where: { $0.name == name }) else {
                lastCode = .unknownTopicOrPartition
                continue
            }
            lastCode = topic.errorCode
            if topic.errorCode != .none {
                guard topic.errorCode.isRetriableWithRefresh else {
                    throw KafkaClientError.broker(topic.errorCode, "Metadata for topic \"\(name)\"")
                }
                continue
            }
            if let bad = topic.partitions.first(where: { $0.errorCode != .none || $0.leaderId < 0 }) {
                lastCode = bad.errorCode == .none ? .leaderNotAvailable : bad.errorCode
                topicCache[name] = nil
                continue
            }
            if let cached = topicCache[name], !cached.partitions.isEmpty { return cached }
        }
        if lastCode == .unknownTopicOrPartition {
            throw KafkaClientError(
                .unknownTopic, "topic \"\(name)\" does not exist; create it with 'amq topic create \(name) --partitions N'",
                kafkaError: lastCode
            )
        }
        throw KafkaClientError.broker(lastCode, "topic \"\(name)\" has no leader for every partition after \(configuration.attempts) attempts")
    }

    /// Where partition `index` of `topic` is led.
    func leader(_ topic: TopicMetadata, _ index: Int32) throws -> BrokerAddress {
        guard let partition = topic.partitions.first(where: { $0.index == index }) else {
            throw KafkaClientError(
                .unknownTopic, "topic \"\(topic.name)\" has no partition \(index) (it has \(topic.partitions.count)); see 'amq topic describe \(topic.name)'"
            )
        }
        guard let broker = brokers[partition.leader] else {
            throw KafkaClientError(.brokerError, "partition \(index) of \"\(topic.name)\" is led by node \(partition.leader), which Metadata did not list")
        }
        return broker.address
    }

    /// Every broker Metadata lists (asking once if none are known yet).
    package func allBrokers() async throws -> [BrokerMetadata] {
        if brokers.isEmpty { _ = try await metadata(topics: []) }
        return brokers.values.sorted { $0.nodeID < $1.nodeID }
    }

    /// The next partition for a record without key or explicit partition.
    package func nextRoundRobin(_ partitions: Int) -> Int32 {
        defer { roundRobin &+= 1 }
        return Int32(roundRobin % partitions)
    }
}
