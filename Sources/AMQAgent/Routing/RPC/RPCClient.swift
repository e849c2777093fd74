import AMQKafkaProtocol
import AMQSecurity
import AMQStorage
import AMQTraffic
import DequeModule
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Where a peer agent's RPC listener is, and its zone.
struct RPCAddress: Sendable, Equatable {
    var host: String
    var port: Int
    var zone: String
}

/// The calling side of the inter-agent RPC: one persistent connection per peer agent, opened on
/// first use, requests pipelined on it in the order they are made (a proxy's pointers reach their
/// leader in the order it released them), answers matched by correlation id. A connection that
/// fails fails the calls on it; the next call opens a new one.
final class RPCClient: Sendable {
    let identity: RPCPeer
    let authenticator: RPCAuthenticator
    /// TLS to the peers' RPC listeners (they ask for this agent's certificate), or nil: plaintext.
    let tls: NIOSSLContext?
    let metrics: AgentMetrics
    /// This agent's traffic counts: the calling side counts both directions of a link, the
    /// answering side neither, so each inter-agent byte is counted once.
    let traffic: TrafficLedger
    let logger: Logger
    let resolve: @Sendable (Int) async -> RPCAddress?
    private let links = Mutex<[Int: PeerLink]>([:])
    private let newLinks: AsyncStream<PeerLink>
    private let newLinkSink: AsyncStream<PeerLink>.Continuation

    init(
        identity: RPCPeer, authenticator: RPCAuthenticator, tls: TLSConfiguration? = nil, metrics: AgentMetrics, traffic: TrafficLedger, logger: Logger,
        resolve: @escaping @Sendable (Int) async -> RPCAddress?
    ) throws {
        self.tls = try tls.map { try NIOSSLContext(configuration: $0) }
        self.identity = identity
        self.authenticator = authenticator
        self.metrics = metrics
        self.traffic = traffic
        self.logger = logger
        self.resolve = resolve
        (newLinks, newLinkSink) = AsyncStream.makeStream(of: PeerLink.self)
    }

    /// Sends a request to `node` now (its place in that peer's order is taken before this
    /// returns); the completion gets the answer's body.
    func call(_ method: RPCMethod, _ body: ByteBuffer, to node: Int) -> Completion<ByteBuffer> {
        let completion = Completion<ByteBuffer>()
        let (link, isNew) = links.withLock { links -> (PeerLink, Bool) in
            if let link = links[node] { return (link, false) }
            let link = PeerLink(node: node)
            links[node] = link
            return (link, true)
        }
        if isNew { newLinkSink.yield(link) }
        link.enqueue(PeerLink.Call(method: method, body: body, completion: completion))
        return completion
    }

    /// Keeps the peers' connections until cancelled.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await link in newLinks {
                group.addTask { await link.run(client: self) }
            }
        }
    }

    func shutdown() {
        newLinkSink.finish()
    }
}

/// One peer: its queue of calls and, while connected, the calls awaiting answers.
final class PeerLink: Sendable {
    struct Call: Sendable {
        var method: RPCMethod
        var body: ByteBuffer
        var completion: Completion<ByteBuffer>
    }

    private struct State {
        var queue: Deque<Call> = []
        var inFlight: [UInt32: Call] = [:]
        var nextCorrelation: UInt32 = 1
        /// Wakes whoever waits for calls: the connection's writer, or the idle link.
        var wake: AsyncStream<Void>.Continuation?
        var zone = "unknown"
    }

    let node: Int
    private let state = Mutex(State())

    init(node: Int) {
        self.node = node
    }

    func enqueue(_ call: Call) {
        state.withLock { state in
            state.queue.append(call)
            state.wake?.yield()
        }
    }

