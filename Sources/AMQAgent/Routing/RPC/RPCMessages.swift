import AMQKafkaProtocol
import AMQTraffic
import AMQStorage
import AMQStreamIndex
import Foundation
import NIOCore

/// The inter-agent RPC's wire format: length-prefixed frames (``KafkaFrameEncoder`` and
/// ``KafkaFrameDecoder``), each `flags u8 (bit 0: response) | method u8 | correlation id u32 |
/// body`, all integers big-endian, strings `u16 length | UTF-8`. docs/zone-routing.md lists the
/// messages. A connection starts with a hello that proves the cluster secret; requests are then
/// pipelined and answered in the order they came.
enum RPCMethod: UInt8, Sendable {
    case hello = 1
    /// A proxy hands a leader pointers into a router object (category `router-rpc`).
    case producePointers = 2
    /// A read-only replica long-polls a leader for committed segments (category `replica-rpc`).
    case replicaPoll = 3

    /// The traffic category its bytes are counted under.
    var category: TrafficCategory {
        switch self {
        case .hello, .producePointers: .routerRPC
        case .replicaPoll: .replicaRPC
        }
    }
}

struct RPCFrame: Sendable {
    var isResponse: Bool
    var method: RPCMethod
    var correlationID: UInt32
    var body: ByteBuffer

    func encoded() -> ByteBuffer {
        KafkaFrameEncoder.frame(reservingCapacity: body.readableBytes + 10) { buffer in
            buffer.writeInteger(UInt8(isResponse ? 1 : 0))
            buffer.writeInteger(method.rawValue)
            buffer.writeInteger(correlationID)
            var body = body
            buffer.writeBuffer(&body)
        }
    }

    /// A frame's contents, its size prefix already taken off.
    init(decoding frame: ByteBuffer) throws(RPCError) {
        var frame = frame
        guard let flags = frame.readInteger(as: UInt8.self), let raw = frame.readInteger(as: UInt8.self),
            let correlationID = frame.readInteger(as: UInt32.self)
        else { throw RPCError("a frame of \(frame.readableBytes) bytes is too short for its header") }
        guard let method = RPCMethod(rawValue: raw) else { throw RPCError("unknown RPC method \(raw)") }
        self.init(isResponse: flags & 1 == 1, method: method, correlationID: correlationID, body: frame)
    }

    init(isResponse: Bool, method: RPCMethod, correlationID: UInt32, body: ByteBuffer) {
        self.isResponse = isResponse
        self.method = method
        self.correlationID = correlationID
        self.body = body
    }
}

/// The inter-agent RPC's one error type.
struct RPCError: Error, Sendable, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

// MARK: Messages

/// The first frame of a connection: who calls, and proof it holds the cluster secret (an
/// HMAC-SHA256 over its node id, the time and a random nonce; the secret never crosses).
struct HelloRequest: Sendable, Equatable {
    var nodeID: Int32
    var zone: String
    var timestampMs: Int64
    var nonce: [UInt8]
    var mac: [UInt8]
}

struct HelloResponse: Sendable, Equatable {
    var accepted: Bool
    var nodeID: Int32
    var zone: String
    var message: String
}

/// Pointers from a proxy to the leader of their partitions, in the order the proxy took them.
struct PointerRequest: Sendable {
    var pointers: [WirePointer]
}

struct WirePointer: Sendable {
    var partition: PartitionKey
    var location: WritePathStateMachine.RemoteLocation
    /// The batches' 61-byte v2 headers, back to back: producer id, epoch and sequence, record
    /// count and timestamps — all the leader needs to place them.
    var headers: ByteBuffer
}

/// One outcome per pointer, in request order.
struct PointerResponse: Sendable {
    var outcomes: [PointerOutcome]
}

/// A replica's positions: for each partition, the committed end it knows.
struct ReplicaPollRequest: Sendable, Equatable {
    var waitMs: Int32
    var positions: [PartitionPosition]

    struct PartitionPosition: Sendable, Equatable {
        var partition: PartitionKey
        var knownEnd: Int64
    }
}

struct ReplicaPollResponse: Sendable, Equatable {
    var views: [ReplicaPollResult]
}

enum ReplicaPollResult: Sendable, Equatable {
    case view(ReplicaView)
    /// The asked agent does not lead it (any more).
    case notLeader(PartitionKey)
}

// MARK: Encoding

