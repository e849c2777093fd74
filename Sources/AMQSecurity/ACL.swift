/// Kafka's ACL vocabulary, with the wire codes of its `AclOperation`, `ResourceType`,
/// `PatternType` and `AclPermissionType` enums (DescribeAcls, CreateAcls, DeleteAcls).
package enum ACLResourceType: Int8, Sendable, Codable, CaseIterable, Hashable {
    case any = 1
    case topic = 2
    case group = 3
    case cluster = 4
    case transactionalID = 5
    case delegationToken = 6
    case user = 7

    package var name: String {
        switch self {
        case .any: "Any"
        case .topic: "Topic"
        case .group: "Group"
        case .cluster: "Cluster"
        case .transactionalID: "TransactionalId"
        case .delegationToken: "DelegationToken"
        case .user: "User"
        }
    }
}

package enum ACLPatternType: Int8, Sendable, Codable, CaseIterable, Hashable {
    /// Filters only: literal or prefixed.
    case any = 1
    /// Filters only: every binding that would apply to the named resource.
    case match = 2
    case literal = 3
    case prefixed = 4

    package var name: String {
        switch self {
        case .any: "Any"
        case .match: "Match"
        case .literal: "Literal"
        case .prefixed: "Prefixed"
        }
    }
}

package enum ACLOperation: Int8, Sendable, Codable, CaseIterable, Hashable {
    case any = 1
    case all = 2
    case read = 3
    case write = 4
    case create = 5
    case delete = 6
    case alter = 7
    case describe = 8
    case clusterAction = 9
    case describeConfigs = 10
    case alterConfigs = 11
    case idempotentWrite = 12

    package var name: String {
        switch self {
        case .any: "Any"
        case .all: "All"
        case .read: "Read"
        case .write: "Write"
        case .create: "Create"
        case .delete: "Delete"
        case .alter: "Alter"
        case .describe: "Describe"
        case .clusterAction: "ClusterAction"
        case .describeConfigs: "DescribeConfigs"
        case .alterConfigs: "AlterConfigs"
        case .idempotentWrite: "IdempotentWrite"
        }
    }

    /// Parses a name as `kafka-acls --operation` does, case-insensitively.
    package init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.name.lowercased() == name.lowercased() }), found != .any else { return nil }
        self = found
    }

    /// Operations an ALLOW of this one also allows (Kafka's `AclAuthorizer`: Read, Write, Delete
    /// and Alter imply Describe; AlterConfigs implies DescribeConfigs).
    var implied: Set<ACLOperation> {
        switch self {
        case .read, .write, .delete, .alter: [.describe]
        case .alterConfigs: [.describeConfigs]
        default: []
        }
    }
}

package enum ACLPermission: Int8, Sendable, Codable, CaseIterable, Hashable {
    case any = 1
    case deny = 2
    case allow = 3

    package var name: String {
        switch self {
        case .any: "Any"
        case .deny: "Deny"
        case .allow: "Allow"
        }
    }
}

/// One ACL: `permission` for `principal` connecting from `host` to do `operation` on the
/// resources `pattern` names.
package struct ACLBinding: Sendable, Codable, Hashable, Comparable {
    package var resourceType: ACLResourceType
    package var resourceName: String
    package var patternType: ACLPatternType
    package var principal: String
    package var host: String
    package var operation: ACLOperation
    package var permission: ACLPermission

    package init(
        resourceType: ACLResourceType, resourceName: String, patternType: ACLPatternType = .literal, principal: String, host: String = "*",
        operation: ACLOperation, permission: ACLPermission = .allow
    ) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }

    /// Why this binding cannot be stored, or nil (CreateAcls' INVALID_REQUEST cases).
    package var invalidity: String? {
        guard [.topic, .group, .cluster, .transactionalID, .user, .delegationToken].contains(resourceType) else {
            return "resource type \(resourceType.name) is not a concrete type"
        }
        guard [.literal, .prefixed].contains(patternType) else { return "pattern type \(patternType.name) is only for filters" }
        guard operation != .any else { return "operation Any is only for filters" }
        guard permission != .any else { return "permission Any is only for filters" }
        guard !resourceName.isEmpty else { return "the resource name is empty" }
        if resourceType == .cluster, resourceName != ACLBinding.clusterResourceName {
            return "the cluster resource is named \(ACLBinding.clusterResourceName)"
        }
        guard let colon = principal.firstIndex(of: ":"), colon != principal.startIndex, principal.index(after: colon) != principal.endIndex else {
            return "principal \"\(principal)\" is not TYPE:NAME, like User:alice"
        }
        guard !host.isEmpty else { return "the host is empty (\"*\" is any host)" }
        return nil
    }

    /// Kafka's name for the one cluster resource.
    package static let clusterResourceName = "kafka-cluster"
    package static let wildcard = "*"

    /// Whether this binding applies to `resource` of `type` (literal `*` matches every name).
    func applies(to type: ACLResourceType, _ resource: String) -> Bool {
        guard resourceType == type else { return false }
        switch patternType {
        case .literal: return resourceName == resource || resourceName == Self.wildcard
        case .prefixed: return resource.hasPrefix(resourceName)
        case .any, .match: return false
        }
    }

    package static func < (a: ACLBinding, b: ACLBinding) -> Bool {
        let left = (a.resourceType.rawValue, a.resourceName, a.patternType.rawValue, a.principal, a.host)
        let right = (b.resourceType.rawValue, b.resourceName, b.patternType.rawValue, b.principal, b.host)
        if left != right { return left < right }
        return (a.operation.rawValue, a.permission.rawValue) < (b.operation.rawValue, b.permission.rawValue)
    }
}

