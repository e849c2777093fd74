import NIOCore

/// A frame on its way out, as parts to write in order (one vectored write): the record sets of a
/// Fetch response go from the cache to the socket as they are stored, never copied into the
/// frame. Built by ``KafkaFrameEncoder/splicedFrame(_:)``.
package struct OutboundFrame: Sendable {
    package private(set) var parts: [ByteBuffer]
    /// The frame's size on the wire, size prefix included.
    package private(set) var readableBytes: Int

    /// A frame built whole.
    package init(_ buffer: ByteBuffer) {
        parts = [buffer]
        readableBytes = buffer.readableBytes
    }

    init(parts: [ByteBuffer]) {
        self.parts = parts.filter { $0.readableBytes > 0 }
        readableBytes = parts.reduce(0) { $0 + $1.readableBytes }
    }

    /// The frame in one buffer (a copy when it has several parts).
    package var joined: ByteBuffer { ByteBuffer(joining: parts) }
}

extension ByteBuffer {
    /// `parts` as one buffer: the part itself when there is one (a slice, not a copy), else one
    /// copy into a buffer of exactly their size.
    package init(joining parts: [ByteBuffer]) {
        if parts.count == 1 {
            self = parts[0]
            return
        }
        self = ByteBuffer()
        reserveCapacity(parts.reduce(0) { $0 + $1.readableBytes })
        for part in parts { writeImmutableBuffer(part) }
    }
}

/// Record sets left out of a frame being encoded, to be written beside it: where each goes and
/// its bytes. Set for the synchronous encoding of one frame only (``KafkaFrameEncoder/splicedFrame(_:)``),
/// which is why the unchecked `Sendable` holds: no other thread ever sees an instance.
final class RecordSplices: @unchecked Sendable {
    /// Smaller record sets are copied: a part of their own would cost more than the copy.
    static let minimumBytes = 4096

    @TaskLocal static var current: RecordSplices?

    private(set) var splices: [(at: Int, bytes: ByteBuffer)] = []
    private(set) var bytes = 0

    func splice(_ records: ByteBuffer, at index: Int) {
        splices.append((index, records))
        bytes += records.readableBytes
    }
}

extension KafkaFrameEncoder {
    /// A frame whose contents `write` appends, with record sets of at least
    /// ``RecordSplices/minimumBytes`` left as parts of their own: their bytes are referenced,
    /// not copied (they are usually slices of the storage engine's caches).
    package static func splicedFrame(_ write: (inout ByteBuffer) -> Void) -> OutboundFrame {
        let splices = RecordSplices()
        var head = RecordSplices.$current.withValue(splices) { frame(write) }
        guard !splices.splices.isEmpty else { return OutboundFrame(head) }
        head.setInteger(Int32(head.readableBytes - 4 + splices.bytes), at: head.readerIndex)
        var parts: [ByteBuffer] = []
        var cursor = head.readerIndex
        for (at, bytes) in splices.splices {
            parts.append(head.getSlice(at: cursor, length: at - cursor)!)
            parts.append(bytes)
            cursor = at
        }
        parts.append(head.getSlice(at: cursor, length: head.writerIndex - cursor)!)
        return OutboundFrame(parts: parts)
    }
}
