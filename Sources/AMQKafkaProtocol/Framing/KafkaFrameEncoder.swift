import NIOCore

/// Writes Kafka frames: an int32 size, then that many bytes — what ``KafkaFrameDecoder`` reads.
/// The frame is written in place after a zero size, set once the body is written, so a request or
/// response is built in one buffer without copying its body.
package enum KafkaFrameEncoder {
    /// A frame whose contents `write` appends (after the size, which it must not write).
    package static func frame(reservingCapacity capacity: Int = 256, _ write: (inout ByteBuffer) -> Void) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(capacity)
        writeFrame(into: &buffer, write)
        return buffer
    }

    /// Appends one frame to `buffer`.
    package static func writeFrame(into buffer: inout ByteBuffer, _ write: (inout ByteBuffer) -> Void) {
        let sizeIndex = buffer.writerIndex
        buffer.writeInteger(Int32(0))
        write(&buffer)
        buffer.setInteger(Int32(buffer.writerIndex - sizeIndex - 4), at: sizeIndex)
    }
}
