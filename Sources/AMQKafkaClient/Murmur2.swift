/// Kafka's default partitioner for keyed records: `toPositive(murmur2(key)) % partitions`, exactly as
/// `org.apache.kafka.common.utils.Utils.murmur2` and `BuiltInPartitioner.partitionForKey`, so a key lands on
/// the same partition whichever client (Java, librdkafka's `murmur2_random`, amq) produced it.
package enum Murmur2 {
    /// Kafka's murmur2 of `data`, as a Java `int`.
    package static func hash(_ data: some Collection<UInt8>) -> Int32 {
        let bytes = Array(data)
        let length = bytes.count
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        let blocks = length / 4
        for block in 0..<blocks {
            let i = block * 4
            var k = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            k = k &* m
            k ^= k >> r
            k = k &* m
            h = h &* m
            h ^= k
        }
        // Java's switch falls through: 3 takes bytes 2, 1 and 0, then multiplies once.
        let tail = length & ~3
        let remainder = length % 4
        if remainder >= 3 { h ^= UInt32(bytes[tail + 2]) << 16 }
        if remainder >= 2 { h ^= UInt32(bytes[tail + 1]) << 8 }
        if remainder >= 1 {
            h ^= UInt32(bytes[tail])
            h = h &* m
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows on `Int32.min`).
    package static func toPositive(_ value: Int32) -> Int32 { value & 0x7fff_ffff }

    /// The partition Kafka's default partitioner picks for `key`.
    package static func partition(forKey key: some Collection<UInt8>, partitions: Int) -> Int32 {
        precondition(partitions > 0, "a topic has at least one partition")
        return toPositive(hash(key)) % Int32(partitions)
    }
}
