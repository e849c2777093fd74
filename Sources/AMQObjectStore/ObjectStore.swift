import Foundation
import NIOCore

/// Where a stream's bytes live: S3, a local directory, or memory (tests). Keys are `/`-separated
/// paths relative to the store's prefix; the store adds and strips the prefix itself.
///
/// Every implementation has the same semantics, checked by one conformance suite:
/// - `put` replaces an object whole, atomically: a reader sees the old bytes or the new ones.
///   With `ifAbsent` it fails with ``ObjectStoreError/Code/alreadyExists`` when the key exists.
/// - `get` of a missing key fails with ``ObjectStoreError/Code/notFound``; a range past the end
///   is clipped to the object (an empty object or a range starting past the end is `invalidRange`).
/// - `list` returns keys in ascending byte order, at most `limit` per page.
/// - `delete` of a missing key succeeds.
package protocol ObjectStore: Sendable, CustomStringConvertible {
    /// The store's URL, credentials left out, for logs and errors.
    var description: String { get }

    /// Writes `body` under `key`; returns what was stored.
    @discardableResult
    func put(_ key: String, body: ByteBuffer, ifAbsent: Bool) async throws -> ObjectInfo

    /// Reads the whole object, or `range` (byte offsets, upper bound exclusive) of it.
    func get(_ key: String, range: Range<Int>?) async throws -> ByteBuffer

    /// Size and version of `key`, or nil when there is no such object.
    func head(_ key: String) async throws -> ObjectInfo?

    /// One page of keys under `prefix`, after `continuation` (from the previous page).
    func list(prefix: String, continuation: String?, limit: Int) async throws -> ObjectListing

    /// Deletes `keys`; keys that do not exist are not an error.
    func delete(_ keys: [String]) async throws
}

extension ObjectStore {
    @discardableResult
    package func put(_ key: String, body: ByteBuffer) async throws -> ObjectInfo {
        try await put(key, body: body, ifAbsent: false)
    }

    package func get(_ key: String) async throws -> ByteBuffer {
        try await get(key, range: nil)
    }

    /// Every key under `prefix`, following continuation tokens to the end.
    package func listAll(prefix: String, pageSize: Int = 1000) async throws -> [ObjectInfo] {
        var objects: [ObjectInfo] = []
        var continuation: String?
        repeat {
            let page = try await list(prefix: prefix, continuation: continuation, limit: pageSize)
            objects += page.objects
            continuation = page.continuation
        } while continuation != nil
        return objects
    }
}

/// What a store knows of one object.
package struct ObjectInfo: Sendable, Hashable {
    package var key: String
    package var size: Int
    /// An opaque version tag (S3's ETag; a content hash elsewhere), quotes stripped.
    package var etag: String?
    package var lastModified: Date?

    package init(key: String, size: Int, etag: String? = nil, lastModified: Date? = nil) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// One page of a listing; `continuation` is nil on the last page.
package struct ObjectListing: Sendable, Hashable {
    package var objects: [ObjectInfo]
    package var continuation: String?

    package init(objects: [ObjectInfo], continuation: String?) {
        self.objects = objects
        self.continuation = continuation
    }
}

/// The object store module's one error type: what failed, on which store and key, and why.
package struct ObjectStoreError: Error, Sendable, CustomStringConvertible {
    package enum Code: String, Sendable {
        /// No object under the key.
        case notFound
        /// `put(ifAbsent:)` found the key taken.
        case alreadyExists
        /// The bucket does not exist.
        case noSuchBucket
        /// Credentials refused or missing (S3 403).
        case accessDenied
        /// A byte range that selects nothing.
        case invalidRange
        /// The store kept failing (5xx, SlowDown, connection errors, timeouts) after every retry.
        case unavailable
        /// The URL or environment does not describe a usable store.
        case invalidConfiguration
        /// A local file system error.
        case io
        /// The server answered something we do not understand.
        case protocolFailure
    }

    package var code: Code
    package var message: String
    package var key: String?
    package var underlying: (any Error)?

    package init(_ code: Code, _ message: String, key: String? = nil, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.key = key
        self.underlying = underlying
    }

    package var description: String { message }

    /// Whether trying again later may succeed.
    package var isTransient: Bool { code == .unavailable }
}

/// Keys are relative paths: no empty segments, no segment starting with `.` (the local store keeps
/// its staging area there), no leading `/`, printable ASCII without `\`. Every store checks them the same way, so a key valid on one is valid on all.
package enum ObjectKey {
    package static func validate(_ key: String) throws(ObjectStoreError) {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        let printable = key.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }
        guard !key.isEmpty, key.utf8.count <= 900, printable,
            segments.allSatisfy({ !$0.isEmpty && !$0.hasPrefix(".") })
        else {
            throw ObjectStoreError(.invalidConfiguration, "object key \"\(key)\" is not a valid relative path", key: key)
        }
    }
}

extension ObjectKey {
    /// Whether `key` sorts after `continuation` in S3's order (bytes of UTF-8); true without one.
    package static func isAfter(_ key: String, _ continuation: String?) -> Bool {
        guard let continuation else { return true }
        return continuation.utf8.lexicographicallyPrecedes(key.utf8)
    }
}
