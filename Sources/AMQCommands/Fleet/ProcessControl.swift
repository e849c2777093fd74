import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starting, finding and stopping the local fleet's background processes.
enum ProcessControl {
    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// glibc's POSIX_SPAWN_SETSID (since 2.26), which Swift does not import as a constant.
    static let spawnSetSID: Int16 = 0x80

    /// This binary, so the fleet runs the same version as the CLI that starts it.
    /// How a user types this `amq` in a shell: `amq` when that name on `PATH` is this binary,
    /// else its full path (as after `scripts/quickstart.sh`, which runs it from the build folder).
    static var commandName: String {
        let me = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().path
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("amq").path
            guard FileManager.default.isExecutableFile(atPath: candidate) else { continue }
            return URL(fileURLWithPath: candidate).resolvingSymlinksInPath().path == me ? "amq" : me
        }
        return me
    }

    static var executablePath: String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }

    /// Starts `arguments` as a detached background process in a session of its own (so a terminal's
    /// Ctrl-C does not reach it), stdin from /dev/null, stdout and stderr appended to `logFile`.
    static func spawnDetached(_ arguments: [String], logFile: String, environment: [String: String]) throws -> Int32 {
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of ours may leak into a daemon that outlives us: not the database's file
        // descriptors, and not the socket a parent (a shell, a test runner) uses to learn when we
        // and everything holding our descriptors have exited, which a daemon would hold forever.
        closeFrom(3, in: &actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Self.spawnSetSID)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw SpawnError(description: "cannot start \(arguments[0]): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module does
    /// not import; found at run time, with a close per open descriptor as the fallback.
    private static func closeFrom(_ lowest: Int32, in actions: inout posix_spawn_file_actions_t) {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {  // nil is RTLD_DEFAULT
            if unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, lowest) == 0 { return }
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap(Int32.init) where fd >= lowest {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
    }

    /// True while `pid` runs and is not a zombie. Reaps it if it is our exited child.
    /// Whether nothing listens on (or holds) `host:port` now: a restarted agent takes its old
    /// ports back when it can, so clients holding its address reconnect to it, as to a Kafka broker.
    static func isPortFree(host: String, port: Int) -> Bool {
        guard port > 0, port < 65536 else { return false }
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return false }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { return false }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
            if state == "Z" || state == "X" { return false }
        }
        return true
    }

    /// The command line of `pid`, to tell our process from an unrelated one that reused its pid.
    static func commandLine(_ pid: Int32) -> [String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The value given to `flag` on the command line of `pid`, if any.
    static func argument(_ flag: String, of pid: Int32) -> String? {
        guard let arguments = commandLine(pid) else { return nil }
        return zip(arguments, arguments.dropFirst()).first { $0.0 == flag }?.1
    }

    static func signal(_ pid: Int32, _ signal: Int32) {
        _ = kill(pid, signal)
    }

    static func readPID(_ file: String) -> Int32? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func writePID(_ pid: Int32, to file: String) throws {
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: file).deletingLastPathComponent().path, withIntermediateDirectories: true
        )
        try "\(pid)\n".write(toFile: file, atomically: true, encoding: .utf8)
    }

    /// The last `lines` lines of a log, to show why a process died.
    static func tail(_ file: String, lines: Int = 5) -> String {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return "" }
        return text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines).joined(separator: "\n")
    }
}
