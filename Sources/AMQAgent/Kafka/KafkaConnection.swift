import AMQKafkaProtocol
import AMQSecurity
import AMQTraffic
import DequeModule
import Logging
import NIOCore

/// One client connection. Requests are read in order and *started* in order — a Produce takes
/// its offsets before the next request is looked at — then run concurrently, and their responses
/// are written strictly in request order (clients match responses to requests by position:
/// kafka-python fails on the first mismatch). A request that gets no response (acks=0) keeps its
/// place in the order without writing anything.
struct KafkaConnection {
    let broker: KafkaBroker
    /// The listener's protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL).
    let listener: SecurityProtocol
    let logger: Logger

    /// Requests started but not yet answered; reading pauses beyond it (backpressure onto the
    /// client, as Kafka's broker mutes a busy connection).
    static let maxInFlight = 64
    /// How long a connection whose authentication failed stays open after the answer.
    static let failedAuthenticationDelay: Duration = .milliseconds(100)

    func run(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let eventLoop = connection.channel.eventLoop
        let peer = connection.channel.remoteAddress
        var logger = self.logger
        logger[metadataKey: "amq.client"] = "\(peer.map { "\($0)" } ?? "?")"
        // Bytes are counted by the client's zone once a request names it; until then, unknown.
        let meter = broker.traffic.meter(
            peerZone: TrafficZone.unknown, category: .metadata, headerSource: TCPInfoSource(channel: connection.channel)
        )
        let session = KafkaSession(peer: peer, meter: meter, security: ConnectionSecurity(listener: listener))
        broker.metrics.kafkaConnectionOpened(open: broker.connections.open)
        do {
            try await connection.executeThenClose { inbound, outbound in
                // The last headers are sampled while the socket is still open, however the connection ends.
                do {
                    try await serve(inbound, outbound, session: session, channel: connection.channel, eventLoop: eventLoop, logger: logger)
                } catch {
                    await meter.close()
                    throw error
                }
                await meter.close()
            }
        } catch {
            logger.debug("Connection ended", metadata: ["amq.error": "\(error)"])
        }
    }

    /// Closes `channel` once it has been idle for `connections.max.idle.ms`; runs until then or
    /// until cancelled (the connection ended).
    private func closeWhenIdle(_ channel: any Channel, activity: ConnectionActivity, logger: Logger) async {
        let maxIdle = await broker.connectionSettings.maxIdle
        while !Task.isCancelled {
            // A quarter of the limit (at most 30 s): an idle connection goes within 1¼ limits,
            // and ten thousand connections wake this loop a few hundred times a second at most.
            try? await Task.sleep(for: min(maxIdle / 4, .seconds(30)))
            guard !Task.isCancelled, activity.isIdle(limit: maxIdle) else { continue }
            broker.metrics.kafkaConnectionIdleClosed()
            logger.info("Closing idle connection", metadata: ["amq.idle": "\(maxIdle)"])
            channel.close(promise: nil)
            return
        }
    }

    private func serve(
        _ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, session: KafkaSession,
        channel: any Channel, eventLoop: any EventLoop, logger: Logger
    ) async throws {
        let (responses, responseSink) = AsyncStream.makeStream(of: (EventLoopFuture<OutboundFrame?>, ResponseTraffic).self)
        let (reading, readingDone) = AsyncStream.makeStream(of: Never.self)
        let activity = ConnectionActivity()
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                // The idle watch, until it closes the connection or reading ends.
                await withTaskGroup(of: Void.self) { watch in
                    watch.addTask { for await _ in reading {} }
                    watch.addTask { await closeWhenIdle(channel, activity: activity, logger: logger) }
                    await watch.next()
                    watch.cancelAll()
                }
            }
            group.addTask {
                for await (response, traffic) in responses {
                    if let frame = try await response.get() {
                        session.meter.sent(frame.readableBytes, traffic.category, topics: traffic.topics)
                        // One vectored write: the record sets go out from where they are cached.
                        try await outbound.write(contentsOf: frame.parts)
                    }
                    activity.finished()
                }
            }

            defer {
                responseSink.finish()
                readingDone.finish()
            }
            // What is in flight is tracked by futures that carry no response: a finished
            // response must go once it is written, not stay here until 64 newer requests push it
            // out (a consumer's last 64 fetch responses, megabytes each, were kept alive so).
            var inFlight: Deque<EventLoopFuture<Void>> = []
            for try await frame in inbound {
                while inFlight.count >= Self.maxInFlight, let oldest = inFlight.popFirst() { _ = try? await oldest.get() }
                activity.started()
                let promise = eventLoop.makePromise(of: OutboundFrame?.self)
                let traffic = ResponseTraffic()
                responseSink.yield((promise.futureResult, traffic))
                inFlight.append(promise.futureResult.map { _ in })
                switch await broker.start(frame, session: session, traffic: traffic, logger: logger) {
                case .respond(let response):
                    promise.succeed(response)
                case .run(let work):
                    group.addTask { promise.succeed(await work()) }
                case .close(let reason):
                    promise.succeed(nil)
                    logger.notice("Closing connection", metadata: ["amq.reason": "\(reason)"])
                    return
                case .respondThenClose(let response, let reason):
                    promise.succeed(response)
                    logger.notice("Closing connection", metadata: ["amq.reason": "\(reason)"])
                    // Kafka's connection.failed.authentication.delay.ms (100 ms): a client that
                    // sees the close at once often reports only "disconnected", not the error
                    // it was sent; it also slows password guessing.
                    try? await Task.sleep(for: Self.failedAuthenticationDelay)
                    return
                }
            }
            // The client has closed the connection (or it idled out): nobody reads the answers
            // still owed, so the requests that wait (a fetch parked on an empty partition) stop
            // waiting, and so does the idle watch.
            group.cancelAll()
        }
    }
}

/// What a connection knows about its client.
struct KafkaSession: Sendable {
    let peer: SocketAddress?
    /// Counts the connection's bytes (docs/traffic.md).
    let meter: ConnectionMeter
    /// The listener's protocol and the SASL session.
    let security: ConnectionSecurity
}