extension ByteBuffer {
    mutating func writeRPCString(_ string: String) {
        let bytes = Array(string.utf8)
        writeInteger(UInt16(truncatingIfNeeded: bytes.count))
        writeBytes(bytes.prefix(Int(UInt16.max)))
    }

    mutating func readRPCString() throws(RPCError) -> String {
        guard let count = readInteger(as: UInt16.self), let string = readString(length: Int(count)) else { throw RPCError("truncated string") }
        return string
    }

    mutating func readRPC<T: FixedWidthInteger>(_: T.Type = T.self) throws(RPCError) -> T {
        guard let value = readInteger(as: T.self) else { throw RPCError("truncated \(T.self)") }
        return value
    }

    mutating func writePartitionKey(_ key: PartitionKey) {
        writeRPCString(key.topicID)
        writeInteger(Int32(key.partition))
    }

    mutating func readPartitionKey() throws(RPCError) -> PartitionKey {
        let topic = try readRPCString()
        return PartitionKey(topicID: topic, partition: Int(try readRPC(Int32.self)))
    }

    mutating func writeSegment(_ segment: Segment) {
        writeInteger(segment.baseOffset)
        writeInteger(segment.endOffset)
        writeRPCString(segment.objectKey)
        writeInteger(Int64(segment.position))
        writeInteger(Int32(segment.length))
        writeInteger(segment.maxTimestamp)
    }

    mutating func readSegment() throws(RPCError) -> Segment {
        let base: Int64 = try readRPC()
        let end: Int64 = try readRPC()
        let key = try readRPCString()
        let position: Int64 = try readRPC()
        let length: Int32 = try readRPC()
        let maxTimestamp: Int64 = try readRPC()
        return Segment(baseOffset: base, endOffset: end, objectKey: key, position: Int(position), length: Int(length), maxTimestamp: maxTimestamp)
    }
}

extension HelloRequest {
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(nodeID)
        buffer.writeRPCString(zone)
        buffer.writeInteger(timestampMs)
        buffer.writeInteger(UInt8(nonce.count))
        buffer.writeBytes(nonce)
        buffer.writeInteger(UInt8(mac.count))
        buffer.writeBytes(mac)
    }

    init(from buffer: inout ByteBuffer) throws(RPCError) {
        nodeID = try buffer.readRPC()
        zone = try buffer.readRPCString()
        timestampMs = try buffer.readRPC()
        guard let nonce = buffer.readBytes(length: Int(try buffer.readRPC(UInt8.self))) else { throw RPCError("truncated nonce") }
        self.nonce = nonce
        guard let mac = buffer.readBytes(length: Int(try buffer.readRPC(UInt8.self))) else { throw RPCError("truncated MAC") }
        self.mac = mac
    }
}

extension HelloResponse {
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(accepted ? 1 : 0))
        buffer.writeInteger(nodeID)
        buffer.writeRPCString(zone)
        buffer.writeRPCString(message)
    }

    init(from buffer: inout ByteBuffer) throws(RPCError) {
        accepted = try buffer.readRPC(UInt8.self) == 1
        nodeID = try buffer.readRPC()
        zone = try buffer.readRPCString()
        message = try buffer.readRPCString()
    }
}

extension PointerRequest {
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(pointers.count))
        for pointer in pointers {
            buffer.writePartitionKey(pointer.partition)
            buffer.writeRPCString(pointer.location.objectKey)
            buffer.writeInteger(Int64(pointer.location.objectSize))
            buffer.writeInteger(Int64(pointer.location.position))
            buffer.writeInteger(Int32(pointer.location.length))
            buffer.writeInteger(UInt16(pointer.headers.readableBytes / RecordBatchHeader.size))
            var headers = pointer.headers
            buffer.writeBuffer(&headers)
        }
    }

    init(from buffer: inout ByteBuffer) throws(RPCError) {
        let count: UInt32 = try buffer.readRPC()
        pointers = []
        for _ in 0..<count {
            let partition = try buffer.readPartitionKey()
            let key = try buffer.readRPCString()
            let size: Int64 = try buffer.readRPC()
            let position: Int64 = try buffer.readRPC()
            let length: Int32 = try buffer.readRPC()
            let batches: UInt16 = try buffer.readRPC()
            guard let headers = buffer.readSlice(length: Int(batches) * RecordBatchHeader.size) else { throw RPCError("truncated batch headers") }
            let location = WritePathStateMachine.RemoteLocation(
                objectKey: key, objectSize: Int(size), position: Int(position), length: Int(length)
            )
            pointers.append(WirePointer(partition: partition, location: location, headers: headers))
        }
    }
}