/// A DescribeAcls / DeleteAcls filter: nil fields and `any` match everything.
package struct ACLFilter: Sendable, Codable, Hashable {
    package var resourceType: ACLResourceType = .any
    package var resourceName: String?
    package var patternType: ACLPatternType = .any
    package var principal: String?
    package var host: String?
    package var operation: ACLOperation = .any
    package var permission: ACLPermission = .any

    package init(
        resourceType: ACLResourceType = .any, resourceName: String? = nil, patternType: ACLPatternType = .any, principal: String? = nil,
        host: String? = nil, operation: ACLOperation = .any, permission: ACLPermission = .any
    ) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }

    package func matches(_ binding: ACLBinding) -> Bool {
        if resourceType != .any, binding.resourceType != resourceType { return false }
        if let principal, binding.principal != principal { return false }
        if let host, binding.host != host { return false }
        if operation != .any, binding.operation != operation { return false }
        if permission != .any, binding.permission != permission { return false }
        switch patternType {
        case .any:
            if let resourceName, binding.resourceName != resourceName { return false }
        case .literal, .prefixed:
            if binding.patternType != patternType { return false }
            if let resourceName, binding.resourceName != resourceName { return false }
        case .match:
            // Every binding that would apply to the named resource: the literal name, the
            // wildcard, and prefixes of it.
            guard let resourceName else { return true }
            switch binding.patternType {
            case .literal: return binding.resourceName == resourceName || binding.resourceName == ACLBinding.wildcard
            case .prefixed: return resourceName.hasPrefix(binding.resourceName)
            case .any, .match: return false
            }
        }
        return true
    }
}

/// Who a connection is: Kafka's `KafkaPrincipal`, written `User:alice`.
package struct KafkaPrincipal: Sendable, Hashable, CustomStringConvertible {
    package var type: String
    package var name: String

    package init(type: String = "User", name: String) {
        self.type = type
        self.name = name
    }

    /// Connections that did not authenticate (PLAINTEXT and SSL listeners without client certificates).
    package static let anonymous = KafkaPrincipal(name: "ANONYMOUS")

    package var description: String { "\(type):\(name)" }
}

/// Decides whether a principal may do an operation on a resource, as Kafka's `AclAuthorizer`
/// does: a matching DENY wins; else a matching ALLOW (or one that implies the operation) allows;
/// a resource no ACL names at all is open to everyone only when `allowEveryoneIfNoACLFound`.
/// Super users pass every check. Pure: the bindings are the topology's.
package struct Authorizer: Sendable {
    package var bindings: [ACLBinding]
    package var superUsers: Set<String>
    package var allowEveryoneIfNoACLFound: Bool

    package init(bindings: [ACLBinding], superUsers: Set<String> = [], allowEveryoneIfNoACLFound: Bool) {
        self.bindings = bindings
        self.superUsers = superUsers
        self.allowEveryoneIfNoACLFound = allowEveryoneIfNoACLFound
    }

    package func authorize(_ principal: KafkaPrincipal, host: String, _ operation: ACLOperation, _ type: ACLResourceType, _ resource: String) -> Bool {
        if superUsers.contains(principal.description) { return true }
        let name = principal.description
        let wildcardPrincipal = "\(principal.type):*"
        let applicable = bindings.filter { $0.applies(to: type, resource) }
        if applicable.isEmpty { return allowEveryoneIfNoACLFound }
        let forUs = applicable.filter { ($0.principal == name || $0.principal == wildcardPrincipal) && ($0.host == ACLBinding.wildcard || $0.host == host) }
        if forUs.contains(where: { $0.permission == .deny && ($0.operation == operation || $0.operation == .all) }) { return false }
        return forUs.contains { binding in
            binding.permission == .allow && (binding.operation == operation || binding.operation == .all || binding.operation.implied.contains(operation))
        }
    }

    /// Whether `principal` may do `operation` on some resource of `type` (Kafka's
    /// `authorizeByResourceType`: an idempotent producer needs Write on any topic): a DENY of it on
    /// every resource (`*`) refuses; an ALLOW on any resource allows; otherwise the default does.
    package func authorizeAny(_ principal: KafkaPrincipal, host: String, _ operation: ACLOperation, _ type: ACLResourceType) -> Bool {
        if superUsers.contains(principal.description) { return true }
        let name = principal.description
        let wildcardPrincipal = "\(principal.type):*"
        let forUs = bindings.filter {
            $0.resourceType == type && ($0.principal == name || $0.principal == wildcardPrincipal) && ($0.host == ACLBinding.wildcard || $0.host == host)
                && ($0.operation == operation || $0.operation == .all)
        }
        if forUs.contains(where: { $0.permission == .deny && $0.patternType == .literal && $0.resourceName == ACLBinding.wildcard }) { return false }
        if forUs.contains(where: { $0.permission == .allow }) { return true }
        return allowEveryoneIfNoACLFound
    }
}
