import Foundation

/// A cluster's object store, as its URL names it:
/// - `file:///abs/path` — a local directory (the embedded default);
/// - `s3://bucket[/prefix][?endpoint=URL&region=R&addressing=path|virtual]` — any S3-compatible
///   store; credentials and missing settings come from the standard `AWS_*` variables;
/// - `memory://name` — in-process, for tests.
package enum ObjectStoreURL: Sendable, Equatable {
    case local(path: String)
    case s3(S3Configuration)
    case memory(name: String)

    static let example = "write file:///var/lib/amq/objects or s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1"

    /// Parses `text`, taking credentials and defaults from `environment`.
    package init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ObjectStoreError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw ObjectStoreError(.invalidConfiguration, "object store URL \"\(text)\" is malformed; \(Self.example)")
        }
        switch scheme {
        case "file":
            guard components.path.hasPrefix("/"), components.host?.isEmpty ?? true else {
                throw ObjectStoreError(.invalidConfiguration, "object store URL \"\(text)\" needs an absolute path; \(Self.example)")
            }
            self = .local(path: components.path)
        case "s3":
            self = .s3(try S3Configuration(components, text: text, environment: environment))
        case "memory":
            self = .memory(name: components.host ?? "")
        default:
            throw ObjectStoreError(.invalidConfiguration, "object store URL \"\(text)\" has unsupported scheme \"\(scheme)\"; \(Self.example)")
        }
    }
}

/// Everything the S3 client needs to reach one bucket.
package struct S3Configuration: Sendable, Equatable {
    package enum Addressing: String, Sendable { case path, virtual }

    package var bucket: String
    /// Key prefix inside the bucket, empty or ending in `/`.
    package var prefix: String
    /// Scheme, host and port, no path: `http://127.0.0.1:9000`.
    package var endpoint: String
    package var region: String
    package var addressing: Addressing
    package var credentials: S3Credentials?
    /// Objects at least this large go up as multipart uploads.
    package var multipartThreshold = 16 << 20
    package var partSize = 8 << 20
    /// Attempts per request, the first included.
    package var maxAttempts = 6
    package var requestTimeout: Duration = .seconds(30)

    package init(
        bucket: String, prefix: String = "", endpoint: String, region: String = "us-east-1", addressing: Addressing = .path,
        credentials: S3Credentials?
    ) {
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
        self.addressing = addressing
        self.credentials = credentials
    }

    init(_ components: URLComponents, text: String, environment: [String: String]) throws(ObjectStoreError) {
        guard let bucket = components.host, !bucket.isEmpty else {
            throw ObjectStoreError(.invalidConfiguration, "object store URL \"\(text)\" names no bucket; \(ObjectStoreURL.example)")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let known: Set<String> = ["endpoint", "region", "addressing"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw ObjectStoreError(
                .invalidConfiguration, "object store URL \"\(text)\" has unknown setting \"\(unknown)\"; known: endpoint, region, addressing"
            )
        }
        let region = query["region"] ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        let explicitEndpoint = query["endpoint"] ?? environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"]
        var endpoint = "https://s3.\(region).amazonaws.com"
        if let explicitEndpoint {
            guard let url = URLComponents(string: explicitEndpoint), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
                let host = url.host, !host.isEmpty
            else {
                throw ObjectStoreError(
                    .invalidConfiguration, "endpoint \"\(explicitEndpoint)\" in the object store URL is not an http(s) URL; \(ObjectStoreURL.example)"
                )
            }
            endpoint = "\(scheme)://\(host.contains(":") ? "[\(host)]" : host)" + (url.port.map { ":\($0)" } ?? "")
        }
        // Custom endpoints (SeaweedFS, MinIO, moto) are usually reached by path; AWS by host name.
        let addressing: Addressing
        switch query["addressing"] {
        case nil: addressing = explicitEndpoint == nil ? .virtual : .path
        case .some(let value):
            guard let parsed = Addressing(rawValue: value) else {
                throw ObjectStoreError(.invalidConfiguration, "addressing \"\(value)\" in the object store URL must be path or virtual")
            }
            addressing = parsed
        }
        var prefix = components.path
        while prefix.hasPrefix("/") { prefix.removeFirst() }
        if !prefix.isEmpty, !prefix.hasSuffix("/") { prefix += "/" }
        self.init(
            bucket: bucket, prefix: prefix, endpoint: endpoint, region: region, addressing: addressing,
            credentials: S3Credentials(environment: environment)
        )
    }
}

/// AWS credentials; never printed.
package struct S3Credentials: Sendable, Equatable, CustomStringConvertible {
    package var accessKeyID: String
    package var secretAccessKey: String
    package var sessionToken: String?

    package init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; nil when unset.
    package init?(environment: [String: String]) {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty, let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
            return nil
        }
        self.init(accessKeyID: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
    }

    package var description: String { "S3Credentials(\(accessKeyID), <redacted>)" }
}
