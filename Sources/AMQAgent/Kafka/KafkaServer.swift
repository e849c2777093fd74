import AMQKafkaProtocol
import AMQSecurity
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The agent's Kafka listener: accepts client connections and serves each with a
/// ``KafkaConnection`` until the agent shuts down. It is bound before the agent registers, so its
/// address can be reported to the controller (clients are told to connect to exactly this host and
/// port); requests that arrive before the agent holds a topology get retriable errors.
struct KafkaServer: Service {
    let channel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    let broker: KafkaBroker
    let listener: SecurityProtocol
    let logger: Logger

    /// Binds one listener; `tls` is required for SSL and SASL_SSL (the caller checks).
    static func bind(
        host: String, port: Int, listener: SecurityProtocol = .plaintext, tls: NIOSSLContext? = nil, broker: KafkaBroker, logger: Logger
    ) async throws -> KafkaServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // The connection's last packet counts are read after the client closes (its meter's
            // close), so the socket stays open until we close it.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    if let tls { try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    // Frames up to Kafka's default `socket.request.max.bytes`, the decoder's default.
                    try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child)
                }
            }
        return KafkaServer(channel: channel, broker: broker, listener: listener, logger: logger)
    }

    var port: Int { channel.channel.localAddress?.port ?? 0 }

    func run() async throws {
        logger.info("Kafka listener bound", metadata: ["amq.port": "\(port)", "amq.listener": "\(listener.rawValue)"])
        // Cancellation too: when a sibling service fails, the group cancels rather than asking
        // for a graceful shutdown, and a bare wait on the server channel would never return.
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { inbound in
                    // Ending the accept loop (shutdown closes the channel, or we are cancelled) is
                    // how this service stops, not a failure.
                    do {
                        for try await connection in inbound {
                            // Beyond max.connections a connection is closed as it comes, as Kafka does.
                            guard broker.connections.admit(limit: await broker.connectionSettings.maxConnections) else {
                                broker.metrics.kafkaConnectionRejected()
                                logger.warning("Refused a connection: max.connections reached", metadata: ["amq.client": "\(connection.channel.remoteAddress.map { "\($0)" } ?? "?")"])
                                // Through the async channel, which must be finished before it goes.
                                group.addTask { try? await connection.executeThenClose { _, _ in } }
                                continue
                            }
                            group.addTask {
                                defer {
                                    broker.connections.closed()
                                    broker.metrics.kafkaConnectionClosed(open: broker.connections.open)
                                }
                                // A connection handles its own errors: one bad client must not take
                                // the listener down (as in swift-nio's TCP echo server).
                                await KafkaConnection(broker: broker, listener: listener, logger: logger).run(connection)
                            }
                        }
                    } catch is CancellationError {
                    } catch let error as ChannelError where error == .ioOnClosedChannel || error == .alreadyClosed {
                    }
                }
                // Closed: the open connections end too.
                group.cancelAll()
            }
        } onCancelOrGracefulShutdown: {
            channel.channel.close(promise: nil)
        }
    }
}
