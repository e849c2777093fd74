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

    /// Keys for objects an agent is about to upload, each recorded as an upload intent.
    package struct UploadsRequest: Codable, Sendable {
        package var kind: UploadKind
        package var nodeID: Int
        package var count: Int

        package init(kind: UploadKind, nodeID: Int, count: Int) {
            self.kind = kind
            self.nodeID = nodeID
            self.count = count
        }
    }

    package struct UploadsResponse: Codable, Sendable {
        package var keys: [String]
    }

    package struct DeleteRecordsResponse: Codable, Sendable {
        package var logStartOffset: Int64
    }
}
