/// Prices and the Kafka cluster to compare with, as `amq cluster set` changes them. Defaults are
/// AWS us-east-1 list prices (docs/traffic.md names the sources).
package struct TrafficSettings: Codable, Sendable, Equatable {
    /// Dollars per GiB that crosses zones, both directions' charges together ($0.01 out + $0.01 in).
    package var interZonePerGB: Double = 0.02
    package var s3PutPerRequest: Double = 0.000005
    package var s3GetPerRequest: Double = 0.0000004
    /// LIST is billed as a PUT, HEAD as a GET; DELETE is free on S3 Standard.
    package var s3ListPerRequest: Double = 0.000005
    package var s3DeletePerRequest: Double = 0
    /// Zones of the Kafka cluster compared with; 0: as many as this cluster has.
    package var kafkaZones: Int = 0
    package var kafkaReplicationFactor: Int = 3
    /// Share of consumer bytes a Kafka cluster would serve from a follower in the consumer's zone
    /// (KIP-392 follower fetching), 0...1.
    package var kafkaFollowerFetchFraction: Double = 0
    /// Minute buckets older than this are rolled up into hour buckets.
    package var minuteBucketHours: Int = 48
    /// Buckets older than this are dropped.
    package var retentionDays: Int = 90

    package init() {}

    private enum CodingKeys: String, CodingKey {
        case interZonePerGB, s3PutPerRequest, s3GetPerRequest, s3ListPerRequest, s3DeletePerRequest, kafkaZones
        case kafkaReplicationFactor, kafkaFollowerFetchFraction, minuteBucketHours, retentionDays
    }

    /// Every key is optional: settings stored before a key existed decode with its default.
    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrafficSettings()
        interZonePerGB = try c.decodeIfPresent(Double.self, forKey: .interZonePerGB) ?? d.interZonePerGB
        s3PutPerRequest = try c.decodeIfPresent(Double.self, forKey: .s3PutPerRequest) ?? d.s3PutPerRequest
        s3GetPerRequest = try c.decodeIfPresent(Double.self, forKey: .s3GetPerRequest) ?? d.s3GetPerRequest
        s3ListPerRequest = try c.decodeIfPresent(Double.self, forKey: .s3ListPerRequest) ?? d.s3ListPerRequest
        s3DeletePerRequest = try c.decodeIfPresent(Double.self, forKey: .s3DeletePerRequest) ?? d.s3DeletePerRequest
        kafkaZones = try c.decodeIfPresent(Int.self, forKey: .kafkaZones) ?? d.kafkaZones
        kafkaReplicationFactor = try c.decodeIfPresent(Int.self, forKey: .kafkaReplicationFactor) ?? d.kafkaReplicationFactor
        kafkaFollowerFetchFraction = try c.decodeIfPresent(Double.self, forKey: .kafkaFollowerFetchFraction) ?? d.kafkaFollowerFetchFraction
        minuteBucketHours = try c.decodeIfPresent(Int.self, forKey: .minuteBucketHours) ?? d.minuteBucketHours
        retentionDays = try c.decodeIfPresent(Int.self, forKey: .retentionDays) ?? d.retentionDays
    }

    /// `amq cluster set` keys, with what each holds.
    package static let keys: [(key: String, meaning: String)] = [
        ("price.inter-zone-gb", "dollars per GiB crossing zones (out + in)"),
        ("price.s3-put", "dollars per S3 PUT"),
        ("price.s3-get", "dollars per S3 GET (HEAD too)"),
        ("price.s3-list", "dollars per S3 LIST"),
        ("price.s3-delete", "dollars per S3 DELETE request"),
        ("kafka.zones", "zones of the Kafka cluster compared with (0: this cluster's)"),
        ("kafka.replication-factor", "its replication factor"),
        ("kafka.follower-fetch-fraction", "share of its consumer bytes served in-zone by followers, 0..1"),
        ("traffic.minute-bucket-hours", "hours minute buckets are kept before rolling up into hours"),
        ("traffic.retention-days", "days traffic history is kept"),
    ]

    package static func isKey(_ key: String) -> Bool { keys.contains { $0.key == key } }

    package func value(of key: String) -> String {
        switch key {
        case "price.inter-zone-gb": "\(interZonePerGB)"
        case "price.s3-put": "\(s3PutPerRequest)"
        case "price.s3-get": "\(s3GetPerRequest)"
        case "price.s3-list": "\(s3ListPerRequest)"
        case "price.s3-delete": "\(s3DeletePerRequest)"
        case "kafka.zones": "\(kafkaZones)"
        case "kafka.replication-factor": "\(kafkaReplicationFactor)"
        case "kafka.follower-fetch-fraction": "\(kafkaFollowerFetchFraction)"
        case "traffic.minute-bucket-hours": "\(minuteBucketHours)"
        case "traffic.retention-days": "\(retentionDays)"
        default: ""
        }
    }

    /// Applies one setting; a bad value is refused with what would be accepted.
    package mutating func set(_ key: String, _ value: String) throws(TrafficError) {
        switch key {
        case "price.inter-zone-gb": interZonePerGB = try Self.price(key, value)
        case "price.s3-put": s3PutPerRequest = try Self.price(key, value)
        case "price.s3-get": s3GetPerRequest = try Self.price(key, value)
        case "price.s3-list": s3ListPerRequest = try Self.price(key, value)
        case "price.s3-delete": s3DeletePerRequest = try Self.price(key, value)
        case "kafka.zones": kafkaZones = try Self.integer(key, value, in: 0...64)
        case "kafka.replication-factor": kafkaReplicationFactor = try Self.integer(key, value, in: 1...16)
        case "kafka.follower-fetch-fraction":
            guard let fraction = Double(value), fraction.isFinite, (0...1).contains(fraction) else {
                throw TrafficError(.invalidArgument, "\(key) must be a fraction from 0 to 1, like 0.5; got \"\(value)\"")
            }
            kafkaFollowerFetchFraction = fraction
        case "traffic.minute-bucket-hours": minuteBucketHours = try Self.integer(key, value, in: 1...24 * 90)
        case "traffic.retention-days": retentionDays = try Self.integer(key, value, in: 1...3650)
        default:
            throw TrafficError(.invalidArgument, "unknown traffic setting \"\(key)\"; known: \(Self.keys.map(\.key).joined(separator: ", "))")
        }
    }

    private static func price(_ key: String, _ value: String) throws(TrafficError) -> Double {
        guard let price = Double(value), price.isFinite else {
            throw TrafficError(.invalidArgument, "\(key) must be a price in dollars, like 0.02; got \"\(value)\"")
        }
        guard price >= 0 else {
            throw TrafficError(.invalidArgument, "\(key) cannot be negative (got \(value)); prices are dollars, 0 or more")
        }
        return price
    }

    private static func integer(_ key: String, _ value: String, in range: ClosedRange<Int>) throws(TrafficError) -> Int {
        guard let number = Int(value), range.contains(number) else {
            throw TrafficError(.invalidArgument, "\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound); got \"\(value)\"")
        }
        return number
    }

    /// Price of `requests` of `operation`.
    package func price(of operation: S3Operation) -> Double {
        switch operation {
        case .put: s3PutPerRequest
        case .get, .rangedGet, .head: s3GetPerRequest
        case .list: s3ListPerRequest
        case .delete: s3DeletePerRequest
        }
    }
}

/// The traffic module's one error type.
package struct TrafficError: Error, Sendable, CustomStringConvertible {
    package enum Code: String, Sendable {
        case invalidArgument
    }

    package var code: Code
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}
