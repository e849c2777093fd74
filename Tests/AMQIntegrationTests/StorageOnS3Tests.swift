import AMQTestSupport
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// A local fleet whose object store is SeaweedFS's S3 server: records appended through the agents
/// land in the bucket as WAL objects and read back, also after the fleet restarts.
@Suite(.serialized, .timeLimit(.minutes(5))) struct StorageOnS3Tests {
    static let credentials = S3TestServer.credentialsEnvironment

    @Test func aLocalFleetStoresItsPartitionsInS3() async throws {
        try await S3TestServer.with(.seaweedfs) { server in
            try await server.createBucket("fleet")
            try await AMQProcess.with(cluster: "s3demo") { amq in
                let url = "s3://fleet/amq?endpoint=\(server.endpoint)"
                try await amq.ok(["cluster", "create", "s3demo", "--local", "--zones", "a,b", "--agents-per-zone", "1", "--object-store", url], environment: Self.credentials)
                try await amq.ok(["topic", "create", "orders", "--partitions", "4", "--config", "linger.ms=10"], environment: Self.credentials)
                let partitions = try await amq.json([PartitionJSON].self, ["partition", "list", "--topic", "orders"])
                var status = try await amq.json(StatusJSON.self, ["cluster", "status"])

                func recordsURL(_ partition: PartitionJSON, _ status: StatusJSON) throws -> String {
                    let leader = try #require(status.agents.first { $0.nodeId == partition.leader })
                    return "http://\(leader.host):\(try #require(leader.adminPort))/v1/topics/orders/partitions/\(partition.index)/records"
                }
                for partition in partitions {
                    let url = try recordsURL(partition, status)
                    #expect(await eventually { await httpGet(url + "?offset=0").status == 200 })
                    for index in 0..<5 {
                        let (code, body) = await httpPost(url, #"{"records":[{"key":"k","value":"p\#(partition.index)-\#(index)"}]}"#)
                        #expect(code == 200, "\(body)")
                    }
                }
                // The WAL objects are in the bucket under the URL's prefix.
                let listing = await httpGet("\(server.endpoint)/fleet?list-type=2&prefix=amq/wal/")
                #expect(listing.status == 200 && listing.body.contains("<Key>amq/wal/"))

                try await amq.ok(["cluster", "stop", "s3demo"], environment: Self.credentials)
                try await amq.ok(["cluster", "start", "s3demo"], environment: Self.credentials)
                status = try await amq.json(StatusJSON.self, ["cluster", "status"])
                for partition in partitions {
                    let (code, body) = await httpGet(try recordsURL(partition, status) + "?offset=0")
                    #expect(code == 200, "\(body)")
                    for index in 0..<5 { #expect(body.contains("p\(partition.index)-\(index)"), "\(body)") }
                }
            }
        }
    }

    /// Issue 12, item 5: a missing bucket is one line that says what was tried and what to do —
    /// not the store's debug description (configuration, access key id, HTTP client, signer).
    @Test func aMissingBucketIsOneLineWithoutTheStoresInsides() async throws {
        try await S3TestServer.with(.moto) { server in
            try await AMQProcess.with(cluster: nil) { amq in
                let url = "s3://missing-bucket/amq?endpoint=\(server.endpoint)"
                let result = try await amq.run(["cluster", "create", "nobucket", "--local", "--zones", "a", "--object-store", url], environment: Self.credentials)
                #expect(result.code == 1)
                let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(message.split(separator: "\n").count == 1, "\(message)")
                #expect(message.contains("bucket \"missing-bucket\" does not exist") && message.contains("create bucket missing-bucket"), "\(message)")
                for leak in Array(Self.credentials.values) + ["HTTPClient", "Logger", "SigV4", "configuration:"] {
                    #expect(!message.contains(leak), "the error shows \(leak): \(message)")
                }
            }
        }
    }

    @Test func anUnusableObjectStoreIsRefusedBeforeAnythingStarts() async throws {
        try await AMQProcess.with(cluster: nil) { amq in
            let port = try freePort()
            let result = try await amq.run(
                ["cluster", "create", "nos3", "--local", "--zones", "a", "--object-store", "s3://b?endpoint=http://127.0.0.1:\(port)"],
                environment: Self.credentials
            )
            #expect(result.code == 1)
            #expect(result.stderr.contains("object store s3://b?endpoint=http://127.0.0.1:\(port) is not usable"), "\(result.stderr)")
            let list = try await amq.ok(["cluster", "list", "--format", "json"])
            #expect(!list.stdout.contains("nos3"))
        }
    }
}

func httpPost(_ url: String, _ json: String) async -> (status: Int, body: String) {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(ByteBuffer(string: json))
    AdminSecret.authorize(&request)
    do {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    } catch {
        return (0, "\(error)")
    }
}
