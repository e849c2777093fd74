import AMQKafkaProtocol
import AMQSecurity
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// One TCP connection to one broker, speaking framed Kafka requests.
///
/// Requests are pipelined: each gets the next correlation id and a slot in `pending` before it is
/// written, and the connection's reader (``run()``, a child task of the client's task group) hands
/// each response frame to the slot with its correlation id. Kafka answers a connection's requests
/// in the order it read them; matching by id instead of by position keeps concurrent callers
/// correct even when their writes reach the socket in the other order. A caller that times out
/// abandons its slot, and the late response is dropped when it arrives, so the connection stays
/// usable.
package final class BrokerConnection: Sendable {
    package let address: BrokerAddress
    private let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private let state = Mutex(State())
    private let logger: Logger

    private struct Pending {
        var apiKey: ApiKey
        var responseHeaderVersion: Int16
        var continuation: CheckedContinuation<ByteBuffer, any Error>?
        var result: Result<ByteBuffer, KafkaClientError>?
        var abandoned = false
    }

    private struct State {
        var outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>?
        var outboundWaiters: [CheckedContinuation<NIOAsyncChannelOutboundWriter<ByteBuffer>, any Error>] = []
        var nextCorrelationID: Int32 = 1
        var pending: [Int32: Pending] = [:]
        var failure: KafkaClientError?
        /// The broker's version ranges, from ApiVersions.
        var versions: [Int16: ClosedRange<Int16>] = [:]
    }

    private init(address: BrokerAddress, channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, logger: Logger) {
        self.address = address
        self.channel = channel
        var logger = logger
        logger[metadataKey: "kafka.broker"] = "\(address)"
        self.logger = logger
    }

    /// Opens the TCP connection; the caller must then run ``run()`` in its task group.
    package static func connect(
        to address: BrokerAddress, timeout: Duration, tls: NIOSSLContext? = nil, logger: Logger
    ) async throws(KafkaClientError) -> BrokerConnection {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(timeout.inMilliseconds))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: address.host, port: address.port) { channel in
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
        } catch {
            throw KafkaClientError(
                .brokerUnreachable,
                "cannot connect to broker \(address): \(error); is the cluster running? check 'amq cluster status'",
                underlying: error
            )
        }
        return BrokerConnection(address: address, channel: channel, logger: logger)
    }

    /// Reads response frames until the connection closes, then fails whatever still waits.
    package func run() async {
        do {
            try await channel.executeThenClose { inbound, outbound in
                let waiters = state.withLock { state in
                    state.outbound = outbound
                    defer { state.outboundWaiters = [] }
                    return state.outboundWaiters
                }
                for waiter in waiters { waiter.resume(returning: outbound) }
                for try await frame in inbound {
                    try deliver(frame)
                }
            }
            fail(KafkaClientError(.connectionClosed, "broker \(address) closed the connection"))
        } catch let error as KafkaClientError {
            fail(error)
        } catch {
            fail(KafkaClientError(.connectionClosed, "connection to broker \(address) failed: \(error)", underlying: error))
        }
    }

    /// Closes the socket; ``run()`` then returns.
    package func close() {
        channel.channel.close(promise: nil)
    }

    var isFailed: Bool { state.withLock { $0.failure != nil } }

    func setVersions(_ versions: [Int16: ClosedRange<Int16>]) {
        state.withLock { $0.versions = versions }
    }

    /// The highest version both sides speak, or nil when the ranges do not meet.
    func version(for apiKey: ApiKey, upTo clientMax: Int16? = nil) -> Int16? {
        let broker = state.withLock { $0.versions[apiKey.rawValue] }
        guard let broker else { return nil }
        let ours = apiKey.acceptedVersions
        let high = min(broker.upperBound, ours.upperBound, clientMax ?? .max)
        let low = max(broker.lowerBound, ours.lowerBound)
        return low <= high ? high : nil
    }

    private func deliver(_ frame: ByteBuffer) throws(KafkaClientError) {
        var frame = frame
        guard let correlationID = frame.getInteger(at: frame.readerIndex, as: Int32.self) else {
            throw KafkaClientError(.protocolError, "broker \(address) sent a frame without a correlation id")
        }
        logger.trace("Kafka response", metadata: ["kafka.correlation_id": "\(correlationID)"])
        let outcome: (CheckedContinuation<ByteBuffer, any Error>?, Result<ByteBuffer, KafkaClientError>)? = state.withLock { state in
            guard var entry = state.pending[correlationID] else { return nil }
            let result: Result<ByteBuffer, KafkaClientError>
            do {
                _ = try ResponseHeader.decode(from: &frame, headerVersion: entry.responseHeaderVersion)
                result = .success(frame)
            } catch {
                result = .failure(KafkaClientError(.protocolError, "bad \(entry.apiKey.name) response header from \(address): \(error)"))
            }
            if entry.abandoned {
                state.pending[correlationID] = nil
                return (nil, result)
            }
            if let continuation = entry.continuation {
                state.pending[correlationID] = nil
                return (continuation, result)
            }
            entry.result = result
            state.pending[correlationID] = entry
            return (nil, result)
        }
        guard let outcome else {
            throw KafkaClientError(.protocolError, "broker \(address) answered correlation id \(correlationID), which no request used")
        }
        outcome.0?.resume(with: outcome.1)
    }

    private func fail(_ error: KafkaClientError) {
        let (waiters, outboundWaiters) = state.withLock { state in
            if state.failure == nil { state.failure = error }
            let waiters = state.pending.values.compactMap(\.continuation)
            state.pending = [:]
            defer { state.outboundWaiters = [] }
            return (waiters, state.outboundWaiters)
        }
        if !waiters.isEmpty {
            logger.debug("Kafka connection failed with requests in flight", metadata: ["error": "\(error)", "amq.requests": "\(waiters.count)"])
        }
        for waiter in waiters { waiter.resume(throwing: error) }
        for waiter in outboundWaiters { waiter.resume(throwing: error) }
    }

    private func outboundWriter() async throws -> NIOAsyncChannelOutboundWriter<ByteBuffer> {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<NIOAsyncChannelOutboundWriter<ByteBuffer>, KafkaClientError>? = state.withLock { state in
                if let failure = state.failure { return .failure(failure) }
                if let outbound = state.outbound { return .success(outbound) }
                state.outboundWaiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    /// Sends one request and returns the response body (after its header), or nil for a request
    /// the broker does not answer (Produce with acks=0).
    package func roundTrip(
        apiKey: ApiKey, version: Int16, clientID: String, body: ByteBuffer, expectResponse: Bool = true
    ) async throws -> ByteBuffer? {
        let correlationID = try await send(apiKey: apiKey, version: version, clientID: clientID, body: body, expectResponse: expectResponse)
        guard expectResponse else { return nil }
        return try await response(to: correlationID)
    }

    /// Sends `request` and decodes its response.
    package func call<Request: KafkaRequest>(_ request: Request, version: Int16, clientID: String) async throws -> Request.Response {
        let correlationID = try await send(request, version: version, clientID: clientID)
        return try await response(to: correlationID, of: Request.self, version: version)
    }

    /// Writes `request` without waiting for its answer (pipelining): collect it with
    /// ``response(to:of:version:)`` and the returned correlation id. A Produce with acks=0 gets no
    /// answer, so no slot waits for one.
    package func send<Request: KafkaRequest>(_ request: Request, version: Int16, clientID: String) async throws -> Int32 {
        var body = ByteBuffer()
        request.encode(into: &body, version: version)
        let expectResponse = (request as? ProduceRequest)?.acks != ProduceAcks.none.rawValue
        return try await send(apiKey: Request.apiKey, version: version, clientID: clientID, body: body, expectResponse: expectResponse)
    }

    /// The decoded response to the request sent with `correlationID`.
    package func response<Request: KafkaRequest>(to correlationID: Int32, of request: Request.Type, version: Int16) async throws -> Request.Response {
        var body = try await response(to: correlationID)
        do {
            return try Request.Response(from: &body, version: version)
        } catch {
            throw KafkaClientError(
                .protocolError, "cannot decode \(Request.apiKey.name) v\(version) response from broker \(address): \(error)", underlying: error
            )
        }
    }

    /// Writes bytes as they are, adding no size prefix: for probing a broker with frames no
    /// well-behaved client sends (the agent's listener tests).
    package func writeRaw(_ bytes: ByteBuffer) async throws {
        try await outboundWriter().write(bytes)
    }

    /// Frames and writes one request, with a slot for its response unless none will come.
    private func send(apiKey: ApiKey, version: Int16, clientID: String, body: ByteBuffer, expectResponse: Bool) async throws -> Int32 {
        let outbound = try await outboundWriter()
        let correlationID: Int32 = try state.withLock { state throws(KafkaClientError) in
            if let failure = state.failure { throw failure }
            let id = state.nextCorrelationID
            state.nextCorrelationID = id == .max ? 1 : id + 1
            if expectResponse {
                state.pending[id] = Pending(apiKey: apiKey, responseHeaderVersion: apiKey.responseHeaderVersion(version))
            }
            return id
        }
        let frame = KafkaFrameEncoder.frame(reservingCapacity: body.readableBytes + 64) { frame in
            RequestHeader(apiKey: apiKey.rawValue, apiVersion: version, correlationID: correlationID, clientID: clientID)
                .encode(into: &frame)
            var body = body
            frame.writeBuffer(&body)
        }
        logger.trace(
            "Kafka request", metadata: ["kafka.api_key": "\(apiKey.name)", "kafka.api_version": "\(version)", "kafka.correlation_id": "\(correlationID)"]
        )
        do {
            try await outbound.write(frame)
        } catch {
            state.withLock { _ = $0.pending.removeValue(forKey: correlationID) }
            throw KafkaClientError(.connectionClosed, "cannot send \(apiKey.name) to broker \(address): \(error)", underlying: error)
        }
        return correlationID
    }

    /// Waits for the response body to the request sent with `correlationID`.
    private func response(to correlationID: Int32) async throws -> ByteBuffer {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer, any Error>) in
                let ready: Result<ByteBuffer, any Error>? = state.withLock { state in
                    guard var entry = state.pending[correlationID] else {
                        return .failure(state.failure ?? KafkaClientError(.connectionClosed, "connection to broker \(address) closed"))
                    }
                    if entry.abandoned {
                        return .failure(CancellationError())
                    }
                    if let result = entry.result {
                        state.pending[correlationID] = nil
                        return result.mapError { $0 }
                    }
                    entry.continuation = continuation
                    state.pending[correlationID] = entry
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<ByteBuffer, any Error>? in
                guard var entry = state.pending[correlationID] else { return nil }
                if entry.result != nil {
                    // Answered but not yet picked up: nothing will come for this slot any more.
                    state.pending[correlationID] = nil
                    return nil
                }
                entry.abandoned = true
                let continuation = entry.continuation
                entry.continuation = nil
                state.pending[correlationID] = entry
                return continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }
}

extension Duration {
    /// Whole milliseconds, for NIO's `TimeAmount` and Kafka's `*Ms` fields.
    package var inMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
