import AMQKafkaProtocol
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// What serves inter-agent requests: started in the order they arrive on a connection (a
/// proxy's pointers are staged in that order), then run concurrently and answered as they finish.
protocol RPCHandler: Sendable {
    func start(_ method: RPCMethod, _ body: ByteBuffer, from peer: RPCPeer) async -> RPCStart
}

enum RPCStart: Sendable {
    case respond(ByteBuffer)
    case run(@Sendable () async -> ByteBuffer)
}

/// The agent on the other end of a connection, as its hello said.
struct RPCPeer: Sendable {
    var nodeID: Int
    var zone: String
}

/// The agent's inter-agent RPC listener. Bound before the agent registers, so its port can be
/// reported; each connection must open with a hello proving the cluster secret.
struct RPCServer: Service {
    let channel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    let handler: any RPCHandler
    let authenticator: RPCAuthenticator
    /// Who this agent is, for the hello's answer (known once it has registered).
    let identity: @Sendable () async -> RPCPeer
    let metrics: AgentMetrics
    let logger: Logger

    static func bind(
        host: String, port: Int, handler: any RPCHandler, authenticator: RPCAuthenticator, tls: NIOSSLContext? = nil,
        identity: @escaping @Sendable () async -> RPCPeer,
        metrics: AgentMetrics, logger: Logger
    ) async throws -> RPCServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 64)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    // With mutual TLS a peer without a certificate from the cluster CA never gets to its hello.
                    if let tls { try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child)
                }
            }
        return RPCServer(channel: channel, handler: handler, authenticator: authenticator, identity: identity, metrics: metrics, logger: logger)
    }

    var port: Int { channel.channel.localAddress?.port ?? 0 }

    func run() async throws {
        logger.info("RPC listener bound", metadata: ["amq.port": "\(port)"])
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { inbound in
                    do {
                        for try await connection in inbound {
                            group.addTask { await serve(connection) }
                        }
                    } catch is CancellationError {
                    } catch let error as ChannelError where error == .ioOnClosedChannel || error == .alreadyClosed {
                    }
                }
                group.cancelAll()
            }
        } onCancelOrGracefulShutdown: {
            channel.channel.close(promise: nil)
        }
    }

    /// One peer's connection: the hello, then requests answered in arrival order.
    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        var logger = self.logger
        logger[metadataKey: "amq.peer"] = "\(connection.channel.remoteAddress.map { "\($0)" } ?? "?")"
        do {
            try await connection.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                guard let first = try await frames.next() else { return }
                let hello = try RPCFrame(decoding: first)
                var body = hello.body
                guard hello.method == .hello, !hello.isResponse else { throw RPCError("the first frame must be a hello") }
                let request = try HelloRequest(from: &body)
                let peer = RPCPeer(nodeID: Int(request.nodeID), zone: request.zone)
                let refusal = authenticator.refusal(of: request)
                var answer = ByteBuffer()
                let me = await identity()
                HelloResponse(accepted: refusal == nil, nodeID: Int32(me.nodeID), zone: me.zone, message: refusal ?? "").encode(into: &answer)
                try await outbound.write(RPCFrame(isResponse: true, method: .hello, correlationID: hello.correlationID, body: answer).encoded())
                if let refusal {
                    logger.warning("Refused an RPC connection", metadata: ["amq.reason": "\(refusal)", "amq.node.id": "\(peer.nodeID)"])
                    return
                }
                logger[metadataKey: "amq.node.id"] = "\(peer.nodeID)"
                logger.debug("RPC connection opened")
                try await serveRequests(&frames, outbound, from: peer)
            }
        } catch {
            logger.debug("RPC connection ended", metadata: ["amq.error": "\(error)"])
        }
    }

    /// Requests are started in arrival order and answered as each is done (by correlation id):
    /// a replica's long-poll must not hold up the pointer answers behind it.
    private func serveRequests(
        _ frames: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, from peer: RPCPeer
    ) async throws {
        let (answers, answerSink) = AsyncStream.makeStream(of: ByteBuffer.self)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                for await frame in answers {
                    try await outbound.write(frame)
                }
            }
            // The peer has gone: answers still on their way have nobody to read them.
            defer { answerSink.finish() }
            while let bytes = try await frames.next() {
                let request = try RPCFrame(decoding: bytes)
                metrics.rpcBytes(bytes.readableBytes + 4, category: request.method.category, peerZone: peer.zone, direction: "in")
                let answer = { @Sendable (body: ByteBuffer) in
                    let frame = RPCFrame(isResponse: true, method: request.method, correlationID: request.correlationID, body: body).encoded()
                    metrics.rpcBytes(frame.readableBytes, category: request.method.category, peerZone: peer.zone, direction: "out")
                    answerSink.yield(frame)
                }
                switch await handler.start(request.method, request.body, from: peer) {
                case .respond(let body): answer(body)
                case .run(let work): group.addTask { answer(await work()) }
                }
            }
        }
    }
}
