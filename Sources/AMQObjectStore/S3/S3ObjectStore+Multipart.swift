import Logging
import NIOCore
import NIOHTTP1

extension S3ObjectStore {
    /// S3's smallest part (all but the last) and largest part count.
    static let minimumPartSize = 5 << 20
    static let maximumPartCount = 10_000
    /// Parts in flight at once per upload.
    static let partConcurrency = 4

    /// The part size for a `size`-byte object: the configured one, raised to S3's 5 MiB minimum
    /// and as far as needed to stay within 10 000 parts.
    func partSize(forObjectOf size: Int) -> Int {
        let needed = (size + Self.maximumPartCount - 1) / Self.maximumPartCount
        return max(configuration.partSize, Self.minimumPartSize, needed)
    }

    /// Create, upload the parts (a few at a time), complete; abort when anything fails.
    ///
    /// A conditional complete that races another writer (409 `ConditionalRequestConflict`, or the
    /// upload vanishing as 404 `NoSuchUpload`) must start over with a new upload, as S3 documents;
    /// that is retried like any transient failure.
    func putMultipart(_ key: String, body: ByteBuffer, ifAbsent: Bool) async throws -> ObjectInfo {
        let attempts = max(configuration.maxAttempts, 1)
        var generator = SystemRandomNumberGenerator()
        for attempt in 1...attempts {
            if attempt > 1 { try await Task.sleep(for: backoff.delay(afterAttempt: attempt - 1, using: &generator)) }
            if let info = try await uploadOnce(key, body: body, ifAbsent: ifAbsent) { return info }
            logger.warning(
                "Multipart upload raced a concurrent write; starting over",
                metadata: [S3LogKeys.key: "\(key)", S3LogKeys.attempt: "\(attempt)"]
            )
        }
        throw ObjectStoreError(
            .unavailable,
            "\(self) is unavailable: CompleteMultipartUpload of \"\(key)\" conflicted with concurrent writes \(attempts) times; try again later",
            key: key
        )
    }

    /// One multipart upload; nil when its completion conflicted and it should start over.
    private func uploadOnce(_ key: String, body: ByteBuffer, ifAbsent: Bool) async throws -> ObjectInfo? {
        var create = S3Request(.POST, operation: "CreateMultipartUpload", key: key)
        create.query = [("uploads", "")]
        create.headers.add(name: "Content-Type", value: "application/octet-stream")
        let created = try await send(create)
        guard created.isSuccess else { throw await writeFailure(created, create) }
        guard let uploadID = try parseXML(created, create, expecting: "InitiateMultipartUploadResult")["UploadId"], !uploadID.isEmpty else {
            throw ObjectStoreError(.protocolFailure, "\(self): CreateMultipartUpload of \"\(key)\" answered no UploadId", key: key)
        }
        logger.debug(
            "Multipart upload started",
            metadata: [S3LogKeys.key: "\(key)", S3LogKeys.uploadID: "\(uploadID)", S3LogKeys.bytes: "\(body.readableBytes)"]
        )
        do {
            let etags = try await uploadParts(key, uploadID: uploadID, body: body)
            let info = try await complete(key, uploadID: uploadID, etags: etags, size: body.readableBytes, ifAbsent: ifAbsent)
            if info == nil { await abort(key, uploadID: uploadID) }
            return info
        } catch {
            // Cancellation included: the abort then fails fast too, and the bucket's lifecycle
            // rule for incomplete uploads is the backstop.
            await abort(key, uploadID: uploadID)
            throw error
        }
    }

    /// Uploads every part, at most ``partConcurrency`` at a time; returns their ETags in order.
    private func uploadParts(_ key: String, uploadID: String, body: ByteBuffer) async throws -> [String] {
        let size = partSize(forObjectOf: body.readableBytes)
        let count = max((body.readableBytes + size - 1) / size, 1)
        var etags = [String](repeating: "", count: count)
        try await withThrowingTaskGroup(of: (Int, String).self) { group in
            var next = 0
            func addPart() {
                let index = next
                next += 1
                let offset = index * size
                let part = body.getSlice(at: body.readerIndex + offset, length: min(size, body.readableBytes - offset)) ?? ByteBuffer()
                group.addTask { (index, try await self.uploadPart(key, uploadID: uploadID, number: index + 1, body: part)) }
            }
            while next < min(count, Self.partConcurrency) { addPart() }
            while let (index, etag) = try await group.next() {
                etags[index] = etag
                if next < count { addPart() }
            }
        }
        return etags
    }

    private func uploadPart(_ key: String, uploadID: String, number: Int, body: ByteBuffer) async throws -> String {
        var request = S3Request(.PUT, operation: "UploadPart", key: key, body: body)
        request.query = [("partNumber", "\(number)"), ("uploadId", uploadID)]
        let response = try await send(request)
        guard response.isSuccess else { throw failure(response, request) }
        guard let etag = response.headers.first(name: "ETag"), !etag.isEmpty else {
            throw ObjectStoreError(.protocolFailure, "\(self): UploadPart \(number) of \"\(key)\" answered no ETag", key: key)
        }
        return etag
    }

    /// CompleteMultipartUpload; nil when it conflicted with a concurrent conditional write.
    private func complete(_ key: String, uploadID: String, etags: [String], size: Int, ifAbsent: Bool) async throws -> ObjectInfo? {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for (index, etag) in etags.enumerated() {
            xml += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\(S3XML.escape(etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        var request = S3Request(.POST, operation: "CompleteMultipartUpload", key: key, body: ByteBuffer(string: xml))
        request.query = [("uploadId", uploadID)]
        request.headers.add(name: "Content-Type", value: "application/xml")
        if ifAbsent { request.headers.add(name: "If-None-Match", value: "*") }
        // S3 may answer 200 and report a failure in the body, after the parts were combined.
        request.errorsMayComeWith200 = true
        let response = try await send(request)
        guard response.isSuccess else {
            if ifAbsent, response.status == .preconditionFailed { throw alreadyExists(key) }
            if response.errorCode == "ConditionalRequestConflict" || response.errorCode == "NoSuchUpload" { return nil }
            throw failure(response, request)
        }
        let result = try parseXML(response, request, expecting: "CompleteMultipartUploadResult")
        logger.debug("Multipart upload completed", metadata: [S3LogKeys.key: "\(key)", S3LogKeys.count: "\(etags.count)"])
        return ObjectInfo(key: key, size: size, etag: result["ETag"].map(Self.unquoted))
    }

    /// AbortMultipartUpload, best effort: a failure is logged, not thrown, so it cannot hide the
    /// error that made us abort.
    private func abort(_ key: String, uploadID: String) async {
        var request = S3Request(.DELETE, operation: "AbortMultipartUpload", key: key)
        request.query = [("uploadId", uploadID)]
        do {
            let response = try await send(request)
            if response.isSuccess || response.errorCode == "NoSuchUpload" { return }
            logger.warning(
                "Could not abort a multipart upload",
                metadata: [S3LogKeys.key: "\(key)", S3LogKeys.uploadID: "\(uploadID)", S3LogKeys.status: "\(response.summary)"]
            )
        } catch {
            logger.warning(
                "Could not abort a multipart upload", metadata: [S3LogKeys.key: "\(key)", S3LogKeys.uploadID: "\(uploadID)", "error": "\(error)"]
            )
        }
    }
}