    /// Connects when there are calls, serves the connection until it fails, and again.
    func run(client: RPCClient) async {
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            await waitForCalls()
            guard !Task.isCancelled else { break }
            guard let address = await client.resolve(node) else {
                failQueued(StorageError(.unavailable, "node \(node) has no RPC address in the topology"))
                continue
            }
            do {
                try await serve(address, client: client)
                backoff = .milliseconds(100)
            } catch {
                client.logger.notice("RPC connection lost", metadata: ["amq.node.id": "\(node)", "amq.error": "\(error)"])
                let failure = StorageError(.unavailable, "the connection to node \(node) failed: \(error)")
                failInFlight(failure)
                failQueued(failure)
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
            }
        }
        failInFlight(StorageError(.shuttingDown, "the agent is shutting down"))
        failQueued(StorageError(.shuttingDown, "the agent is shutting down"))
    }

    private func waitForCalls() async {
        let (signal, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let empty = state.withLock { state in
            state.wake = wake
            return state.queue.isEmpty
        }
        if empty {
            for await _ in signal { break }
        }
    }

    private func serve(_ address: RPCAddress, client: RPCClient) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            // The link's last packet counts are read after the peer closes, before we close.
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connectTimeout(.seconds(5))
            .connect(host: address.host, port: address.port) { [tls = client.tls] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: TLSClientFiles.serverHostname(for: address.host))
                        )
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        state.withLock { $0.zone = address.zone }
        let meter = client.traffic.meter(peerZone: address.zone, category: .routerRPC, headerSource: TCPInfoSource(channel: channel.channel))
        try await channel.executeThenClose { inbound, outbound in
            // The last headers are sampled while the socket is still open; the exchange always ends by throwing.
            do {
                try await exchange(inbound, outbound, address: address, meter: meter, client: client)
            } catch {
                await meter.close()
                throw error
            }
        }
    }

    private func exchange(
        _ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, address: RPCAddress,
        meter: ConnectionMeter, client: RPCClient
    ) async throws {
        var frames = inbound.makeAsyncIterator()
        var hello = ByteBuffer()
        client.authenticator.hello(nodeID: client.identity.nodeID, zone: client.identity.zone).encode(into: &hello)
        let helloFrame = RPCFrame(isResponse: false, method: .hello, correlationID: 0, body: hello).encoded()
        meter.sent(helloFrame.readableBytes, RPCMethod.hello.category)
        try await outbound.write(helloFrame)
        guard let first = try await frames.next() else { throw RPCError("node \(node) closed the connection at hello") }
        meter.received(first.readableBytes + 4, RPCMethod.hello.category)
        var body = try RPCFrame(decoding: first).body
        let answer = try HelloResponse(from: &body)
        guard answer.accepted else { throw RPCError("node \(node) refused the hello: \(answer.message)") }

        let (signal, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        state.withLock { $0.wake = wake }
        wake.yield()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in signal {
                    for frame in self.takeQueued() {
                        client.metrics.rpcBytes(frame.bytes.readableBytes, category: frame.method.category, peerZone: address.zone, direction: "out")
                        meter.sent(frame.bytes.readableBytes, frame.method.category)
                        try await outbound.write(frame.bytes)
                    }
                }
            }
            while let bytes = try await frames.next() {
                let frame = try RPCFrame(decoding: bytes)
                client.metrics.rpcBytes(bytes.readableBytes + 4, category: frame.method.category, peerZone: address.zone, direction: "in")
                meter.received(bytes.readableBytes + 4, frame.method.category)
                let call = state.withLock { $0.inFlight.removeValue(forKey: frame.correlationID) }
                call?.completion.complete(.success(frame.body))
            }
            group.cancelAll()
            throw RPCError("node \(node) closed the connection")
        }
    }

    /// The queued calls, given correlation ids and recorded as in flight, as frames to write.
    private func takeQueued() -> [(method: RPCMethod, bytes: ByteBuffer)] {
        state.withLock { state in
            var frames: [(RPCMethod, ByteBuffer)] = []
            while let call = state.queue.popFirst() {
                let id = state.nextCorrelation
                state.nextCorrelation &+= 1
                state.inFlight[id] = call
                frames.append((call.method, RPCFrame(isResponse: false, method: call.method, correlationID: id, body: call.body).encoded()))
            }
            return frames
        }
    }

    private func failInFlight(_ error: StorageError) {
        let calls = state.withLock { state in
            defer { state.inFlight.removeAll() }
            state.wake = nil
            return Array(state.inFlight.values)
        }
        for call in calls { call.completion.complete(.failure(error)) }
    }

    private func failQueued(_ error: StorageError) {
        let calls = state.withLock { state in
            defer { state.queue.removeAll() }
            return Array(state.queue)
        }
        for call in calls { call.completion.complete(.failure(error)) }
    }
}
