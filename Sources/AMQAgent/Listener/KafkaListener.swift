import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The agent's Kafka listener socket. It is bound at start-up so its address is reserved and
/// reported to the controller (clients are later told to reconnect to exactly this host and
/// port); until the wire protocol lands it closes each connection it accepts at once, so a client
/// fails fast instead of hanging.
struct KafkaListener: Service {
    let channel: any Channel
    let logger: Logger

    static func bind(host: String, port: Int, logger: Logger) async throws -> KafkaListener {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in channel.close() }
            .bind(host: host, port: port)
            .get()
        return KafkaListener(channel: channel, logger: logger)
    }

    var port: Int { channel.localAddress?.port ?? 0 }

    func run() async throws {
        logger.info("Kafka listener bound", metadata: ["amq.port": "\(port)"])
        // Cancellation too: when a sibling service fails, the group cancels rather than asking
        // for a graceful shutdown, and a bare closeFuture wait would never return.
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}