extension WirePointer {
    /// The headers the pointer carries, parsed.
    func batchHeaders() throws(RPCError) -> [RecordBatchHeader] {
        var result: [RecordBatchHeader] = []
        var index = headers.readerIndex
        while index < headers.writerIndex {
            guard let header = RecordBatchHeader(headers, at: index), header.magic == 2 else { throw RPCError("a pointer carries a malformed batch header") }
            result.append(header)
            index += RecordBatchHeader.size
        }
        return result
    }

    /// The 61-byte headers of the whole batches in `batches`, back to back.
    static func headers(of batches: ByteBuffer) -> ByteBuffer {
        var headers = ByteBuffer()
        var index = batches.readerIndex
        while let header = RecordBatchHeader(batches, at: index), var slice = batches.getSlice(at: index, length: RecordBatchHeader.size) {
            headers.writeBuffer(&slice)
            index += header.totalSize
        }
        return headers
    }
}

extension PointerResponse {
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(outcomes.count))
        for outcome in outcomes {
            switch outcome {
            case .success(let offsets):
                buffer.writeRPCString("")
                buffer.writeInteger(offsets.baseOffset)
                buffer.writeInteger(offsets.lastOffset)
                buffer.writeInteger(Int32(-1))
                buffer.writeRPCString("")
            case .failure(let error):
                buffer.writeRPCString(error.code.rawValue)
                buffer.writeInteger(Int64(-1))
                buffer.writeInteger(Int64(-1))
                buffer.writeInteger(Int32(error.leader ?? -1))
                buffer.writeRPCString(error.message)
            }
        }
    }

    init(from buffer: inout ByteBuffer) throws(RPCError) {
        let count: UInt32 = try buffer.readRPC()
        outcomes = []
        for _ in 0..<count {
            let code = try buffer.readRPCString()
            let base: Int64 = try buffer.readRPC()
            let last: Int64 = try buffer.readRPC()
            let leader: Int32 = try buffer.readRPC()
            let message = try buffer.readRPCString()
            if code.isEmpty {
                outcomes.append(.success(AppendResult(baseOffset: base, lastOffset: last)))
            } else {
                let known = StorageError.Code(rawValue: code) ?? .unavailable
                outcomes.append(.failure(StorageError(known, "leader: \(message)", leader: leader >= 0 ? Int(leader) : nil)))
            }
        }
    }
}

extension ReplicaPollRequest {
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(waitMs)
        buffer.writeInteger(UInt32(positions.count))
        for position in positions {
            buffer.writePartitionKey(position.partition)
            buffer.writeInteger(position.knownEnd)
        }
    }

    init(from buffer: inout ByteBuffer) throws(RPCError) {
        waitMs = try buffer.readRPC()
        let count: UInt32 = try buffer.readRPC()
        positions = []
        for _ in 0..<count {
            let partition = try buffer.readPartitionKey()
            positions.append(PartitionPosition(partition: partition, knownEnd: try buffer.readRPC()))
        }
    }
}

extension ReplicaPollResponse {
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(views.count))
        for result in views {
            switch result {
            case .notLeader(let partition):
                buffer.writePartitionKey(partition)
                buffer.writeInteger(UInt8(1))
            case .view(let view):
                buffer.writePartitionKey(view.partition)
                buffer.writeInteger(UInt8(0))
                buffer.writeInteger(view.committedEnd)
                buffer.writeInteger(view.logStart)
                buffer.writeInteger(UInt32(view.segments.count))
                for segment in view.segments { buffer.writeSegment(segment) }
            }
        }
    }

    init(from buffer: inout ByteBuffer) throws(RPCError) {
        let count: UInt32 = try buffer.readRPC()
        views = []
        for _ in 0..<count {
            let partition = try buffer.readPartitionKey()
            if try buffer.readRPC(UInt8.self) == 1 {
                views.append(.notLeader(partition))
                continue
            }
            let end: Int64 = try buffer.readRPC()
            let start: Int64 = try buffer.readRPC()
            let segmentCount: UInt32 = try buffer.readRPC()
            var segments: [Segment] = []
            for _ in 0..<segmentCount { segments.append(try buffer.readSegment()) }
            views.append(.view(ReplicaView(partition: partition, committedEnd: end, logStart: start, segments: segments)))
        }
    }
}
