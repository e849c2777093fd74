import AMQControlPlane
import AMQSecurity
import ArgumentParser
import Foundation

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage the Kafka users SASL clients log in as (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).",
        discussion: """
            The cluster keeps salted SCRAM credentials, never passwords; PLAIN logins are checked \
            against them. Passwords are read from standard input or a file, never from the command \
            line, where other users could see them in the process list.

            Example:
              echo "$PASSWORD" | amq user create alice --password-stdin
              amq acl add --principal User:alice --operation Write --topic orders
            """,
        subcommands: [UserCreate.self, UserDelete.self, UserList.self]
    )
}

struct UserCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a user (or, with --replace, set a new password).",
        discussion: "Example:\n  amq user create alice --password-file /etc/amq/alice.password"
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "User name (the principal is User:NAME).")
    var name: String
    @Flag(name: .long, help: "Read the password from the first line of standard input.")
    var passwordStdin = false
    @Option(name: .long, help: ArgumentHelp("Read the password from the first line of this file.", valueName: "path"))
    var passwordFile: String?
    @Option(name: .long, help: "SCRAM iterations (4096-16384).")
    var iterations = SCRAMMechanism.defaultIterations
    @Flag(name: .long, help: "Replace an existing user's credentials.")
    var replace = false

    func validate() throws {
        guard passwordStdin != (passwordFile != nil) else {
            throw ValidationError("give the password with exactly one of --password-stdin or --password-file (never on the command line)")
        }
        guard (SCRAMMechanism.minIterations...SCRAMMechanism.maxIterations).contains(iterations) else {
            throw ValidationError("--iterations must be between \(SCRAMMechanism.minIterations) and \(SCRAMMechanism.maxIterations)")
        }
    }

    func run() async throws {
        let password = try passwordFile.map { try PasswordInput.read(file: $0) } ?? readLine(strippingNewline: true) ?? ""
        guard password.count >= 8 else { throw ControlPlaneError(.invalidArgument, "the password must be at least 8 characters") }
        let (store, cluster) = try await global.openCluster()
        try await store.putUser(cluster, UserCredentials.derive(name: name, password: password, iterations: iterations), replace: replace)
        Output.progress("User \(name) \(replace ? "set" : "created") (SCRAM-SHA-256, SCRAM-SHA-512, \(iterations) iterations); agents have it within a second")
    }
}

struct UserDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a user; its connections fail at their next re-authentication, new logins at once.",
        discussion: "Example:\n  amq user delete alice"
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "User name.")
    var name: String

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        try await store.deleteUser(cluster, name: name)
        Output.progress("User \(name) deleted")
    }
}

struct UserList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List users and their mechanisms (never credentials).",
        discussion: "Example:\n  amq user list --format json"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let users = try await store.users(cluster)
        if output.format == .json { return try Output.json(users) }
        Output.table(["user", "mechanisms", "iterations", "created"], users.map { [$0.name, $0.mechanisms.joined(separator: ","), String($0.iterations), Output.age($0.createdAt)] })
    }
}

/// Passwords come from a file's first line or standard input, never from the command line, where
/// other users could read them in the process list.
enum PasswordInput {
    static func read(file: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ControlPlaneError(.invalidArgument, "cannot read the password file \(file); it must exist and be readable by this user")
        }
        return String(String(decoding: data, as: UTF8.self).split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }
}
