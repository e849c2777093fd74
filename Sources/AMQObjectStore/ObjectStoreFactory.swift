import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

extension ObjectStoreURL {
    /// The store this URL names.
    package func makeStore(httpClient: HTTPClient = .shared, logger: Logger) throws(ObjectStoreError) -> any ObjectStore {
        switch self {
        case .local(let path): try LocalDirectoryStore(root: path)
        case .s3(let configuration): S3ObjectStore(configuration: configuration, httpClient: httpClient, logger: logger)
        case .memory(let name): InMemoryObjectStore(name: name)
        }
    }
}

extension ObjectStore {
    /// Writes, reads back, lists and deletes a probe object, so a cluster never starts on a store
    /// it cannot use. Throws the store's own error, which says what to fix.
    package func checkUsable() async throws {
        let key = "amq-probe/\(UUID().uuidString.lowercased())"
        let body = ByteBuffer(string: "amq probe \(Date())")
        try await put(key, body: body, ifAbsent: true)
        let read = try await get(key)
        guard read == body else {
            throw ObjectStoreError(.protocolFailure, "\(description) returned other bytes than were written to \(key)", key: key)
        }
        _ = try await list(prefix: "amq-probe/", continuation: nil, limit: 1)
        try await delete([key])
    }
}
