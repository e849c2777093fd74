import AMQTestSupport
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import AMQObjectStore

#if canImport(Glibc)
import Glibc
#endif

/// The S3 client against real servers: moto and SeaweedFS (through the shared ``S3TestServer``
/// fixture), a SeaweedFS that checks signatures (the same fixture, `checkingSignatures`), and a
/// fault-injecting HTTP proxy in front of moto for the retry policy.
@Suite(.timeLimit(.minutes(3))) struct S3ClientTests {
    static let credentials = S3TestServer.credentials

    // MARK: Without a server

    @Test func pathAndVirtualHostTargets() throws {
        var configuration = S3Configuration(
            bucket: "logs", prefix: "cluster-1/", endpoint: "http://127.0.0.1:9000", credentials: Self.credentials
        )
        let path = try S3ObjectStore(configuration: configuration).target(key: "a b/c+d", query: [("uploadId", "x/y")])
        #expect(path.url == "http://127.0.0.1:9000/logs/cluster-1/a%20b/c%2Bd?uploadId=x%2Fy")
        #expect(path.host == "127.0.0.1:9000")
        #expect(path.path == "/logs/cluster-1/a b/c+d")
        #expect(try S3ObjectStore(configuration: configuration).target(key: nil).url == "http://127.0.0.1:9000/logs")

        configuration.endpoint = "https://s3.eu-west-1.amazonaws.com:443"
        configuration.addressing = .virtual
        let virtual = try S3ObjectStore(configuration: configuration).target(key: "k", query: [])
        #expect(virtual.url == "https://logs.s3.eu-west-1.amazonaws.com/cluster-1/k")
        #expect(virtual.host == "logs.s3.eu-west-1.amazonaws.com")
        #expect(virtual.path == "/cluster-1/k")
        #expect(try S3ObjectStore(configuration: configuration).target(key: nil, query: [("list-type", "2")]).url
            == "https://logs.s3.eu-west-1.amazonaws.com/?list-type=2")

        configuration.endpoint = "http://[::1]:8333"
        configuration.addressing = .path
        #expect(try S3ObjectStore(configuration: configuration).target(key: "k").url == "http://[::1]:8333/logs/cluster-1/k")

        configuration.endpoint = "ftp://nowhere"
        #expect(throws: ObjectStoreError.self) { try S3ObjectStore(configuration: configuration).target(key: "k") }
    }

    /// A virtual-host request is signed for the host it goes to, so a server that routes by
    /// `Host` verifies the same string the client signed.
    @Test func virtualHostRequestsSignTheBucketHost() throws {
        var configuration = S3Configuration(bucket: "b1", endpoint: "http://s3.test:8000", addressing: .virtual, credentials: Self.credentials)
        configuration.region = "eu-west-1"
        let store = S3ObjectStore(configuration: configuration)
        let target = try store.target(key: "x/y")
        let signer = try #require(store.signer)
        let signed = signer.sign(method: "GET", path: target.path, headers: ["Host": target.host], payload: .bytes([]), date: Date())
        #expect(signed.canonicalRequest.hasPrefix("GET\n/x/y\n\nhost:b1.s3.test:8000\n"))
        #expect(signed.authorization.contains("/eu-west-1/s3/aws4_request"))
    }

    @Test func descriptionLeavesCredentialsOut() throws {
        let url = "s3://logs/cluster-1?endpoint=http://127.0.0.1:9000&region=eu-west-1&addressing=path"
        let environment = ["AWS_ACCESS_KEY_ID": "AKIDSECRETID", "AWS_SECRET_ACCESS_KEY": "verysecret", "AWS_SESSION_TOKEN": "tokensecret"]
        guard case .s3(let configuration) = try ObjectStoreURL(url, environment: environment) else {
            Issue.record("not an S3 URL")
            return
        }
        let store = S3ObjectStore(configuration: configuration)
        #expect(store.description == "s3://logs/cluster-1/?endpoint=http://127.0.0.1:9000&region=eu-west-1&addressing=path")
        #expect(!store.description.contains("secret") && !store.description.contains("AKID"))
        // The description names the same store when parsed again.
        guard case .s3(let again) = try ObjectStoreURL(store.description, environment: environment) else { return }
        #expect(again == configuration)
    }

    @Test func xmlReader() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- listing -->
            <s3:ListBucketResult xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/" a='x>y'>
              <s3:Contents><s3:Key>a&amp;b&lt;c&gt;&quot;d&apos;&#34;&#x41;</s3:Key><s3:ETag>&#34;abc&#34;</s3:ETag><Size>12</Size></s3:Contents>
              <Contents><Key><![CDATA[<raw & text>]]></Key><Empty/></Contents>
              <IsTruncated>false</IsTruncated>
            </s3:ListBucketResult>
            """
        let root = try S3XML.parse(xml)
        #expect(root.name == "ListBucketResult")
        let contents = root.children("Contents")
        #expect(contents.count == 2)
        #expect(contents[0]["Key"] == "a&b<c>\"d'\"A")
        #expect(contents[0]["ETag"].map(S3ObjectStore.unquoted) == "abc")
        #expect(contents[0]["Size"] == "12")
        #expect(contents[1]["Key"] == "<raw & text>")
        #expect(contents[1]["Empty"] == "")
        #expect(root["IsTruncated"] == "false")
        #expect(S3XML.escape("a&b<c>\"d'") == "a&amp;b&lt;c&gt;&quot;d&apos;")

        for bad in ["", "<a>", "<a></b>", "<a>&bogus;</a>", "<a/><b/>", "<!DOCTYPE x><a/>", String(repeating: "<a>", count: 40)] {
            #expect(throws: S3XML.ParseError.self, "\(bad)") { try S3XML.parse(bad) }
        }
    }

    @Test func timestamps() {
        #expect(S3Timestamp.iso8601("2026-11-25T11:34:02.000Z") == Date(timeIntervalSince1970: 1_795_606_442))
        #expect(S3Timestamp.iso8601("2026-11-25T11:34:02Z") == Date(timeIntervalSince1970: 1_795_606_442))
        #expect(S3Timestamp.iso8601("2026-11-25T11:34:02.5Z") == Date(timeIntervalSince1970: 1_795_606_442.5))
        #expect(S3Timestamp.httpDate("Wed, 25 Nov 2026 11:34:02 GMT") == Date(timeIntervalSince1970: 1_795_606_442))
        #expect(S3Timestamp.httpDate("yesterday") == nil)
        #expect(S3Timestamp.iso8601("2026-11") == nil)
    }

    @Test func retryClassification() {
        for status: UInt in [429, 500, 502, 503, 504] { #expect(S3Retry.isTransient(status: status, code: nil)) }
        #expect(S3Retry.isTransient(status: 503, code: "SlowDown"))
        #expect(S3Retry.isTransient(status: 400, code: "RequestTimeout"))
        #expect(S3Retry.isTransient(status: 200, code: "InternalError"))
        #expect(S3Retry.isTransient(status: 409, code: "ConditionalRequestConflict"))
        let final: [(UInt, String?)] = [
            (400, "InvalidArgument"), (403, "AccessDenied"), (404, "NoSuchKey"), (409, "BucketAlreadyExists"), (412, nil), (416, nil),
        ]
        for (status, code) in final {
            #expect(!S3Retry.isTransient(status: status, code: code))
        }
        #expect(S3Retry.isTransient(HTTPClientError.remoteConnectionClosed))
        #expect(S3Retry.isTransient(HTTPClientError.connectTimeout))
        #expect(S3Retry.isTransient(HTTPClientError.deadlineExceeded))
        #expect(S3Retry.isTransient(ChannelError.ioOnClosedChannel))
        #expect(!S3Retry.isTransient(HTTPClientError.invalidURL))
        #expect(!S3Retry.isTransient(HTTPClientError.cancelled))
        #expect(!S3Retry.isTransient(CancellationError()))
    }

    @Test func backoffIsJitteredExponentialAndCapped() {
        let backoff = S3Backoff()
        #expect(backoff.ceiling(afterAttempt: 1) == .milliseconds(100))
        #expect(backoff.ceiling(afterAttempt: 2) == .milliseconds(200))
        #expect(backoff.ceiling(afterAttempt: 6) == .milliseconds(3200))
        #expect(backoff.ceiling(afterAttempt: 7) == .seconds(5))
        #expect(backoff.ceiling(afterAttempt: 60) == .seconds(5))
        var generator = SystemRandomNumberGenerator()
        let delays = (0..<200).map { _ in backoff.delay(afterAttempt: 3, using: &generator) }
        #expect(delays.allSatisfy { $0 >= .zero && $0 <= .milliseconds(400) })
        #expect(Set(delays).count > 100, "jittered, not fixed")
    }

    @Test func partSizesRespectS3Limits() {
        var configuration = S3Configuration(bucket: "b", endpoint: "http://127.0.0.1:1", credentials: nil)
        configuration.partSize = 1 << 20
        let store = S3ObjectStore(configuration: configuration)
        #expect(store.partSize(forObjectOf: 20 << 20) == 5 << 20)
        #expect(store.partSize(forObjectOf: 100_000 << 20) == (100_000 << 20) / 10_000)
    }

    // MARK: Against real servers

    @Test(arguments: S3ClientServer.allCases) func roundTripsListsAndDeletes(_ server: S3ClientServer) async throws {
        try await server.withStore { store in
            let weird = "dir/a+b&c=d%e'f\"g<h>i~j!k@l$m(n)o,p;q[r]s{t}u|v^w`x*y:z?#"
            let keys = ["t/0", "t/1", "t/2", "t/3/x", "u/0", weird]
            for (index, key) in keys.enumerated() {
                let info = try await store.put(key, body: ByteBuffer(string: "value-\(index)"))
                #expect(info.key == key && info.size == "value-\(index)".utf8.count && info.etag?.isEmpty == false)
            }
            #expect(String(buffer: try await store.get(weird)) == "value-5")
            #expect(String(buffer: try await store.get("t/1", range: 2..<4)) == "lu")
            #expect(String(buffer: try await store.get("t/1", range: 3..<1000)) == "ue-1", "clipped at the end")
            await expectS3Error(.invalidRange) { _ = try await store.get("t/1", range: 7..<9) }
            await expectS3Error(.invalidRange) { _ = try await store.get("t/1", range: 2..<2) }
            await expectS3Error(.notFound) { _ = try await store.get("t/none") }
            await expectS3Error(.notFound) { _ = try await store.get("t/none", range: 0..<1) }

            let head = try #require(try await store.head("t/2"))
            #expect(head.size == 7 && head.etag?.isEmpty == false && head.lastModified != nil)
            #expect(try await store.head("t/none") == nil)

            // Pages of two, in byte order, the store's prefix stripped.
            var pages: [[String]] = []
            var continuation: String?
            repeat {
                let page = try await store.list(prefix: "t/", continuation: continuation, limit: 2)
                pages.append(page.objects.map(\.key))
                continuation = page.continuation
            } while continuation != nil && pages.count < 10
            #expect(pages.flatMap { $0 } == ["t/0", "t/1", "t/2", "t/3/x"])
            #expect(pages.allSatisfy { $0.count <= 2 })
            #expect(try await store.listAll(prefix: "").map(\.key) == keys.sorted())
            #expect(try await store.listAll(prefix: "dir/").first?.size == 7)

            try await store.delete(["t/0", "t/none", weird])
            #expect(try await store.listAll(prefix: "").map(\.key) == ["t/1", "t/2", "t/3/x", "u/0"])
            try await store.delete([])

            // Empty objects: stored, read back, and no range selects anything of them.
            try await store.put("empty", body: ByteBuffer())
            #expect(try await store.get("empty").readableBytes == 0)
            await expectS3Error(.invalidRange) { _ = try await store.get("empty", range: 0..<1) }
            await expectS3Error(.invalidConfiguration) { try await store.put("../escape", body: ByteBuffer()) }
        }
    }

    @Test(arguments: S3ClientServer.allCases) func putIfAbsent(_ server: S3ClientServer) async throws {
        try await server.withStore { store in
            try await store.put("claim", body: ByteBuffer(string: "first"), ifAbsent: true)
            await expectS3Error(.alreadyExists) { try await store.put("claim", body: ByteBuffer(string: "second"), ifAbsent: true) }
            #expect(String(buffer: try await store.get("claim")) == "first")
            try await store.put("claim", body: ByteBuffer(string: "third"))
            #expect(String(buffer: try await store.get("claim")) == "third")
        }
    }

    /// 20 MiB through the multipart path in four 5 MiB parts comes back byte for byte; a
    /// conditional multipart put onto an existing key fails at completion and leaves no upload behind.
    @Test(arguments: S3ClientServer.allCases) func multipartRoundTrip(_ server: S3ClientServer) async throws {
        try await server.withStore(
            configure: {
                $0.multipartThreshold = 6 << 20
                $0.partSize = 5 << 20
            }
        ) { store in
            let body = randomBuffer(count: 20 << 20)
            let info = try await store.put("big/object", body: body)
            #expect(info.size == body.readableBytes)
            #expect(info.etag?.hasSuffix("-4") == true, "a multipart ETag counts its parts: \(info.etag ?? "nil")")
            #expect(try await store.get("big/object") == body)
            #expect(try await store.head("big/object")?.size == 20 << 20)
            // A range across the first part boundary.
            let across = (5 << 20) - 10..<(5 << 20) + 10
            #expect(try await store.get("big/object", range: across) == body.getSlice(at: across.lowerBound, length: across.count))

            let other = randomBuffer(count: 7 << 20)
            await expectS3Error(.alreadyExists) { try await store.put("big/object", body: other, ifAbsent: true) }
            #expect(try await store.get("big/object") == body)
            try await store.put("big/fresh", body: other, ifAbsent: true)
            #expect(try await store.get("big/fresh") == other)
            #expect(try await openMultipartUploads(store) == 0)
        }
    }

    /// More than 1000 keys go out in several Multi-Object Delete requests.
    @Test(arguments: [S3ClientServer.moto, .seaweedfsCheckingSignatures]) func deletesInBatchesOf1000(_ server: S3ClientServer) async throws {
        try await server.withStore { store in
            let keys = (0..<1005).map { "many/\($0)" }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for slice in stride(from: 0, to: keys.count, by: 100) {
                    group.addTask {
                        for key in keys[slice..<min(slice + 100, keys.count)] { try await store.put(key, body: ByteBuffer(string: "x")) }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.listAll(prefix: "many/").count == 1005)
            try await store.delete(keys + ["many/missing"])
            #expect(try await store.listAll(prefix: "many/").isEmpty)
        }
    }

    /// Virtual-host addressing end to end: requests go to `bucket.s3.amq.test:PORT` (resolved to
    /// 127.0.0.1 by the client's DNS override), the server takes the bucket from `Host`, and a
    /// path-style store on the same bucket sees the same objects.
    @Test(arguments: [S3TestServer.Kind.moto, .seaweedfs]) func virtualHostAddressing(_ kind: S3TestServer.Kind) async throws {
        // SeaweedFS routes by Host only for its configured domain; moto for any dotted name.
        let arguments = kind == .seaweedfs ? ["-s3.domainName=s3.amq.test"] : []
        let server = try await S3TestServer.start(kind, extraArguments: arguments)
        let bucket = "amq-v-\(UUID().uuidString.prefix(8).lowercased())"
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.dnsOverride = ["\(bucket).s3.amq.test": "127.0.0.1"]
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        do {
            let port = try #require(URLComponents(string: server.endpoint)?.port)
            let configuration = S3Configuration(
                bucket: bucket, prefix: "v/", endpoint: "http://s3.amq.test:\(port)", addressing: .virtual, credentials: Self.credentials
            )
            let virtual = S3ObjectStore(configuration: configuration, httpClient: client)
            #expect(try virtual.target(key: "k").url == "http://\(bucket).s3.amq.test:\(port)/v/k")
            try await virtual.createBucketIfNeeded()
            try await virtual.put("k", body: ByteBuffer(string: "hello"))
            #expect(String(buffer: try await virtual.get("k")) == "hello")
            #expect(try await virtual.listAll(prefix: "").map(\.key) == ["k"])

            var pathConfiguration = configuration
            pathConfiguration.endpoint = server.endpoint
            pathConfiguration.addressing = .path
            let pathStyle = S3ObjectStore(configuration: pathConfiguration)
            #expect(String(buffer: try await pathStyle.get("k")) == "hello")
            try await virtual.delete(["k"])
            #expect(try await pathStyle.head("k") == nil)
        } catch {
            try await client.shutdown()
            await server.stop()
            throw error
        }
        try await client.shutdown()
        await server.stop()
    }

    @Test(arguments: S3ClientServer.allCases) func missingBucket(_ server: S3ClientServer) async throws {
        try await server.withServer { endpoint in
            var configuration = S3Configuration(
                bucket: "amq-missing-\(UUID().uuidString.prefix(8).lowercased())", prefix: "p/", endpoint: endpoint, credentials: Self.credentials
            )
            configuration.multipartThreshold = 6 << 20
            let store = S3ObjectStore(configuration: configuration)
            let bucket = configuration.bucket
            for (name, operation) in [
                ("get", { _ = try await store.get("k") }),
                ("list", { _ = try await store.list(prefix: "", continuation: nil, limit: 10) }),
                ("delete", { try await store.delete(["k"]) }),
            ] as [(String, () async throws -> Void)] {
                let error = await expectS3Error(.noSuchBucket, name, operation)
                #expect(error?.message.contains("create bucket \(bucket) or fix the URL") == true, "\(name): \(error?.message ?? "")")
            }
            // HEAD answers carry no body, so a missing bucket looks like a missing key.
            #expect(try await store.head("k") == nil)
            if server == .seaweedfsCheckingSignatures {
                // SeaweedFS creates a bucket on the first write of an admin identity.
                try await store.put("k", body: ByteBuffer(string: "x"))
                #expect(String(buffer: try await store.get("k")) == "x")
            } else {
                // moto answers 404 NoSuchBucket; an anonymous-mode SeaweedFS answers 403, told apart by a HEAD on the bucket.
                await expectS3Error(.noSuchBucket) { try await store.put("k", body: ByteBuffer(string: "x")) }
                await expectS3Error(.noSuchBucket) { try await store.put("k", body: randomBuffer(count: 7 << 20)) }
            }
        }
    }

    /// Wrong or missing credentials are refused by a server that checks signatures, and the error
    /// says what to fix. Correct ones work (every other test on this server proves that too).
    @Test func refusedCredentials() async throws {
        try await S3ClientServer.seaweedfsCheckingSignatures.withServer { endpoint in
            let good = S3ObjectStore(configuration: S3Configuration(bucket: "amq-auth", endpoint: endpoint, credentials: Self.credentials))
            try await good.createBucketIfNeeded()
            try await good.put("k", body: ByteBuffer(string: "secret"))
            let cases: [(String, S3Credentials?)] = [
                ("wrong secret", S3Credentials(accessKeyID: "amqtest", secretAccessKey: "wrong")),
                ("unknown key", S3Credentials(accessKeyID: "nobody", secretAccessKey: "amqtestsecret")),
                ("anonymous", nil),
            ]
            for (name, credentials) in cases {
                let store = S3ObjectStore(configuration: S3Configuration(bucket: "amq-auth", endpoint: endpoint, credentials: credentials))
                let error = await expectS3Error(.accessDenied, name) { _ = try await store.get("k") }
                #expect(error?.message.contains("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") == true, "\(name): \(error?.message ?? "")")
                #expect(error?.message.contains("amqtestsecret") == false)
                await expectS3Error(.accessDenied, name) { try await store.put("k", body: ByteBuffer(string: "x")) }
                await expectS3Error(.accessDenied, name) { _ = try await store.list(prefix: "", continuation: nil, limit: 1) }
            }
            #expect(String(buffer: try await good.get("k")) == "secret")
        }
    }

    // MARK: Retries, through a fault-injecting proxy in front of moto

    @Test func getAndPutSucceedAfterSlowDowns() async throws {
        try await withFaultProxy { proxy, store in
            try await store.put("k", body: ByteBuffer(string: "payload"))
            proxy.inject(3, .slowDown, where: { $0.method == .GET })
            #expect(String(buffer: try await store.get("k")) == "payload")
            #expect(proxy.faultsServed == 3)
            #expect(proxy.requests(.GET) == 4)

            let puts = proxy.requests(.PUT)
            proxy.inject(2, .status(500, code: "InternalError"), where: { $0.method == .PUT })
            try await store.put("k2", body: ByteBuffer(string: "second"))
            #expect(proxy.requests(.PUT) - puts == 3)
            #expect(String(buffer: try await store.get("k2")) == "second")
        }
    }

    @Test func faultsOutlastingTheAttemptsGiveUnavailable() async throws {
        try await withFaultProxy(configure: { $0.maxAttempts = 3 }) { proxy, store in
            proxy.inject(100, .slowDown)
            let error = await expectS3Error(.unavailable) { _ = try await store.get("k") }
            #expect(proxy.requests(.GET) == 3)
            #expect(error?.message.contains("3 times") == true && error?.message.contains("503 SlowDown") == true, "\(error?.message ?? "")")
            #expect(error?.isTransient == true)
            let puts = proxy.requests(.PUT)
            await expectS3Error(.unavailable) { try await store.put("k", body: ByteBuffer(string: "x")) }
            #expect(proxy.requests(.PUT) - puts == 3)
        }
    }

    @Test func connectionFailuresAndTimeoutsAreRetried() async throws {
        try await withFaultProxy { proxy, store in
            try await store.put("k", body: ByteBuffer(string: "payload"))
            proxy.inject(2, .dropConnection, where: { $0.method == .GET })
            #expect(String(buffer: try await store.get("k")) == "payload")
            #expect(proxy.requests(.GET) == 3)

            // A request that never gets an answer times out and is sent again. The timeout is
            // short but not tight: a loaded moto can take a while, and that retries too (hence >=).
            var configuration = store.configuration
            configuration.requestTimeout = .seconds(2)
            var impatient = S3ObjectStore(configuration: configuration)
            impatient.backoff = store.backoff
            proxy.inject(1, .stall, where: { $0.method == .HEAD })
            let started = ContinuousClock.now
            #expect(try await impatient.head("k")?.size == 7)
            #expect(proxy.requests(.HEAD) >= 2)
            #expect(ContinuousClock.now - started >= .seconds(2))
        }
    }

    @Test func clientErrorsAreNotRetried() async throws {
        try await withFaultProxy { proxy, store in
            await expectS3Error(.notFound) { _ = try await store.get("missing") }
            #expect(proxy.requests(.GET) == 1)
            proxy.inject(5, .status(400, code: "InvalidArgument"))
            let error = await expectS3Error(.protocolFailure) { _ = try await store.list(prefix: "", continuation: nil, limit: 5) }
            #expect(error?.message.contains("HTTP 400 InvalidArgument") == true)
            #expect(proxy.requests(.GET) == 2)
            proxy.inject(5, .status(403, code: "AccessDenied"))
            await expectS3Error(.accessDenied) { _ = try await store.get("k") }
            #expect(proxy.requests(.GET) == 3)
        }
    }

    /// 409 ConditionalRequestConflict (a conditional write racing another) is sent again for a
    /// PUT; for a multipart completion the whole upload starts over, as S3 asks, and the
    /// conflicted upload is aborted.
    @Test func conditionalWriteConflictsAreRetried() async throws {
        try await withFaultProxy(
            configure: {
                $0.multipartThreshold = 6 << 20
                $0.partSize = 5 << 20
            }
        ) { proxy, store in
            let puts = proxy.requests(.PUT)
            proxy.inject(1, .status(409, code: "ConditionalRequestConflict"), where: { $0.method == .PUT })
            try await store.put("small", body: ByteBuffer(string: "x"), ifAbsent: true)
            #expect(proxy.requests(.PUT) - puts == 2)

            let body = randomBuffer(count: 7 << 20)
            proxy.inject(1, .status(409, code: "ConditionalRequestConflict"), where: { $0.method == .POST && $0.uri.contains("uploadId=") })
            try await store.put("large", body: body, ifAbsent: true)
            #expect(try await store.get("large") == body)
            #expect(proxy.requests { $0.method == .POST && $0.uri.contains("uploads=") } == 2, "a second upload was created")
            // At least one abort (a loaded server may time one out, and it is sent again); none open.
            #expect(proxy.requests(.DELETE) >= 1, "the conflicted upload was aborted")
            #expect(try await openMultipartUploads(store) == 0)
            await expectS3Error(.alreadyExists) { try await store.put("large", body: body, ifAbsent: true) }
        }
    }

    @Test func aFailedPartIsRetriedAndAFailedUploadAborted() async throws {
        try await withFaultProxy(
            configure: {
                $0.multipartThreshold = 6 << 20
                $0.partSize = 5 << 20
                $0.maxAttempts = 3
            }
        ) { proxy, store in
            let body = randomBuffer(count: 11 << 20)
            proxy.inject(2, .slowDown, where: { $0.uri.contains("partNumber=2") })
            try await store.put("mp", body: body)
            #expect(try await store.get("mp") == body)

            proxy.inject(100, .slowDown, where: { $0.uri.contains("partNumber=3") })
            await expectS3Error(.unavailable) { try await store.put("mp2", body: body) }
            #expect(proxy.requests(.DELETE) >= 1, "the upload was aborted")  // retried if it timed out
            #expect(try await openMultipartUploads(store) == 0)
            #expect(try await store.head("mp2") == nil)
        }
    }
}

// MARK: - Fixtures

/// The servers these tests run against.
enum S3ClientServer: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// moto, through the shared fixture.
    case moto
    /// SeaweedFS with no identities configured (it then accepts any signature), through the shared fixture.
    case seaweedfs
    /// SeaweedFS with an identity, so it verifies every signature.
    case seaweedfsCheckingSignatures

    var testDescription: String { rawValue }

    /// Runs `body` with the endpoint of a fresh server, stopped afterwards.
    func withServer(_ body: (String) async throws -> Void) async throws {
        switch self {
        case .moto: try await S3TestServer.with(.moto) { try await body($0.endpoint) }
        case .seaweedfs: try await S3TestServer.with(.seaweedfs) { try await body($0.endpoint) }
        case .seaweedfsCheckingSignatures: try await S3TestServer.with(.seaweedfs, checkingSignatures: true) { try await body($0.endpoint) }
        }
    }

    /// Runs `body` with a store on a fresh bucket (under a prefix) of a fresh server.
    func withStore(configure: (inout S3Configuration) -> Void = { _ in }, _ body: (S3ObjectStore) async throws -> Void) async throws {
        try await withServer { endpoint in
            var configuration = S3Configuration(
                bucket: "amq-\(UUID().uuidString.prefix(8).lowercased())", prefix: "amq/", endpoint: endpoint, credentials: S3ClientTests.credentials
            )
            configure(&configuration)
            var store = S3ObjectStore(configuration: configuration)
            store.backoff = S3Backoff(base: .milliseconds(5), cap: .milliseconds(50))
            try await store.createBucketIfNeeded()
            try await body(store)
        }
    }
}

/// An HTTP/1 server on 127.0.0.1 in front of a real S3 server. It forwards every request (the
/// client's `Host` kept, so signatures still verify) except the next few matching ones, which
/// get the injected fault instead.
final class S3FaultProxy: Sendable {
    enum Fault: Sendable {
        /// `503 SlowDown`, S3's throttling answer.
        case slowDown
        case status(Int, code: String)
        /// Close the connection without answering.
        case dropConnection
        /// Never answer (until the test ends).
        case stall
    }

    private struct State {
        var remaining = 0
        var fault = Fault.slowDown
        var matches: @Sendable (HTTPRequestHead) -> Bool = { _ in true }
        var faultsServed = 0
        var heads: [HTTPRequestHead] = []
    }

    let backend: String
    let port: Int
    private let state = Mutex(State())
    private let server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>

    init(backend: String) async throws {
        self.backend = backend
        server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        port = server.channel.localAddress?.port ?? 0
    }

    /// The next `count` requests for which `matches` holds get `fault`.
    func inject(_ count: Int, _ fault: Fault, where matches: @escaping @Sendable (HTTPRequestHead) -> Bool = { _ in true }) {
        state.withLock {
            $0.remaining = count
            $0.fault = fault
            $0.matches = matches
        }
    }

    var faultsServed: Int { state.withLock { $0.faultsServed } }

    /// How many requests with `method` arrived, faulted or forwarded.
    func requests(_ method: HTTPMethod) -> Int { requests { $0.method == method } }

    /// How many requests for which `matches` holds arrived, faulted or forwarded.
    func requests(where matches: (HTTPRequestHead) -> Bool) -> Int { state.withLock { $0.heads.filter(matches).count } }

    /// Accepts connections until cancelled.
    func run() async throws {
        try await server.executeThenClose { connections in
            try await withThrowingDiscardingTaskGroup { group in
                for try await connection in connections {
                    group.addTask { await self.serve(connection) }
                }
            }
        }
    }

    private func fault(for head: HTTPRequestHead) -> Fault? {
        state.withLock { state in
            state.heads.append(head)
            guard state.remaining > 0, state.matches(head) else { return nil }
            state.remaining -= 1
            state.faultsServed += 1
            return state.fault
        }
    }

    /// One client connection; its failures end it alone.
    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let next):
                    head = next
                    body.clear()
                case .body(let chunk):
                    body.writeImmutableBuffer(chunk)
                case .end:
                    guard let head else { continue }
                    switch fault(for: head) {
                    case nil:
                        try await forward(head, body: body, to: outbound)
                    case .slowDown:
                        try await answer(503, code: "SlowDown", to: outbound)
                    case .status(let status, let code):
                        try await answer(status, code: code, to: outbound)
                    case .dropConnection:
                        return
                    case .stall:
                        try await Task.sleep(for: .seconds(600))
                    }
                }
            }
        }
    }

    private func answer(_ status: Int, code: String, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>\(code)</Code><Message>injected by the test proxy</Message></Error>"
        let headers: HTTPHeaders = ["Content-Type": "application/xml", "Content-Length": "\(xml.utf8.count)"]
        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)))
        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: xml))))
        try await outbound.write(.end(nil))
    }

    private func forward(_ head: HTTPRequestHead, body: ByteBuffer, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        var request = HTTPClientRequest(url: backend + head.uri)
        request.method = head.method
        request.headers = head.headers
        for name in ["Content-Length", "Transfer-Encoding", "Connection"] { request.headers.remove(name: name) }
        if body.readableBytes > 0 || head.method == .PUT || head.method == .POST { request.body = .bytes(body) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let responseBody = try await response.body.collect(upTo: 64 << 20)
        var headers = response.headers
        for name in ["Transfer-Encoding", "Connection"] { headers.remove(name: name) }
        if head.method != .HEAD { headers.replaceOrAdd(name: "Content-Length", value: "\(responseBody.readableBytes)") }
        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)))
        if responseBody.readableBytes > 0 { try await outbound.write(.body(.byteBuffer(responseBody))) }
        try await outbound.write(.end(nil))
    }
}

/// Runs `body` with a fault proxy in front of a fresh moto and a store (fast backoff) that goes
/// through the proxy; stops both afterwards.
private func withFaultProxy(
    configure: (inout S3Configuration) -> Void = { _ in }, _ body: (S3FaultProxy, S3ObjectStore) async throws -> Void
) async throws {
    try await S3TestServer.with(.moto) { server in
        let proxy = try await S3FaultProxy(backend: server.endpoint)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                do { try await proxy.run() } catch is CancellationError {}
            }
            defer { group.cancelAll() }
            var configuration = S3Configuration(
                bucket: "amq-f-\(UUID().uuidString.prefix(8).lowercased())", prefix: "f/", endpoint: "http://127.0.0.1:\(proxy.port)",
                credentials: S3ClientTests.credentials
            )
            configure(&configuration)
            var store = S3ObjectStore(configuration: configuration)
            store.backoff = S3Backoff(base: .milliseconds(5), cap: .milliseconds(50))
            try await store.createBucketIfNeeded()
            try await body(proxy, store)
        }
    }
}

/// Expects `operation` to fail with an ``ObjectStoreError`` of `code`; returns it.
@discardableResult
private func expectS3Error(
    _ code: ObjectStoreError.Code, _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation,
    _ operation: () async throws -> Void
) async -> ObjectStoreError? {
    do {
        try await operation()
        Issue.record("expected \(code), got success \(comment)", sourceLocation: sourceLocation)
        return nil
    } catch let error as ObjectStoreError {
        #expect(error.code == code, "\(comment): \(error.message)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected \(code), got \(error) \(comment)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Multipart uploads begun in the store's bucket and neither completed nor aborted.
private func openMultipartUploads(_ store: S3ObjectStore) async throws -> Int {
    var request = S3Request(.GET, operation: "ListMultipartUploads", key: nil)
    request.query = [("uploads", "")]
    let response = try await store.send(request)
    try #require(response.isSuccess, "\(response.summary)")
    return try store.parseXML(response, request, expecting: "ListMultipartUploadsResult").children("Upload").count
}

private func randomBuffer(count: Int) -> ByteBuffer {
    var generator = SystemRandomNumberGenerator()
    var buffer = ByteBuffer()
    buffer.reserveCapacity(count)
    for _ in 0..<(count / 8) { buffer.writeInteger(generator.next() as UInt64) }
    for _ in 0..<(count % 8) { buffer.writeInteger(UInt8.random(in: 0...255, using: &generator)) }
    return buffer
}
