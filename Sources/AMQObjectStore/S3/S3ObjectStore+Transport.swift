import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

extension S3ObjectStore {
    /// The URL, `Host` and signing path of a call on `key` (relative to the prefix; nil for the bucket).
    ///
    /// Path style: `endpoint/bucket/prefix+key`. Virtual-host style: `bucket.host/prefix+key`.
    package func target(key: String?, query: [(String, String)] = []) throws(ObjectStoreError) -> S3Target {
        let endpoint = try endpoint.get()
        let objectPath = key.map { "/" + configuration.prefix + $0 } ?? ""
        let path: String
        let host: String
        switch configuration.addressing {
        case .path:
            path = "/\(configuration.bucket)\(objectPath)"
            host = endpoint.authority(subdomain: nil)
        case .virtual:
            path = objectPath.isEmpty ? "/" : objectPath
            host = endpoint.authority(subdomain: configuration.bucket)
        }
        let queryString = query.isEmpty ? "" : "?" + SigV4.canonicalQuery(query)
        return S3Target(url: "\(endpoint.scheme)://\(host)\(SigV4.encodePath(path))\(queryString)", host: host, path: path)
    }

    /// Sends `request` until it gets an answer that is not transient or the attempts run out.
    /// - Returns: The first success or final failure; the caller maps failures to errors.
    /// - Throws: ``ObjectStoreError/Code/unavailable`` when every attempt failed transiently;
    ///   `CancellationError` when the task is cancelled.
    func send(_ request: S3Request) async throws -> S3Response {
        let target = try target(key: request.key, query: request.query)
        var logger = logger
        logger[metadataKey: S3LogKeys.operation] = "\(request.operation)"
        if let key = request.key { logger[metadataKey: S3LogKeys.key] = "\(key)" }
        let attempts = max(configuration.maxAttempts, 1)
        var generator = SystemRandomNumberGenerator()
        var lastFailure = ""
        var lastError: (any Error)?
        for attempt in 1...attempts {
            if attempt > 1 {
                let delay = backoff.delay(afterAttempt: attempt - 1, using: &generator)
                logger.warning(
                    "S3 request failed; retrying",
                    metadata: [S3LogKeys.attempt: "\(attempt - 1)", "amq.s3.failure": "\(lastFailure)", "amq.s3.retry_in": "\(delay)"]
                )
                try await Task.sleep(for: delay)
            }
            do {
                let response = try await attemptOnce(request, target: target)
                logger.debug("S3 request answered", metadata: [S3LogKeys.attempt: "\(attempt)", S3LogKeys.status: "\(response.status.code)"])
                let transient =
                    !response.isSuccess
                    && (S3Retry.isTransient(status: response.status.code, code: response.errorCode)
                        && (response.errorCode != "ConditionalRequestConflict" || request.retriesConditionalConflicts))
                guard transient else { return response }
                lastFailure = response.summary
                lastError = nil
            } catch let error where S3Retry.isTransient(error) && !Task.isCancelled {
                lastFailure = "\(error)"
                lastError = error
            }
        }
        logger.error("S3 request failed on every attempt", metadata: [S3LogKeys.attempt: "\(attempts)", "amq.s3.failure": "\(lastFailure)"])
        throw ObjectStoreError(
            .unavailable,
            "\(self) is unavailable: \(request.operation)\(request.key.map { " of \"\($0)\"" } ?? "") failed \(attempts) times, "
                + "last with \(lastFailure); check that the store at \(configuration.endpoint) is up and reachable",
            key: request.key, underlying: lastError
        )
    }

    /// One signed attempt, bounded by the request timeout from connecting to the body's last byte.
    private func attemptOnce(_ request: S3Request, target: S3Target) async throws -> S3Response {
        var headers = request.headers
        headers.replaceOrAdd(name: "Host", value: target.host)
        if let signer {
            headers =
                signer.sign(
                    method: request.method.rawValue, path: target.path, query: request.query, headers: headers,
                    payload: .sha256(request.payloadHash), date: Date()
                ).headers
        }
        var prepared = HTTPClientRequest(url: target.url)
        prepared.method = request.method
        prepared.headers = headers
        if let body = request.body { prepared.body = .bytes(body) }
        let http = prepared
        let timeout = configuration.requestTimeout
        let client = httpClient
        return try await withThrowingTaskGroup(of: S3Response?.self) { group in
            group.addTask {
                let response = try await client.execute(http, timeout: TimeAmount(timeout))
                let limit =
                    request.method == .GET && request.responseLimit == .max
                    ? response.headers.first(name: "Content-Length").flatMap { Int($0) }.map { max($0, 0) } ?? Int(Int32.max)
                    : request.responseLimit
                let body = try await response.body.collect(upTo: limit)
                let isSuccess = (200..<300).contains(response.status.code)
                return S3Response(
                    status: response.status, headers: response.headers, body: body, parsesErrorBody: !isSuccess || request.errorsMayComeWith200
                )
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else { throw HTTPClientError.deadlineExceeded }
            return response
        }
    }

    // MARK: Errors

    /// The error for a final (non-transient) failure answer.
    func failure(_ response: S3Response, _ request: S3Request) -> ObjectStoreError {
        let what = "\(request.operation)\(request.key.map { " of \"\($0)\"" } ?? "")"
        let detail = response.summary + (response.errorMessage.map { ": \($0)" } ?? "")
        let bucket = configuration.bucket
        switch (response.status.code, response.errorCode) {
        case (_, "NoSuchBucket"):
            return noSuchBucket(request.key)
        case (403, _):
            let advice =
                configuration.credentials == nil
                ? "no credentials are set; export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
                : "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) and the bucket's policy"
            return ObjectStoreError(.accessDenied, "\(self) refused \(what) (\(detail)); \(advice)", key: request.key)
        case (404, "NoSuchKey"):
            return notFound(request.key ?? "")
        case (404, nil) where request.key != nil:
            return notFound(request.key ?? "")
        case (301, _), (_, "PermanentRedirect"), (_, "AuthorizationHeaderMalformed"), (_, "IllegalLocationConstraintException"):
            let region = response.headers.first(name: "x-amz-bucket-region")
            let advice =
                region.map { "the bucket is in \($0); set region=\($0) in the URL or AWS_REGION" } ?? "check the region and endpoint in the URL"
            return ObjectStoreError(.invalidConfiguration, "\(self) was redirected on \(what) (\(detail)); \(advice)", key: request.key)
        case (_, "InvalidBucketName"):
            return ObjectStoreError(
                .invalidConfiguration, "\(self): \"\(bucket)\" is not a valid bucket name (\(detail)); fix the URL", key: request.key
            )
        default:
            return ObjectStoreError(.protocolFailure, "\(self): \(what) failed with \(detail)", key: request.key)
        }
    }

    /// ``failure(_:_:)`` for writes. Some servers (SeaweedFS without admin credentials) answer a
    /// write into a missing bucket with 403 AccessDenied rather than 404 NoSuchBucket; a HEAD on
    /// the bucket tells the two apart, so the message points at the real fix.
    func writeFailure(_ response: S3Response, _ request: S3Request) async -> ObjectStoreError {
        guard response.status == .forbidden, response.errorCode == "AccessDenied" || response.errorCode == nil else {
            return failure(response, request)
        }
        var probe = S3Request(.HEAD, operation: "HeadBucket", key: nil)
        probe.responseLimit = 0
        if let answer = try? await send(probe), answer.status == .notFound { return noSuchBucket(request.key) }
        return failure(response, request)
    }

    func noSuchBucket(_ key: String?) -> ObjectStoreError {
        let bucket = configuration.bucket
        return ObjectStoreError(
            .noSuchBucket, "\(self): bucket \"\(bucket)\" does not exist at \(configuration.endpoint); create bucket \(bucket) or fix the URL",
            key: key
        )
    }

    func notFound(_ key: String) -> ObjectStoreError {
        ObjectStoreError(.notFound, "\(self) has no object \"\(key)\"", key: key)
    }

    func alreadyExists(_ key: String) -> ObjectStoreError {
        ObjectStoreError(.alreadyExists, "\(self) already has an object \"\(key)\"; it was not replaced", key: key)
    }

    func invalidRange(_ key: String, _ range: Range<Int>) -> ObjectStoreError {
        ObjectStoreError(.invalidRange, "\(self): bytes \(range.lowerBound)..<\(range.upperBound) select nothing of \"\(key)\"", key: key)
    }

    /// The body's root element, which must be called `root`.
    func parseXML(_ response: S3Response, _ request: S3Request, expecting root: String) throws -> S3XMLNode {
        do {
            let node = try S3XML.parse(response.body)
            guard node.name == root else {
                throw S3XML.ParseError(reason: "root element is <\(node.name)>, expected <\(root)>", offset: 0)
            }
            return node
        } catch {
            throw ObjectStoreError(
                .protocolFailure, "\(self): \(request.operation) answered a body that is not S3 XML (\(error))", key: request.key,
                underlying: error
            )
        }
    }
}
