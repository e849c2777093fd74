import AMQControlPlane
import AMQSecurity
import ArgumentParser
import Foundation

struct ACLCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acl",
        abstract: "Manage ACLs: which principals may do what on topics, groups and the cluster.",
        discussion: """
            As Kafka's kafka-acls: a DENY wins over an ALLOW; Read, Write, Delete and Alter imply \
            Describe; a resource no ACL names is open to everyone only when \
            allow.everyone.if.no.acl.found is true (default: false on agents with a SASL listener). \
            super.users pass every check. Kafka clients manage the same ACLs with \
            CreateAcls/DescribeAcls/DeleteAcls.

            Example:
              amq acl add --principal User:alice --operation Write --topic orders
              amq acl add --principal User:alice --operation Read --topic orders- --prefixed
              amq acl add --principal User:alice --operation Read --group billing
              amq acl list
            """,
        subcommands: [ACLAdd.self, ACLRemove.self, ACLList.self]
    )
}

/// The resource and rule an `acl add` / `acl remove` names.
struct ACLOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Principal, like User:alice (User:* is everyone).", valueName: "type:name"))
    var principal: String
    @Option(name: .long, help: "Operation: Read, Write, Create, Delete, Describe, Alter, DescribeConfigs, AlterConfigs, IdempotentWrite or All (repeatable).")
    var operation: [String]
    @Option(name: .long, help: ArgumentHelp("A topic (* is every topic).", valueName: "name"))
    var topic: String?
    @Option(name: .long, help: ArgumentHelp("A consumer group (* is every group).", valueName: "id"))
    var group: String?
    @Flag(name: .long, help: "The cluster resource (topic creation, ACLs, configs, idempotent producers).")
    var clusterResource = false
    @Flag(name: .long, help: "The name is a prefix: every topic or group starting with it.")
    var prefixed = false
    @Flag(name: .long, help: "A DENY rule (default: ALLOW).")
    var deny = false
    @Option(name: .long, help: "Client address the rule applies to (* is any).")
    var host = "*"

    func validate() throws {
        _ = try bindings()
    }

    func bindings() throws -> [ACLBinding] {
        let resources = [topic.map { (ACLResourceType.topic, $0) }, group.map { (ACLResourceType.group, $0) }, clusterResource ? (.cluster, ACLBinding.clusterResourceName) : nil]
            .compactMap { $0 }
        guard resources.count == 1, let (type, name) = resources.first else {
            throw ValidationError("name exactly one resource: --topic NAME, --group ID or --cluster-resource")
        }
        if prefixed, type == .cluster { throw ValidationError("--prefixed applies to --topic and --group, not --cluster-resource") }
        guard !operation.isEmpty else { throw ValidationError("give at least one --operation, like --operation Read") }
        return try operation.map { text in
            guard let operation = ACLOperation(name: text) else {
                throw ValidationError(
                    "unknown --operation \"\(text)\"; use one of \(ACLOperation.allCases.filter { $0 != .any }.map(\.name).joined(separator: ", "))"
                )
            }
            let binding = ACLBinding(
                resourceType: type, resourceName: name, patternType: prefixed ? .prefixed : .literal, principal: principal, host: host,
                operation: operation, permission: deny ? .deny : .allow
            )
            if let problem = binding.invalidity { throw ValidationError(problem) }
            return binding
        }
    }
}

struct ACLAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add ACLs (one per --operation); agents apply them within a second.",
        discussion: "Example:\n  amq acl add --principal User:alice --operation Read --operation Write --topic orders"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var acl: ACLOptions

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let bindings = try acl.bindings()
        try await store.addACLs(cluster, bindings)
        for binding in bindings { Output.progress("Added: \(ACLList.describe(binding))") }
    }
}

struct ACLRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove the ACLs that match exactly.",
        discussion: "Example:\n  amq acl remove --principal User:alice --operation Write --topic orders"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var acl: ACLOptions

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let filters = try acl.bindings().map {
            ACLFilter(
                resourceType: $0.resourceType, resourceName: $0.resourceName, patternType: $0.patternType, principal: $0.principal, host: $0.host,
                operation: $0.operation, permission: $0.permission
            )
        }
        let removed = try await store.removeACLs(cluster, matching: filters).flatMap { $0 }
        guard !removed.isEmpty else { throw ControlPlaneError(.invalidArgument, "no such ACL; see amq acl list") }
        for binding in removed { Output.progress("Removed: \(ACLList.describe(binding))") }
    }
}

struct ACLList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List ACLs, optionally of one principal.",
        discussion: "Example:\n  amq acl list --principal User:alice --format json"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(name: .long, help: ArgumentHelp("Only this principal's.", valueName: "type:name"))
    var principal: String?

    struct Row: Codable {
        var principal: String
        var permission: String
        var operation: String
        var resourceType: String
        var resourceName: String
        var patternType: String
        var host: String
    }

    static func describe(_ binding: ACLBinding) -> String {
        "\(binding.principal) \(binding.permission.name.uppercased()) \(binding.operation.name) on \(binding.resourceType.name) \(binding.resourceName)"
            + (binding.patternType == .prefixed ? " (prefix)" : "") + (binding.host == ACLBinding.wildcard ? "" : " from \(binding.host)")
    }

    func run() async throws {
        let (store, cluster) = try await global.openCluster()
        let rows = try await store.acls(cluster, matching: ACLFilter(principal: principal)).map {
            Row(
                principal: $0.principal, permission: $0.permission.name, operation: $0.operation.name, resourceType: $0.resourceType.name,
                resourceName: $0.resourceName, patternType: $0.patternType.name, host: $0.host
            )
        }
        if output.format == .json { return try Output.json(rows) }
        Output.table(
            ["principal", "permission", "operation", "resource", "name", "pattern", "host"],
            rows.map { [$0.principal, $0.permission, $0.operation, $0.resourceType, $0.resourceName, $0.patternType, $0.host] }
        )
    }
}
