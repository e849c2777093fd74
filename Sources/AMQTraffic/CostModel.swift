/// The cost model (docs/traffic.md): what crossing zones and S3 requests cost, and what a classic
/// three-zone Kafka cluster would have sent across zones for the same produce and consume volume.
package enum CostModel {
    /// Bytes in a GiB: cloud transfer prices are per GB as the bills count it, 2^30 bytes.
    package static let bytesPerGB = 1_073_741_824.0

    /// A classic Kafka cluster in `zones` zones, leaders and clients spread evenly, `replicationFactor`
    /// replicas in distinct zones, a `followerFetch` share of consumer bytes read from a follower in
    /// the consumer's zone:
    /// `P·(n−1)/n` producer to a leader in another zone, `P·(RF−1)` leader to followers,
    /// `C·(1−φ)·(n−1)/n` consumer from a leader in another zone.
    package static func kafkaCrossZoneBytes(
        produced: Double, consumed: Double, zones: Int, replicationFactor: Int, followerFetch: Double
    ) -> Double {
        guard zones > 1 else { return 0 }
        let elsewhere = Double(zones - 1) / Double(zones)
        let followers = Double(max(0, min(replicationFactor, zones) - 1))
        return produced * elsewhere + produced * followers + consumed * (1 - followerFetch) * elsewhere
    }

    /// Dollars for `bytes` crossing zones.
    package static func interZoneCost(_ bytes: Double, _ settings: TrafficSettings) -> Double {
        bytes / bytesPerGB * settings.interZonePerGB
    }

    /// Dollars for S3 requests.
    package static func requestCost(_ requests: [S3Operation: Int64], _ settings: TrafficSettings) -> Double {
        requests.reduce(0) { $0 + Double($1.value) * settings.price(of: $1.key) }
    }
}
