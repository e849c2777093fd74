import AMQAgent
import AMQControlPlane
import AMQStorage
import Foundation
import Logging

/// A real agent in this process (node 1, zone a) beside a ``TestController``, with a topic
/// `orders` of 4 partitions (linger 5 ms). In the default two-zone cluster node 2 never starts, so
/// the agent leads only some partitions; with `zones: ["a"]` it leads them all.
package struct TestAgent: Sendable {
    package var controller: TestController
    package var service: AgentService
    package var kafkaPort: Int
    package var adminPort: Int
    /// Partitions of `orders` this agent leads, and those it does not.
    package var ledPartitions: [Int]
    package var otherPartitions: [Int]

    package var bootstrap: String { "127.0.0.1:\(kafkaPort)" }

    package struct StartError: Error, CustomStringConvertible {
        package var description: String
    }

    package static func with(
        zones: [String] = ["a", "b"], controllerLogger: Logger = TestController.quietLogger,
        configure: @Sendable (inout AgentConfiguration) -> Void = { _ in }, _ body: @Sendable (TestAgent) async throws -> Void
    ) async throws {
        try await TestController.with(zones: zones, logger: controllerLogger) { controller in
            var config = TopicConfig()
            config.lingerMs = 5
            _ = try await controller.store.createTopic("demo", name: "orders", partitions: 4, config: config)
            var configuration = AgentConfiguration(controllerURL: controller.url, secret: controller.secret, zone: "a", nodeID: 1, nodeName: nil)
            configuration.topologyWait = .seconds(2)
            configure(&configuration)
            var logger = Logger(label: "test.agent")
            logger.logLevel = .warning
            let agent = AgentService(configuration: configuration, logger: logger)
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await agent.run() }
                defer { group.cancelAll() }
                guard
                    let node = await eventually(timeout: .seconds(30), { try? await controller.node(1).flatMap { $0.kafkaPort == nil || $0.liveness != .alive ? nil : $0 } }),
                    let kafkaPort = node.kafkaPort, let adminPort = node.adminPort
                else { throw StartError(description: "the test agent did not register") }
                let partitions = try await controller.store.partitions("demo", topic: "orders")
                let led = partitions.filter { $0.leader == 1 }.map(\.index)
                // Leading means the storage engine took the partitions on.
                guard await eventually(timeout: .seconds(30), { await agent.state.storage?.ledPartitions.count == led.count }) else {
                    throw StartError(description: "the test agent did not take its partitions")
                }
                try await body(
                    TestAgent(
                        controller: controller, service: agent, kafkaPort: kafkaPort, adminPort: adminPort, ledPartitions: led,
                        otherPartitions: partitions.filter { $0.leader != 1 }.map(\.index)
                    )
                )
            }
        }
    }
}
