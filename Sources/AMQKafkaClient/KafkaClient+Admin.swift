import AMQKafkaProtocol

extension KafkaClient {
    // MARK: Admin

    /// Creates a topic through the Kafka API (CreateTopics, as an admin client does); returns the
    /// broker's code for it (`.none` once created). amq's agents all forward it to the controller.
    package func createTopic(name: String, partitions: Int32, configs: [String: String] = [:]) async throws -> KafkaErrorCode {
        let (response, _) = try await callAnyBroker { _ in
            CreateTopicsRequest(
                topics: [.init(name: name, numPartitions: partitions, replicationFactor: -1, configs: configs.map { .init(name: $0.key, value: $0.value) })],
                timeoutMs: Int32(configuration.requestTimeout.inMilliseconds)
            )
        }
        guard let result = response.topics.first(where: { $0.name == name }) else {
            throw KafkaClientError(.protocolError, "CreateTopics answered without topic \(name)")
        }
        invalidate(name)
        return result.errorCode
    }
}
