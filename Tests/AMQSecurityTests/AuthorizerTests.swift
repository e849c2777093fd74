import AMQSecurity
import Testing

/// Kafka's AclAuthorizer rules, decided by a pure function of the bindings.
@Suite struct AuthorizerTests {
    static let alice = KafkaPrincipal(name: "alice")
    static let bob = KafkaPrincipal(name: "bob")

    static func allow(_ operation: ACLOperation, _ type: ACLResourceType, _ name: String, _ pattern: ACLPatternType = .literal, principal: String = "User:alice")
        -> ACLBinding
    {
        ACLBinding(resourceType: type, resourceName: name, patternType: pattern, principal: principal, operation: operation)
    }

    @Test func noACLMeansTheDefaultDecides() {
        #expect(Authorizer(bindings: [], allowEveryoneIfNoACLFound: true).authorize(Self.alice, host: "10.0.0.1", .write, .topic, "t"))
        #expect(!Authorizer(bindings: [], allowEveryoneIfNoACLFound: false).authorize(Self.alice, host: "10.0.0.1", .write, .topic, "t"))
        // A resource some ACL names is closed to everyone else, whatever the default.
        let named = Authorizer(bindings: [Self.allow(.write, .topic, "t")], allowEveryoneIfNoACLFound: true)
        #expect(!named.authorize(Self.bob, host: "10.0.0.1", .write, .topic, "t"))
        #expect(named.authorize(Self.bob, host: "10.0.0.1", .write, .topic, "other"))
    }

    @Test func impliedOperationsWildcardsAndPrefixes() {
        let authorizer = Authorizer(
            bindings: [
                Self.allow(.read, .topic, "orders"), Self.allow(.alterConfigs, .topic, "*"), Self.allow(.write, .topic, "logs-", .prefixed),
                Self.allow(.all, .group, "g"), Self.allow(.describe, .topic, "public", principal: "User:*"),
            ],
            allowEveryoneIfNoACLFound: false
        )
        #expect(authorizer.authorize(Self.alice, host: "h", .describe, .topic, "orders"))  // Read implies Describe
        #expect(!authorizer.authorize(Self.alice, host: "h", .write, .topic, "orders"))
        #expect(authorizer.authorize(Self.alice, host: "h", .describeConfigs, .topic, "anything"))  // AlterConfigs implies DescribeConfigs
        #expect(authorizer.authorize(Self.alice, host: "h", .write, .topic, "logs-app"))
        #expect(!authorizer.authorize(Self.alice, host: "h", .write, .topic, "log"))
        #expect(authorizer.authorize(Self.alice, host: "h", .delete, .group, "g"))
        #expect(authorizer.authorize(Self.bob, host: "h", .describe, .topic, "public"))
        #expect(!authorizer.authorize(Self.bob, host: "h", .read, .topic, "public"))
    }

    @Test func denyWinsHostsMatterAndSuperUsersPass() {
        var deny = Self.allow(.write, .topic, "logs-secret")
        deny.permission = .deny
        var fromOneHost = Self.allow(.read, .topic, "audit")
        fromOneHost.host = "10.0.0.9"
        let authorizer = Authorizer(
            bindings: [Self.allow(.write, .topic, "logs-", .prefixed), deny, fromOneHost], superUsers: ["User:root"], allowEveryoneIfNoACLFound: false
        )
        #expect(!authorizer.authorize(Self.alice, host: "h", .write, .topic, "logs-secret"))
        #expect(authorizer.authorize(Self.alice, host: "h", .write, .topic, "logs-open"))
        #expect(authorizer.authorize(Self.alice, host: "10.0.0.9", .read, .topic, "audit"))
        #expect(!authorizer.authorize(Self.alice, host: "10.0.0.8", .read, .topic, "audit"))
        #expect(authorizer.authorize(KafkaPrincipal(name: "root"), host: "h", .alter, .cluster, ACLBinding.clusterResourceName))
    }

    @Test func filtersMatchAsDescribeAndDeleteAclsDo() {
        let literal = Self.allow(.read, .topic, "orders")
        let prefix = Self.allow(.read, .topic, "ord", .prefixed)
        let wildcard = Self.allow(.read, .topic, "*")
        let group = Self.allow(.read, .group, "orders")
        let all = [literal, prefix, wildcard, group]
        #expect(all.filter(ACLFilter().matches) == all)
        #expect(all.filter(ACLFilter(resourceType: .topic, resourceName: "orders", patternType: .match).matches) == [literal, prefix, wildcard])
        #expect(all.filter(ACLFilter(resourceType: .topic, patternType: .prefixed).matches) == [prefix])
        #expect(all.filter(ACLFilter(resourceName: "orders").matches) == [literal, group])
        #expect(all.filter(ACLFilter(principal: "User:bob").matches).isEmpty)
    }

    @Test func invalidBindingsSayWhy() {
        #expect(Self.allow(.read, .topic, "t", .match).invalidity != nil)
        #expect(Self.allow(.any, .topic, "t").invalidity != nil)
        #expect(Self.allow(.read, .cluster, "c").invalidity != nil)
        #expect(Self.allow(.read, .topic, "t", principal: "alice").invalidity != nil)
        #expect(Self.allow(.read, .topic, "t").invalidity == nil)
    }
}

extension AuthorizerTests {
    /// InitProducerId's check: Write on some topic, unless denied on every topic.
    @Test func writeOnAnyTopicCounts() {
        let open = Authorizer(bindings: [Self.allow(.read, .topic, "x", principal: "User:bob")], allowEveryoneIfNoACLFound: true)
        #expect(open.authorizeAny(Self.alice, host: "h", .write, .topic))
        let closed = Authorizer(bindings: [], allowEveryoneIfNoACLFound: false)
        #expect(!closed.authorizeAny(Self.alice, host: "h", .write, .topic))
        let granted = Authorizer(bindings: [Self.allow(.write, .topic, "logs-", .prefixed)], allowEveryoneIfNoACLFound: false)
        #expect(granted.authorizeAny(Self.alice, host: "h", .write, .topic))
        var denyAll = Self.allow(.write, .topic, "*")
        denyAll.permission = .deny
        #expect(!Authorizer(bindings: [denyAll], allowEveryoneIfNoACLFound: true).authorizeAny(Self.alice, host: "h", .write, .topic))
    }
}
