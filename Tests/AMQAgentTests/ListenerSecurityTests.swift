import AMQAgent
import AMQControlPlane
import AMQKafkaClient
import AMQKafkaProtocol
import AMQSecurity
import AMQTestSupport
import Foundation
import Logging
import Testing

/// One agent with a PLAINTEXT and a SASL_PLAINTEXT listener, in this process: each listener names
/// the brokers by its own port, SASL comes before anything else on the SASL one, ACLs decide for
/// the authenticated principal and for ANONYMOUS alike, and admin changes are audited under the
/// client's principal.
@Suite(.timeLimit(.minutes(3))) struct ListenerSecurityTests {
    static func client(_ port: Int, sasl: SASLCredentials? = nil) -> KafkaClientConfiguration {
        var configuration = KafkaClientConfiguration(bootstrap: [BrokerAddress(host: "127.0.0.1", port: port)])
        configuration.sasl = sasl
        configuration.attempts = 2
        configuration.requestTimeout = .seconds(5)
        return configuration
    }

    static let quiet: Logger = {
        var logger = Logger(label: "amq.test.client")
        logger.logLevel = .critical
        return logger
    }()

    @Test func eachListenerSpeaksItsProtocolAndACLsDecide() async throws {
        try await TestAgent.with(zones: ["a"], configure: { configuration in
            configuration.listeners = [
                KafkaListenerSpec(securityProtocol: .plaintext, host: nil, port: 0), KafkaListenerSpec(securityProtocol: .saslPlaintext, host: nil, port: 0),
            ]
        }) { agent in
            let store = agent.controller.store
            try await store.putUser("demo", UserCredentials.derive(name: "alice", password: "alice-password"))
            try await store.addACLs(
                "demo",
                [
                    ACLBinding(resourceType: .topic, resourceName: "orders", principal: "User:alice", operation: .write),
                    ACLBinding(resourceType: .topic, resourceName: "alice-", patternType: .prefixed, principal: "User:alice", operation: .create),
                ]
            )
            let node = try #require(try await agent.controller.node(1))
            let listeners = try #require(node.listeners)
            let plain = try #require(listeners["PLAINTEXT"])
            let sasl = try #require(listeners["SASL_PLAINTEXT"])
            #expect(node.kafkaPort == plain && plain != sasl)
            // Agents get users and ACLs with the topology.
            #expect(await eventually(timeout: .seconds(10)) { await agent.service.state.topology?.security.acls.count == 2 })

            let alice = SASLCredentials(mechanism: "SCRAM-SHA-256", user: "alice", password: "alice-password")
            try await KafkaClient.withClient(Self.client(sasl, sasl: alice), logger: Self.quiet) { client in
                let metadata = try await client.metadata(topics: ["orders"])
                #expect(metadata.brokers.map(\.port) == [Int32(sasl)], "the SASL listener names brokers by its own port")
                let produced = try await client.produce(topic: "orders", records: [0: [Record(value: Array("hi".utf8), timestamp: 0)]], acks: .all)
                #expect(produced.count == 1)
                // Write implies Describe, not Read.
                let fetch = await #expect(throws: KafkaClientError.self) {
                    _ = try await client.fetch(topic: "orders", offsets: [0: 0], maxWait: .milliseconds(10))
                }
                #expect(fetch?.kafkaError == .topicAuthorizationFailed, "\(String(describing: fetch))")
            }
            // PLAIN is checked against the same credential; a wrong password is refused.
            try await KafkaClient.withClient(Self.client(sasl, sasl: SASLCredentials(mechanism: "PLAIN", user: "alice", password: "alice-password")), logger: Self.quiet) {
                _ = try await $0.metadata(topics: ["orders"])
            }
            let refused = await #expect(throws: KafkaClientError.self) {
                try await KafkaClient.withClient(Self.client(sasl, sasl: SASLCredentials(mechanism: "PLAIN", user: "alice", password: "wrong")), logger: Self.quiet) {
                    _ = try await $0.metadata(topics: ["orders"])
                }
            }
            #expect(refused?.kafkaError == .saslAuthenticationFailed, "\(String(describing: refused))")

            // Without authenticating, a SASL listener closes the connection at the first real request.
            try await withConnection(sasl) { connection in
                await expectClosedBy(connection, MetadataRequest(topics: [.init(name: "orders")]), version: 12)
            }
            // The PLAINTEXT listener names brokers by its port; its clients are ANONYMOUS, and with a
            // SASL listener on the agent a resource without an ACL for them is closed.
            try await KafkaClient.withClient(Self.client(plain), logger: Self.quiet) { client in
                let metadata = try await client.metadata(topics: nil)
                #expect(metadata.brokers.map(\.port) == [Int32(plain)])
                #expect(metadata.topics.isEmpty, "ANONYMOUS may describe no topic: \(metadata.topics.map(\.name))")
                let denied = await #expect(throws: KafkaClientError.self) {
                    _ = try await client.produce(topic: "orders", records: [0: [Record(value: Array("x".utf8), timestamp: 0)]], acks: .all)
                }
                #expect(denied != nil)
            }

            // Admin through Kafka carries the principal: the audit log names alice.
            try await KafkaClient.withClient(Self.client(sasl, sasl: alice), logger: Self.quiet) { client in
                let created = try await client.createTopic(name: "alice-topic", partitions: 1)
                #expect(created == .none, "\(created)")
                let other = try await client.createTopic(name: "bob-topic", partitions: 1)
                #expect(other == .topicAuthorizationFailed)
            }
            // OffsetFetch: with Describe on the group, offsets of topics alice may not describe are
            // left out of "all", and refused when asked for.
            _ = try await store.commitOffsets("demo", group: "g", [GroupOffset(topic: "orders", partition: 0, offset: 5), GroupOffset(topic: "secret", partition: 0, offset: 7)])
            try await store.addACLs("demo", [ACLBinding(resourceType: .group, resourceName: "g", principal: "User:alice", operation: .describe)])
            #expect(await eventually(timeout: .seconds(10)) { await agent.service.state.topology?.security.acls.count == 3 })
            try await KafkaClient.withClient(Self.client(sasl, sasl: alice), logger: Self.quiet) { client in
                let coordinator = try await client.findCoordinator(group: "g")
                let all = try await client.committedOffsets(group: "g", coordinator: coordinator, topics: nil)
                #expect(all.map(\.topic) == ["orders"], "\(all)")
                let asked = await #expect(throws: KafkaClientError.self) {
                    _ = try await client.committedOffsets(group: "g", coordinator: coordinator, topics: ["secret": [0]])
                }
                #expect(asked?.kafkaError == .topicAuthorizationFailed)
            }

            let audit = try await store.auditLog("demo", limit: 20)
            #expect(audit.contains { $0.action == "topic.create" && $0.actor == "kafka User:alice" && $0.subject.contains("alice-topic") }, "\(audit.map { "\($0.actor) \($0.action) \($0.subject)" })")
            #expect(try await store.topics("demo").contains { $0.name == "bob-topic" } == false)
        }
    }
}

/// Sends `request` and expects the connection closed instead of an answer.
func expectClosedBy<Request: KafkaRequest>(_ connection: BrokerConnection, _ request: Request, version: Int16, sourceLocation: SourceLocation = #_sourceLocation) async {
    let error = await #expect(throws: KafkaClientError.self, sourceLocation: sourceLocation) {
        _ = try await connection.call(request, version: version)
    }
    #expect(error?.code == .connectionClosed || error?.code == .timeout, "\(String(describing: error))", sourceLocation: sourceLocation)
}
