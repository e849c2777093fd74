/// The APIs amq speaks and the versions it decodes. The generator emits only these, and only the
/// intersection of each schema's `validVersions` with `accepted`; `advertised` may be wider where a
/// client needs to see versions we never receive (Produce 0–2; docs/decisions.md, Kafka protocol).
package struct APISpec: Sendable {
    package var key: Int
    package var name: String
    package var accepted: ClosedRange<Int>
    package var advertised: ClosedRange<Int>

    init(_ key: Int, _ name: String, _ accepted: ClosedRange<Int>, advertised: ClosedRange<Int>? = nil) {
        self.key = key
        self.name = name
        self.accepted = accepted
        self.advertised = advertised ?? accepted
    }
}

package enum APITable {
    package static let apis: [APISpec] = [
        APISpec(18, "ApiVersions", 0...4),
        APISpec(3, "Metadata", 0...12),
        APISpec(0, "Produce", 3...11, advertised: 0...11),
        APISpec(1, "Fetch", 4...12),
        APISpec(2, "ListOffsets", 1...7),
        APISpec(10, "FindCoordinator", 0...4),
        APISpec(11, "JoinGroup", 0...9),
        APISpec(14, "SyncGroup", 0...5),
        APISpec(12, "Heartbeat", 0...4),
        APISpec(13, "LeaveGroup", 0...5),
        APISpec(8, "OffsetCommit", 2...9),
        APISpec(9, "OffsetFetch", 1...9),
        APISpec(19, "CreateTopics", 2...7),
        APISpec(20, "DeleteTopics", 1...6),
        APISpec(22, "InitProducerId", 0...5),
        APISpec(32, "DescribeConfigs", 1...4),
        APISpec(15, "DescribeGroups", 0...5),
        APISpec(16, "ListGroups", 0...5),
        APISpec(21, "DeleteRecords", 0...2),
        APISpec(23, "OffsetForLeaderEpoch", 2...4),
        APISpec(60, "DescribeCluster", 0...1),
        APISpec(37, "CreatePartitions", 0...3),
        APISpec(42, "DeleteGroups", 0...2),
        APISpec(33, "AlterConfigs", 0...2),
        APISpec(44, "IncrementalAlterConfigs", 0...1),
        APISpec(47, "OffsetDelete", 0...0),
        APISpec(43, "ElectLeaders", 0...2),
        APISpec(46, "ListPartitionReassignments", 0...0),
        // Security (issue 12; docs/security.md). SaslHandshake v0 would be followed by raw,
        // unframed SASL tokens: every client we know sends v1 and SaslAuthenticate instead, but
        // librdkafka only enables SASL when the broker lists v0 (its feature map asks for 0–0).
        APISpec(17, "SaslHandshake", 1...1, advertised: 0...1),
        APISpec(36, "SaslAuthenticate", 0...2),
        APISpec(29, "DescribeAcls", 1...3),
        APISpec(30, "CreateAcls", 1...3),
        APISpec(31, "DeleteAcls", 1...3),
    ]

    /// Schemas of type "data" generated with all their versions; user code writes their leading
    /// int16 version itself.
    package static let dataTypes = ["ConsumerProtocolSubscription", "ConsumerProtocolAssignment"]
}
