import AMQObjectStore
import NIOCore

/// An object store that counts its requests and body bytes by operation into a ledger, so the
/// report can price them. Failed requests count too: they are billed.
package struct MeteredObjectStore: ObjectStore {
    let base: any ObjectStore
    let ledger: TrafficLedger

    package init(_ base: any ObjectStore, ledger: TrafficLedger) {
        self.base = base
        self.ledger = ledger
    }

    package var description: String { base.description }

    package func put(_ key: String, body: ByteBuffer, ifAbsent: Bool) async throws -> ObjectInfo {
        ledger.add(.put, RequestCounts(requests: 1, bytes: Int64(body.readableBytes)))
        return try await base.put(key, body: body, ifAbsent: ifAbsent)
    }

    package func get(_ key: String, range: Range<Int>?) async throws -> ByteBuffer {
        do {
            let body = try await base.get(key, range: range)
            ledger.add(range == nil ? .get : .rangedGet, RequestCounts(requests: 1, bytes: Int64(body.readableBytes)))
            return body
        } catch {
            ledger.add(range == nil ? .get : .rangedGet, RequestCounts(requests: 1))
            throw error
        }
    }

    package func head(_ key: String) async throws -> ObjectInfo? {
        ledger.add(.head, RequestCounts(requests: 1))
        return try await base.head(key)
    }

    package func list(prefix: String, continuation: String?, limit: Int) async throws -> ObjectListing {
        ledger.add(.list, RequestCounts(requests: 1))
        return try await base.list(prefix: prefix, continuation: continuation, limit: limit)
    }

    package func delete(_ keys: [String]) async throws {
        // One multi-object DELETE per 1,000 keys, as the S3 store sends them.
        if !keys.isEmpty { ledger.add(.delete, RequestCounts(requests: Int64((keys.count + 999) / 1000))) }
        try await base.delete(keys)
    }
}
