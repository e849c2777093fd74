import NIOCore

/// A tagged field (KIP-482) this code has no field for; kept so re-encoding preserves it.
package struct TaggedField: Sendable, Hashable {
    package var tag: UInt32
    package var data: [UInt8]

    package init(tag: UInt32, data: [UInt8]) {
        self.tag = tag
        self.data = data
    }

    /// A tagged field whose payload `body` writes; the generated encoders use it for known fields.
    package init(tag: UInt32, encoding body: (inout ByteBuffer) -> Void) {
        var buffer = ByteBuffer()
        body(&buffer)
        self.init(tag: tag, data: Array(buffer.readableBytesView))
    }
}

/// A tagged field as read, before the generated decoder decides whether it knows the tag.
package struct RawTaggedField: Sendable {
    package var tag: UInt32
    package var data: ByteBuffer

    package var unknown: TaggedField { TaggedField(tag: tag, data: Array(data.readableBytesView)) }
}
