import AMQKafkaProtocol
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite struct FuzzTests {
    static let iterations = 100_000

    /// Valid request frames (header + body) of every accepted api key and version, to mutate.
    static func seedFrames() -> [ByteBuffer] {
        var frames: [ByteBuffer] = []
        for (type, versions) in generatedSampleTypes {
            guard let request = type as? any KafkaRequest.Type else { continue }
            for version in versions {
                var frame = ByteBuffer()
                RequestHeader(apiKey: request.apiKey.rawValue, apiVersion: version, correlationID: 1, clientID: "fuzz")
                    .encode(into: &frame)
                encodeSample(type, version: version, into: &frame)
                frames.append(frame)
            }
        }
        return frames
    }

    static func encodeSample<T: SampleProviding>(_: T.Type, version: Int16, into buffer: inout ByteBuffer) {
        T.sample(version: version).encode(into: &buffer, version: version)
    }

    /// Decodes like the broker will: header, then the body if the key and version are known. Any
    /// thrown KafkaProtocolError is fine; a trap fails the whole run.
    static func decode(_ frame: ByteBuffer) -> Bool {
        var buffer = frame
        do {
            let header = try RequestHeader.decode(from: &buffer)
            guard let key = ApiKey(rawValue: header.apiKey) else { return false }
            _ = try KafkaRequestBody.decode(apiKey: key, version: header.apiVersion, from: &buffer)
            return true
        } catch {
            return false
        }
    }

    @Test func mutatedFramesNeverCrash() {
        var random = SeededGenerator(seed: 0x616D_71)
        let seeds = Self.seedFrames()
        // Unmutated seeds all decode.
        #expect(seeds.allSatisfy(Self.decode))
        var decoded = 0
        for iteration in 0..<Self.iterations {
            var bytes = Array(seeds[Int.random(in: 0..<seeds.count, using: &random)].readableBytesView)
            switch iteration % 4 {
            case 0:  // truncated
                bytes.removeLast(Int.random(in: 0...bytes.count, using: &random))
            case 1:  // bit flips
                for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= 1 << UInt8.random(in: 0...7, using: &random)
                }
            case 2:  // random bytes after a valid header prefix
                let keep = Int.random(in: 0...min(12, bytes.count), using: &random)
                bytes = Array(bytes.prefix(keep))
                    + (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            default:  // overwritten byte runs (lengths and counts become huge or negative)
                for _ in 0..<Int.random(in: 1...3, using: &random) where !bytes.isEmpty {
                    let start = Int.random(in: 0..<bytes.count, using: &random)
                    let value: UInt8 = Bool.random(using: &random) ? 0xFF : 0x7F
                    for index in start..<min(bytes.count, start + 4) { bytes[index] = value }
                }
            }
            if Self.decode(ByteBuffer(bytes: bytes)) { decoded += 1 }
        }
        // Some mutations leave valid frames (flips in values); most are rejected.
        #expect(decoded > 0 && decoded < Self.iterations)
    }

    @Test func frameDecoderSplitsFrames() throws {
        var first = ByteBuffer(hex: "00000003 010203")
        var second = ByteBuffer(hex: "00000000")
        var stream = ByteBuffer()
        stream.writeBuffer(&first)
        stream.writeBuffer(&second)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [(stream, [ByteBuffer(bytes: [1, 2, 3]), ByteBuffer()])],
            decoderFactory: { KafkaFrameDecoder() })
    }

    @Test func frameDecoderRejectsBadSizesBeforeTheBody() throws {
        for size: Int32 in [-1, Int32.min, 1025] {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(KafkaFrameDecoder(maxFrameSize: 1024)))
            var prefix = ByteBuffer()
            prefix.writeInteger(size)
            #expect(throws: KafkaProtocolError.frameTooLarge(Int(size), limit: 1024)) { try channel.writeInbound(prefix) }
            _ = try? channel.finish()
        }
    }

    @Test func randomStreamsThroughTheFrameDecoder() throws {
        var random = SeededGenerator(seed: 7)
        for _ in 0..<2_000 {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(KafkaFrameDecoder(maxFrameSize: 256)))
            var failed = false
            for _ in 0..<Int.random(in: 1...5, using: &random) where !failed {
                let chunk = (0..<Int.random(in: 0...40, using: &random)).map { _ in
                    // Mostly small bytes so sizes are often plausible.
                    Bool.random(using: &random) ? UInt8.random(in: 0...3, using: &random) : UInt8.random(in: 0...255, using: &random)
                }
                do {
                    try channel.writeInbound(ByteBuffer(bytes: chunk))
                } catch {
                    #expect(error is KafkaProtocolError)
                    failed = true
                }
            }
            while let frame = try channel.readInbound(as: ByteBuffer.self) {
                #expect(frame.readableBytes <= 256)
            }
            _ = try? channel.finish()
        }
    }
}
