import AMQStreamIndex
extension ControlAPI.Path {
    package static let deleteRecords = "/v1/delete-records"
}

extension ControlAPI {
    /// Kafka's DeleteRecords for one partition, forwarded by the partition's leader.
    package struct DeleteRecordsRequest: Codable, Sendable {
        package var partition: PartitionKey
        package var before: Int64

        package init(partition: PartitionKey, before: Int64) {
            self.partition = partition
            self.before = before
        }
    }

    package struct DeleteRecordsResponse: Codable, Sendable {
        package var logStartOffset: Int64
    }
}
