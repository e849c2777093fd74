import AMQKafkaProtocol
import NIOCore
import Testing

/// Spliced frames (issue 14, item 3): the record sets of a Fetch response are parts of their own,
/// referenced rather than copied, and the bytes on the wire are exactly those of a frame built whole.
@Suite struct OutboundFrameTests {
    private func response(_ sizes: [Int]) -> FetchResponse {
        FetchResponse(
            responses: [
                .init(
                    topic: "t",
                    partitions: sizes.enumerated().map { index, size in
                        .init(partitionIndex: Int32(index), highWatermark: 7, records: ByteBuffer(repeating: UInt8(index + 1), count: size))
                    }
                )
            ]
        )
    }

    private func whole(_ response: FetchResponse, version: Int16) -> ByteBuffer {
        KafkaFrameEncoder.frame { response.encode(into: &$0, version: version) }
    }

    @Test(arguments: [Int16(4), 11, 12])
    func splicedFrameHasTheSameBytes(version: Int16) throws {
        // Two large record sets (spliced), one small (copied), one empty.
        let response = response([100_000, 10, 0, 8_192])
        let frame = KafkaFrameEncoder.splicedFrame { response.encode(into: &$0, version: version) }
        #expect(frame.joined == whole(response, version: version))
        #expect(frame.readableBytes == whole(response, version: version).readableBytes)
        // head, records, middle (with the small set copied), records, and in flexible versions
        // a tail (the last partition's and the response's tagged fields)
        #expect(frame.parts.count == (version >= 12 ? 5 : 4))
        #expect(frame.parts.filter { $0.readableBytes == 100_000 || $0.readableBytes == 8_192 }.count == 2)

        // The size prefix counts the spliced bytes, and the frame decodes to the response.
        var joined = frame.joined
        let size = joined.readInteger(as: Int32.self)
        #expect(size.map(Int.init) == joined.readableBytes)
        let decoded = try FetchResponse(from: &joined, version: version)
        #expect(decoded == response)
    }

    @Test func recordSetsAreReferencedNotCopied() {
        let records = ByteBuffer(repeating: 9, count: 64 * 1024)
        let response = FetchResponse(responses: [.init(topic: "t", partitions: [.init(partitionIndex: 0, records: records)])])
        let frame = KafkaFrameEncoder.splicedFrame { response.encode(into: &$0, version: 12) }
        let part = frame.parts[1]
        #expect(part.readableBytes == records.readableBytes)
        let same = part.withUnsafeReadableBytes { a in records.withUnsafeReadableBytes { b in a.baseAddress == b.baseAddress } }
        #expect(same)
    }

    @Test func framesWithoutLargeRecordsAreOnePart() {
        let frame = KafkaFrameEncoder.splicedFrame { response([100]).encode(into: &$0, version: 12) }
        #expect(frame.parts.count == 1)
        // Outside a spliced frame records are always copied in.
        #expect(whole(response([100_000]), version: 12).readableBytes > 100_000)
    }
}
