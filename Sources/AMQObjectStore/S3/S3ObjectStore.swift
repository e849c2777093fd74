import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// An ``ObjectStore`` on any S3-compatible service (AWS S3, SeaweedFS, MinIO, moto), spoken to with
/// AsyncHTTPClient and signed with ``SigV4``.
///
/// - Keys are stored under ``S3Configuration/prefix`` and listed with it stripped.
/// - Bodies below ``S3Configuration/multipartThreshold`` go up in one PUT; larger ones as a
///   multipart upload (aborted when it fails).
/// - `put(ifAbsent: true)` sends `If-None-Match: *`, which AWS, SeaweedFS and moto all honour on
///   PUT and on CompleteMultipartUpload (412 becomes ``ObjectStoreError/Code/alreadyExists``).
///   moto checks and writes in two steps, so racing conditional puts can both succeed there;
///   nothing in amq depends on that race being decided (keys are unique per writer).
/// - 5xx answers, `SlowDown`, `RequestTimeout`, `InternalError`, connection failures and timeouts
///   are retried with jittered exponential backoff up to ``S3Configuration/maxAttempts`` times,
///   then reported as ``ObjectStoreError/Code/unavailable``; other 4xx answers are final.
package struct S3ObjectStore: ObjectStore {
    package let configuration: S3Configuration
    /// The wait between attempts; tests shorten it.
    package var backoff = S3Backoff()
    let httpClient: HTTPClient
    let logger: Logger
    let signer: SigV4?
    /// The parsed endpoint, or why it could not be parsed (reported by every call).
    let endpoint: Result<S3Endpoint, ObjectStoreError>

    package init(configuration: S3Configuration, httpClient: HTTPClient = .shared, logger: Logger = Logger(label: "amq.s3")) {
        self.configuration = configuration
        self.httpClient = httpClient
        var logger = logger
        logger[metadataKey: S3LogKeys.bucket] = "\(configuration.bucket)"
        self.logger = logger
        self.signer = configuration.credentials.map { SigV4(credentials: $0, region: configuration.region, service: "s3") }
        self.endpoint = Result { () throws(ObjectStoreError) in try S3Endpoint(configuration.endpoint) }
    }

    /// `s3://bucket/prefix?endpoint=…&region=…&addressing=…`: the URL that names this store, without credentials.
    package var description: String {
        var text = "s3://\(configuration.bucket)"
        if !configuration.prefix.isEmpty { text += "/\(configuration.prefix)" }
        return text + "?endpoint=\(configuration.endpoint)&region=\(configuration.region)&addressing=\(configuration.addressing.rawValue)"
    }

    // MARK: ObjectStore

    @discardableResult
    package func put(_ key: String, body: ByteBuffer, ifAbsent: Bool) async throws -> ObjectInfo {
        try ObjectKey.validate(key)
        if body.readableBytes >= configuration.multipartThreshold {
            return try await putMultipart(key, body: body, ifAbsent: ifAbsent)
        }
        var request = S3Request(.PUT, operation: "PutObject", key: key, body: body)
        if ifAbsent { request.headers.add(name: "If-None-Match", value: "*") }
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.retriesConditionalConflicts = true
        let response = try await send(request)
        guard response.isSuccess else {
            if ifAbsent, response.status == .preconditionFailed { throw alreadyExists(key) }
            throw await writeFailure(response, request)
        }
        return ObjectInfo(key: key, size: body.readableBytes, etag: response.headers.first(name: "ETag").map(Self.unquoted))
    }

    package func get(_ key: String, range: Range<Int>?) async throws -> ByteBuffer {
        try ObjectKey.validate(key)
        var request = S3Request(.GET, operation: "GetObject", key: key)
        request.responseLimit = .max
        if let range {
            guard range.lowerBound >= 0 else { throw invalidRange(key, range) }
            // S3 cannot express an empty range; it selects nothing of an object that exists.
            if range.isEmpty {
                guard try await head(key) != nil else { throw notFound(key) }
                throw invalidRange(key, range)
            }
            request.headers.add(name: "Range", value: "bytes=\(range.lowerBound)-\(range.upperBound - 1)")
        }
        let response = try await send(request)
        guard response.isSuccess else {
            if response.status == .rangeNotSatisfiable, let range { throw invalidRange(key, range) }
            throw failure(response, request)
        }
        // A server that ignores Range answers 200 with the whole object; cut the range out here.
        if let range, response.status == .ok {
            guard range.lowerBound < response.body.readableBytes else { throw invalidRange(key, range) }
            let length = min(range.upperBound, response.body.readableBytes) - range.lowerBound
            return response.body.getSlice(at: response.body.readerIndex + range.lowerBound, length: length) ?? ByteBuffer()
        }
        return response.body
    }

    package func head(_ key: String) async throws -> ObjectInfo? {
        try ObjectKey.validate(key)
        let request = S3Request(.HEAD, operation: "HeadObject", key: key)
        let response = try await send(request)
        guard response.isSuccess else {
            if response.status == .notFound { return nil }
            throw failure(response, request)
        }
        guard let size = response.headers.first(name: "Content-Length").flatMap({ Int($0) }) else {
            throw ObjectStoreError(.protocolFailure, "\(self): HeadObject of \"\(key)\" answered without a Content-Length", key: key)
        }
        return ObjectInfo(
            key: key, size: size, etag: response.headers.first(name: "ETag").map(Self.unquoted),
            lastModified: response.headers.first(name: "Last-Modified").flatMap(S3Timestamp.httpDate)
        )
    }

    package func list(prefix: String, continuation: String?, limit: Int) async throws -> ObjectListing {
        var request = S3Request(.GET, operation: "ListObjectsV2", key: nil)
        request.query = [("list-type", "2"), ("prefix", configuration.prefix + prefix), ("max-keys", "\(min(max(limit, 1), 1000))")]
        if let continuation { request.query.append(("continuation-token", continuation)) }
        let response = try await send(request)
        guard response.isSuccess else { throw failure(response, request) }
        let root = try parseXML(response, request, expecting: "ListBucketResult")
        var objects: [ObjectInfo] = []
        for entry in root.children("Contents") {
            guard let fullKey = entry["Key"], fullKey.hasPrefix(configuration.prefix), let size = entry["Size"].flatMap({ Int($0) }) else {
                continue
            }
            objects.append(
                ObjectInfo(
                    key: String(fullKey.dropFirst(configuration.prefix.count)), size: size, etag: entry["ETag"].map(Self.unquoted),
                    lastModified: entry["LastModified"].flatMap(S3Timestamp.iso8601)
                )
            )
        }
        let truncated = root["IsTruncated"] == "true"
        return ObjectListing(objects: objects, continuation: truncated ? root["NextContinuationToken"].flatMap { $0.isEmpty ? nil : $0 } : nil)
    }

    package func delete(_ keys: [String]) async throws {
        for key in keys { try ObjectKey.validate(key) }
        var start = 0
        while start < keys.count {
            let batch = Array(keys[start..<min(start + 1000, keys.count)])
            try await deleteBatch(batch)
            start += batch.count
        }
    }

    /// Creates the bucket; one that already exists is fine. For tests and first-time setup.
    package func createBucketIfNeeded() async throws {
        var request = S3Request(.PUT, operation: "CreateBucket", key: nil)
        if configuration.region != "us-east-1" {
            let xml =
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                + "<LocationConstraint>\(S3XML.escape(configuration.region))</LocationConstraint></CreateBucketConfiguration>"
            request.setBody(ByteBuffer(string: xml))
        }
        let response = try await send(request)
        if response.isSuccess || response.errorCode == "BucketAlreadyOwnedByYou" { return }
        if response.errorCode == "BucketAlreadyExists" {
            // Someone owns it; requests will tell (403) if it is not us.
            logger.warning("Bucket already exists, owned by another account", metadata: [S3LogKeys.endpoint: "\(configuration.endpoint)"])
            return
        }
        throw failure(response, request)
    }

    // MARK: Multi-object delete

    /// Deletes up to 1000 keys with one `POST ?delete`. Keys the server reports as transiently
    /// failed are sent again (with backoff); `NoSuchKey` counts as deleted.
    func deleteBatch(_ keys: [String]) async throws {
        var pending = keys
        var generator = SystemRandomNumberGenerator()
        for attempt in 1...max(configuration.maxAttempts, 1) {
            if attempt > 1 { try await Task.sleep(for: backoff.delay(afterAttempt: attempt - 1, using: &generator)) }
            var xml = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
            for key in pending { xml += "<Object><Key>\(S3XML.escape(configuration.prefix + key))</Key></Object>" }
            xml += "</Delete>"
            var request = S3Request(.POST, operation: "DeleteObjects", key: nil)
            request.query = [("delete", "")]
            request.setBody(ByteBuffer(string: xml))
            request.headers.add(name: "Content-MD5", value: Data(Insecure.MD5.hash(data: Array(xml.utf8))).base64EncodedString())
            request.headers.add(name: "Content-Type", value: "application/xml")
            let response = try await send(request)
            guard response.isSuccess else { throw failure(response, request) }
            let root = try parseXML(response, request, expecting: "DeleteResult")
            let failed = root.children("Error").compactMap { error -> (key: String, code: String, message: String)? in
                let code = error["Code"] ?? "Unknown"
                guard code != "NoSuchKey", let fullKey = error["Key"] else { return nil }
                let key = fullKey.hasPrefix(configuration.prefix) ? String(fullKey.dropFirst(configuration.prefix.count)) : fullKey
                return (key, code, error["Message"] ?? "")
            }
            let permanent = failed.filter { !S3Retry.transientCodes.contains($0.code) }
            if !permanent.isEmpty {
                let shown = permanent.prefix(5).map { "\"\($0.key)\" (\($0.code): \($0.message))" }.joined(separator: ", ")
                let code: ObjectStoreError.Code = permanent.contains { $0.code == "AccessDenied" } ? .accessDenied : .protocolFailure
                let advice = code == .accessDenied ? "; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and the bucket policy" : ""
                throw ObjectStoreError(
                    code, "\(self) could not delete \(permanent.count) of \(keys.count) keys: \(shown)\(advice)", key: permanent.first?.key
                )
            }
            if failed.isEmpty { return }
            pending = failed.map(\.key)
            logger.warning(
                "Some deletes failed transiently; retrying them",
                metadata: [S3LogKeys.attempt: "\(attempt)", S3LogKeys.count: "\(pending.count)", S3LogKeys.errorCode: "\(failed[0].code)"]
            )
        }
        throw ObjectStoreError(
            .unavailable,
            "\(self) kept failing to delete \(pending.count) keys (first \"\(pending[0])\") after \(configuration.maxAttempts) attempts; "
                + "check that the store at \(configuration.endpoint) is healthy",
            key: pending.first
        )
    }

    static func unquoted(_ etag: String) -> String {
        etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }
}

/// Metadata keys of the S3 client's log lines.
enum S3LogKeys {
    static let bucket = "amq.s3.bucket"
    static let endpoint = "amq.s3.endpoint"
    static let operation = "amq.s3.operation"
    static let key = "amq.object.key"
    static let attempt = "amq.s3.attempt"
    static let status = "http.status"
    static let errorCode = "amq.s3.error_code"
    static let count = "amq.s3.count"
    static let uploadID = "amq.s3.upload_id"
    static let bytes = "amq.bytes"
}
