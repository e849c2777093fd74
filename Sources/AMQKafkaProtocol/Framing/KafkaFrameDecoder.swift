import NIOCore

/// Splits a byte stream into Kafka frames: an int32 size, then that many bytes. Emits each frame
/// without its size prefix. The size is checked before waiting for the body, so a bogus prefix
/// fails the connection at once instead of buffering up to it.
package struct KafkaFrameDecoder: NIOSingleStepByteToMessageDecoder {
    package typealias InboundOut = ByteBuffer

    /// Kafka's default `socket.request.max.bytes`.
    package static let defaultMaxFrameSize = 100 * 1024 * 1024

    package let maxFrameSize: Int

    package init(maxFrameSize: Int = KafkaFrameDecoder.defaultMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    package mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return nil }
        guard size >= 0, Int(size) <= maxFrameSize else {
            throw KafkaProtocolError.frameTooLarge(Int(size), limit: maxFrameSize)
        }
        guard buffer.readableBytes >= 4 + Int(size) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(size))
    }

    package mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        try decode(buffer: &buffer)
    }
}
