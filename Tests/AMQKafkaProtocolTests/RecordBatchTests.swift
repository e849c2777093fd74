import AMQKafkaProtocol
import NIOCore
import Testing

@Suite struct RecordBatchTests {
    @Test func crc32cMatchesPublishedCheckValues() {
        // The CRC catalogue's check value, and RFC 3720 (iSCSI) appendix B.4 vectors.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
        // Continuing over a split gives the same as over the whole.
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let first = bytes[..<333].withUnsafeBytes { CRC32C.checksum($0) }
        let whole = bytes[333...].withUnsafeBytes { CRC32C.checksum($0, continuing: first) }
        #expect(whole == CRC32C.checksum(bytes))
    }

    @Test func theTablesAgreeWithTheCPUInstructionAtEveryLengthAndAlignment() {
        // On a CPU without the instruction both sides are the tables, and this checks nothing new.
        var generator = SeededGenerator(seed: 7)
        let bytes = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes.withUnsafeBytes { all in
            for start in 0..<9 {
                for length in [0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 1000, 4096 - 9] {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    #expect(CRC32C.checksum(slice) == CRC32C.software(slice), "start \(start), length \(length)")
                    #expect(CRC32C.checksum(slice, continuing: 0x1234_5678) == CRC32C.software(slice, continuing: 0x1234_5678))
                }
            }
        }
    }

    @Test func builtBatchesValidateAndReadBack() throws {
        let records = (0..<5).map { Record(key: $0 % 2 == 0 ? Array("k\($0)".utf8) : nil, value: Array("value \($0)".utf8), headers: [("h", [UInt8($0)])], timestamp: 1_700_000_000_000 + Int64($0)) }
        var batch = RecordBatchBuilder.batch(records)
        let headers = try RecordBatchHeader.validateBatches(batch)
        #expect(headers.count == 1 && headers[0].recordsCount == 5 && headers[0].lastOffsetDelta == 4)
        #expect(headers[0].maxTimestamp == 1_700_000_000_004)
        RecordBatchHeader.setBaseOffset(100, in: &batch, at: 0)
        _ = try RecordBatchHeader.validateBatches(batch)  // the base offset is outside the CRC
        let read = try RecordBatchBuilder.records(in: batch, at: 0)
        #expect(read.map(\.offset) == [100, 101, 102, 103, 104])
        #expect(read.map(\.record) == records)
    }

    @Test func corruptionIsCaught() {
        let batch = RecordBatchBuilder.batch([Record(value: Array("hello".utf8), timestamp: 1)])
        var flipped = batch
        flipped.setInteger(flipped.getInteger(at: 70, as: UInt8.self)! ^ 1, at: 70)
        #expect(throws: RecordBatchError.self) { try RecordBatchHeader.validateBatches(flipped) }
        #expect(throws: RecordBatchError.truncated(have: batch.readableBytes - 1, need: batch.readableBytes)) {
            try RecordBatchHeader.validateBatches(batch.getSlice(at: 0, length: batch.readableBytes - 1)!)
        }
        var magic = batch
        magic.setInteger(Int8(1), at: RecordBatchHeader.Offsets.magic)
        #expect(throws: RecordBatchError.unsupportedMagic(1)) { try RecordBatchHeader.validateBatches(magic) }
    }
}
