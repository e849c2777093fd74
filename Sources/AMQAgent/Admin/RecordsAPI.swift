import AMQControlPlane
import AMQKafkaProtocol
import AMQStorage
import AMQStreamIndex
import Foundation
import Hummingbird
import NIOCore

/// A small HTTP produce/consume API on the admin listener (like Redpanda's HTTP proxy), on the
/// same storage path Kafka clients use: for scripts, smoke tests and operators without a Kafka
/// client at hand. It bypasses Kafka's authentication and ACLs, so it needs the cluster secret
/// (`Authorization: Bearer <secret>`), like the control API.
///
/// - `POST /v1/topics/{topic}/partitions/{partition}/records` with `{"records":[{"key":"k","value":"v"}]}`
///   appends one batch and answers `{"baseOffset":N,"lastOffset":M}` once it is committed.
/// - `GET /v1/topics/{topic}/partitions/{partition}/records?offset=N&maxBytes=B` answers
///   `{"records":[{"offset":N,"key":"k","value":"v","timestamp":T}],"highWatermark":H,"logStartOffset":S}`.
enum RecordsAPI {
    struct ProduceRequest: Codable, Sendable {
        struct Record: Codable, Sendable {
            var key: String?
            var value: String?
        }
        var records: [Record]
    }

    struct ProduceResponse: Codable, Sendable {
        var baseOffset: Int64
        var lastOffset: Int64
    }

    struct FetchResponse: Codable, Sendable {
        struct Record: Codable, Sendable {
            var offset: Int64
            var key: String?
            var value: String?
            var timestamp: Int64
        }
        var records: [Record]
        var highWatermark: Int64
        var logStartOffset: Int64
    }

    struct ErrorBody: Codable, Sendable {
        var error: String
        var message: String
        var leader: Int?
    }

    static func add(to router: RouterGroup<BasicRequestContext>, state: AgentState) {
        let records = router.group("topics/:topic/partitions/:partition/records")
        records.post { request, context in
            let (engine, key) = try await locate(context, state)
            var request = request
            let body = try await request.collectBody(upTo: 16 << 20)
            guard let produce = try? JSONDecoder().decode(ProduceRequest.self, from: Data(body.readableBytesView)), !produce.records.isEmpty else {
                return try json(ErrorBody(error: "invalidRequest", message: "body must be {\"records\":[{\"key\":…,\"value\":…}]} with at least one record"), .badRequest)
            }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let batch = RecordBatchBuilder.batch(
                produce.records.map { Record(key: $0.key.map { Array($0.utf8) }, value: $0.value.map { Array($0.utf8) }, timestamp: now) }
            )
            do {
                let result = try await engine.append(key, batches: batch)
                return try json(ProduceResponse(baseOffset: result.baseOffset, lastOffset: result.lastOffset), .ok)
            } catch let error as StorageError {
                return try failure(error)
            }
        }
        records.get { request, context in
            let (engine, key) = try await locate(context, state)
            let offset = request.uri.queryParameters.get("offset", as: Int64.self) ?? 0
            let maxBytes = min(max(request.uri.queryParameters.get("maxBytes", as: Int.self) ?? (1 << 20), 1), 64 << 20)
            do {
                let read = try await engine.read(key, offset: offset, maxBytes: maxBytes)
                var found: [FetchResponse.Record] = []
                var index = read.batches.readerIndex
                while let header = RecordBatchHeader(read.batches, at: index) {
                    for (recordOffset, record) in try RecordBatchBuilder.records(in: read.batches, at: index) where recordOffset >= offset {
                        found.append(
                            .init(
                                offset: recordOffset, key: record.key.map { String(decoding: $0, as: UTF8.self) },
                                value: record.value.map { String(decoding: $0, as: UTF8.self) }, timestamp: record.timestamp
                            )
                        )
                    }
                    index += header.totalSize
                }
                return try json(FetchResponse(records: found, highWatermark: read.highWatermark, logStartOffset: read.logStartOffset), .ok)
            } catch let error as StorageError {
                return try failure(error)
            }
        }
    }

    private static func locate(_ context: BasicRequestContext, _ state: AgentState) async throws -> (StorageEngine, PartitionKey) {
        let name = try context.parameters.require("topic")
        let partition = try context.parameters.require("partition", as: Int.self)
        guard let engine = await state.storage, let topology = await state.topology else {
            throw HTTPError(.serviceUnavailable, message: "the agent is not ready yet")
        }
        guard let topic = topology.topics.first(where: { $0.name == name }) else {
            throw HTTPError(.notFound, message: "topic \(name) not found")
        }
        guard partition >= 0, partition < topic.partitions else {
            throw HTTPError(.notFound, message: "topic \(name) has no partition \(partition)")
        }
        return (engine, PartitionKey(topicID: topic.id, partition: partition))
    }

    private static func failure(_ error: StorageError) throws -> Response {
        let status: HTTPResponse.Status =
            switch error.code {
            case .notLeader: .misdirectedRequest
            case .corrupt, .outOfOrderSequence, .invalidProducerEpoch: .badRequest
            case .offsetOutOfRange: .rangeNotSatisfiable
            case .unknownPartition: .notFound
            case .backpressureTimeout, .shuttingDown, .unavailable: .serviceUnavailable
            }
        return try json(ErrorBody(error: error.code.rawValue, message: error.message, leader: error.leader), status)
    }

    private static func json(_ value: some Encodable, _ status: HTTPResponse.Status) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(value))))
    }
}
