import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An object store in a local directory, the embedded default: each object is a file at its key's
/// path. Writes go to a temporary file that is fsynced and then renamed into place (or hard-linked,
/// for only-if-absent, which fails atomically when the name is taken), and the directory is
/// fsynced, so a crash leaves the old object or the new one, never a torn one.
package struct LocalDirectoryStore: ObjectStore {
    package let root: String
    private let threadPool: NIOThreadPool

    package init(root: String, threadPool: NIOThreadPool = .singleton) throws(ObjectStoreError) {
        var root = root
        while root.count > 1, root.hasSuffix("/") { root.removeLast() }
        self.root = root
        self.threadPool = threadPool
        do {
            try FileManager.default.createDirectory(atPath: root + "/" + Self.temporaryDirectory, withIntermediateDirectories: true)
        } catch {
            throw ObjectStoreError(.io, "cannot create the object store directory \(root): \(error.localizedDescription)", underlying: error)
        }
    }

    package var description: String { "file://\(root)" }

    /// Where writes are staged; on the same file system as the objects so rename is atomic. Its
    /// name starts with a dot, which no valid key segment list can reach by listing.
    static let temporaryDirectory = ".amq-tmp"

    // MARK: ObjectStore

    @discardableResult
    package func put(_ key: String, body: ByteBuffer, ifAbsent: Bool) async throws -> ObjectInfo {
        try ObjectKey.validate(key)
        let root = self.root
        return try await blocking { () throws(ObjectStoreError) in
            let path = Self.path(root, key)
            try Self.createParents(of: path, key: key)
            let temporary = "\(root)/\(Self.temporaryDirectory)/\(UUID().uuidString)"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw Self.posixError("create", temporary, key: key) }
            var closed = false
            defer {
                if !closed { close(fd) }
                unlink(temporary)  // after a rename or link it names nothing, or the spare link
            }
            try body.withUnsafeReadableBytes { (bytes) throws(ObjectStoreError) in
                var offset = 0
                while offset < bytes.count {
                    let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw Self.posixError("write", temporary, key: key)
                    }
                    offset += written
                }
            }
            guard fsync(fd) == 0 else { throw Self.posixError("fsync", temporary, key: key) }
            closed = true
            guard close(fd) == 0 else { throw Self.posixError("close", temporary, key: key) }
            if ifAbsent {
                // link(2) refuses an existing name atomically; rename(2) would replace it.
                if link(temporary, path) != 0 {
                    if errno == EEXIST { throw ObjectStoreError(.alreadyExists, "object \(key) already exists in file://\(root)", key: key) }
                    throw Self.posixError("link", path, key: key)
                }
            } else if rename(temporary, path) != 0 {
                throw Self.posixError("rename", path, key: key)
            }
            Self.syncDirectory(of: path)
            return try Self.info(root, key) ?? ObjectInfo(key: key, size: body.readableBytes)
        }
    }

    package func get(_ key: String, range: Range<Int>?) async throws -> ByteBuffer {
        try ObjectKey.validate(key)
        let root = self.root
        return try await blocking { () throws(ObjectStoreError) in
            let path = Self.path(root, key)
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                if errno == ENOENT || errno == ENOTDIR { throw ObjectStoreError(.notFound, "no object \(key) in file://\(root)", key: key) }
                throw Self.posixError("open", path, key: key)
            }
            defer { close(fd) }
            var status = stat()
            guard fstat(fd, &status) == 0 else { throw Self.posixError("stat", path, key: key) }
            let size = Int(status.st_size)
            let wanted = try Self.clip(range, size: size, key: key, store: "file://\(root)")
            var buffer = ByteBufferAllocator().buffer(capacity: wanted.count)
            var offset = wanted.lowerBound
            while offset < wanted.upperBound {
                let read = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted.upperBound - offset) { (pointer) throws(ObjectStoreError) -> Int in
                    let count = pread(fd, pointer.baseAddress!, wanted.upperBound - offset, off_t(offset))
                    if count < 0 { throw Self.posixError("read", path, key: key) }
                    return count
                }
                if read == 0 { break }  // truncated underneath us: return what is there
                offset += read
            }
            return buffer
        }
    }

    package func head(_ key: String) async throws -> ObjectInfo? {
        try ObjectKey.validate(key)
        let root = self.root
        return try await blocking { () throws(ObjectStoreError) in try Self.info(root, key) }
    }

    package func list(prefix: String, continuation: String?, limit: Int) async throws -> ObjectListing {
        let root = self.root
        return try await blocking { () throws(ObjectStoreError) in
            // Walk only the directory the prefix's complete segments name.
            let base = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
            var keys: [String] = []
            Self.walk(root: root, relative: base) { key in
                if key.hasPrefix(prefix), ObjectKey.isAfter(key, continuation) { keys.append(key) }
            }
            keys.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            let page = keys.prefix(max(limit, 1))
            var objects: [ObjectInfo] = []
            for key in page {
                if let info = try Self.info(root, key) { objects.append(info) }
            }
            return ObjectListing(objects: objects, continuation: keys.count > page.count ? page.last : nil)
        }
    }

    package func delete(_ keys: [String]) async throws {
        for key in keys { try ObjectKey.validate(key) }
        let root = self.root
        try await blocking { () throws(ObjectStoreError) in
            for key in keys {
                let path = Self.path(root, key)
                if unlink(path) != 0, errno != ENOENT, errno != ENOTDIR { throw Self.posixError("unlink", path, key: key) }
                Self.removeEmptyParents(of: path, root: root)
            }
        }
    }

    // MARK: Helpers

    /// Runs blocking file system calls off the concurrency pool.
    private func blocking<T: Sendable>(_ work: @Sendable @escaping () throws(ObjectStoreError) -> T) async throws -> T {
        try await threadPool.runIfActive { try work() }
    }

    static func path(_ root: String, _ key: String) -> String { root + "/" + key }

    static func info(_ root: String, _ key: String) throws(ObjectStoreError) -> ObjectInfo? {
        var status = stat()
        guard stat(path(root, key), &status) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw posixError("stat", path(root, key), key: key)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        let seconds = Double(status.st_mtim.tv_sec) + Double(status.st_mtim.tv_nsec) / 1e9
        // Size, inode and change time identify a version: a replaced object gets a new inode.
        let etag = String(format: "%llx-%llx-%llx", UInt64(status.st_size), UInt64(status.st_ino), UInt64(status.st_ctim.tv_nsec) ^ UInt64(status.st_ctim.tv_sec))
        return ObjectInfo(key: key, size: Int(status.st_size), etag: etag, lastModified: Date(timeIntervalSince1970: seconds))
    }

    /// The byte range to read of an object of `size` bytes, with S3's rules.
    static func clip(_ range: Range<Int>?, size: Int, key: String, store: String) throws(ObjectStoreError) -> Range<Int> {
        guard let range else { return 0..<size }
        guard range.lowerBound >= 0, range.lowerBound < size, !range.isEmpty else {
            throw ObjectStoreError(.invalidRange, "range \(range) selects nothing of \(key) (\(size) bytes) in \(store)", key: key)
        }
        return range.lowerBound..<min(range.upperBound, size)
    }

    static func createParents(of path: String, key: String) throws(ObjectStoreError) {
        let parent = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw ObjectStoreError(.io, "cannot create directory \(parent) for \(key): \(error.localizedDescription)", key: key, underlying: error)
        }
    }

    static func syncDirectory(of path: String) {
        let fd = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    static func removeEmptyParents(of path: String, root: String) {
        var directory = (path as NSString).deletingLastPathComponent
        while directory.count > root.count, directory.hasPrefix(root + "/"), rmdir(directory) == 0 {
            directory = (directory as NSString).deletingLastPathComponent
        }
    }

    /// Calls `visit` with every regular file's key under `relative`, skipping dot-directories.
    static func walk(root: String, relative: String, _ visit: (String) -> Void) {
        let directory = relative.isEmpty ? root : root + "/" + relative
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for entry in entries where !entry.hasPrefix(".") {
            let key = relative.isEmpty ? entry : relative + "/" + entry
            var status = stat()
            guard lstat(root + "/" + key, &status) == 0 else { continue }
            switch status.st_mode & S_IFMT {
            case S_IFDIR: walk(root: root, relative: key, visit)
            case S_IFREG: visit(key)
            default: continue
            }
        }
    }

    static func posixError(_ operation: String, _ path: String, key: String) -> ObjectStoreError {
        let code = errno
        let reason = String(cString: strerror(code))
        let hint = code == ENOSPC ? "; free disk space" : code == EACCES || code == EROFS ? "; check the directory's permissions" : ""
        return ObjectStoreError(.io, "\(operation) \(path) failed: \(reason)\(hint)", key: key)
    }
}
