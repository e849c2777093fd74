/// The codec in the low three bits of a v2 record batch's attributes.
package enum CompressionCodec: Int16, Sendable, CaseIterable {
    case none = 0
    case gzip = 1
    case snappy = 2
    case lz4 = 3
    case zstd = 4

    /// The codec of a batch with these attributes; 5–7 are unassigned and make the batch corrupt.
    package init(attributes: Int16) throws(KafkaProtocolError) {
        guard let codec = CompressionCodec(rawValue: attributes & 0x7) else {
            throw .invalidValue("compression codec \(attributes & 0x7) in record batch attributes")
        }
        self = codec
    }
}
