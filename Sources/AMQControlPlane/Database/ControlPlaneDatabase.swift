import Foundation
import GRDB

/// The topology and metadata store: one SQLite file in WAL mode, shared by the controller and
/// every `amq` CLI process.
///
/// Open it once per process (GRDB's rule 1). Every change runs in one IMMEDIATE transaction, so
/// concurrent writers from several processes queue on SQLite's lock (with a busy timeout) and
/// never interleave: a read-modify-write inside ``write(_:)`` cannot lose an update.
package struct ControlPlaneDatabase: Sendable {
    package let path: String
    let pool: DatabasePool

    /// Opens (creating if needed) and migrates the database at `path`.
    /// - Parameter busyTimeout: how long a writer waits for another process's transaction.
    package init(path: String, busyTimeout: TimeInterval = 10) throws(ControlPlaneError) {
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ControlPlaneError(
                .databaseFailure,
                "cannot create directory \(directory.path) for database \(path): \(error.localizedDescription)",
                underlying: error
            )
        }
        try Self.refuseForeignFile(at: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.label = "amq.control-plane"
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.writeWithoutTransaction { db in
                // A commit the controller has answered (a range of offsets handed out) must
                // survive a power loss: GRDB sets the pool's one writer to NORMAL, which in WAL
                // mode can roll the last commits back, and next_offset would go backwards. FULL
                // syncs the WAL on every commit (docs/decisions.md has the cost). Readers never
                // commit, so only the writer needs it.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                try Self.refuseForeignSchema(db, path: path)
            }
            try Migrations.migrator.migrate(pool)
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    /// Runs `body` in one IMMEDIATE write transaction.
    package func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch let error as ControlPlaneError {
            throw error
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    /// Runs `body` in one IMMEDIATE write transaction and rolls it back, returning what `body`
    /// returned: a dry run of a change through exactly the code that would make it (Kafka's
    /// `validateOnly`), so validation and placement errors are the real ones.
    package func writeAndRollBack<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .rollback
                }
                guard let result else {
                    throw ControlPlaneError(.databaseFailure, "a dry-run transaction on \(path) returned nothing")
                }
                return result
            }
        } catch let error as ControlPlaneError {
            throw error
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    /// Runs `body` on a read-only snapshot.
    package func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as ControlPlaneError {
            throw error
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    /// A file that exists, is not empty and does not start with SQLite's magic is not ours.
    private static func refuseForeignFile(at path: String) throws(ControlPlaneError) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        if !header.isEmpty && header != Data("SQLite format 3\0".utf8) {
            throw notOurs(path)
        }
    }

    /// A SQLite database with someone else's application id or tables is refused, not migrated.
    private static func refuseForeignSchema(_ db: Database, path: String) throws {
        let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        if applicationID == Migrations.applicationID { return }
        let tables = try String.fetchAll(
            db,
            sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        if applicationID != 0 || !tables.isEmpty {
            throw notOurs(path)
        }
    }

    private static func notOurs(_ path: String) -> ControlPlaneError {
        ControlPlaneError(
            .notAnAMQDatabase,
            "\(path) is not an amq database; point --db (or AMQ_DB) at the file 'amq cluster create' made"
        )
    }

    static func translate(_ error: any Error, path: String) -> ControlPlaneError {
        if let error = error as? ControlPlaneError { return error }
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                return ControlPlaneError(
                    .databaseLocked,
                    "database \(path) is locked by another process; retry, or stop the process holding it",
                    underlying: error
                )
            case .SQLITE_NOTADB:
                return notOurs(path)
            case .SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_PERM:
                return ControlPlaneError(
                    .databaseFailure,
                    "cannot open database \(path) for writing; check the path and its permissions",
                    underlying: error
                )
            default:
                break
            }
        }
        return ControlPlaneError(
            .databaseFailure,
            "database \(path) failed: \(error)",
            underlying: error
        )
    }
}
