import AMQControlPlane
import AMQSecurity
import Foundation
import Testing

/// Users and ACLs in the topology database: versioned like every change, audited without
/// credentials, and in the snapshot agents get.
@Suite struct SecurityStoreTests {
    @Test func usersKeepOnlySaltedKeysAndReachTheSnapshot() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        let before = try await store.topologyVersion("demo")
        try await store.putUser("demo", UserCredentials.derive(name: "alice", password: "alice-password"))
        #expect(try await store.topologyVersion("demo") == before + 1)
        await #expect(throws: ControlPlaneError.self) { try await store.putUser("demo", UserCredentials.derive(name: "alice", password: "other-password")) }
        try await store.putUser("demo", UserCredentials.derive(name: "alice", password: "new-password"), replace: true)

        let users = try await store.users("demo")
        #expect(users.map(\.name) == ["alice"] && users[0].mechanisms == ["SCRAM-SHA-256", "SCRAM-SHA-512"] && users[0].iterations == 4096)
        let snapshot = try await store.snapshot("demo")
        let alice = try #require(snapshot.security.users.first)
        #expect(alice.scram[.sha512]?.verifies("new-password", .sha512) == true)
        #expect(alice.scram[.sha512]?.verifies("alice-password", .sha512) == false)

        // Nothing of the password or the keys in the audit log or the database file.
        let audit = try await store.auditLog("demo", limit: 10).filter { $0.action.hasPrefix("user.") }
        #expect(audit.map(\.action) == ["user.update", "user.create"])
        let storedKey = Data(try #require(alice.scram[.sha256]).storedKey).base64EncodedString()
        for entry in audit { #expect(!(entry.after ?? "").contains("storedKey") && !(entry.after ?? "").contains(storedKey)) }
        let file = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/amq.db"))
        #expect(file.range(of: Data("new-password".utf8)) == nil && file.range(of: Data("alice-password".utf8)) == nil)

        try await store.deleteUser("demo", name: "alice")
        await #expect(throws: ControlPlaneError.self) { try await store.deleteUser("demo", name: "alice") }
        #expect(try await store.snapshot("demo").security.users.isEmpty)
    }

    @Test func aclsAreAddedOnceRefusedWhenInvalidAndRemovedByFilter() async throws {
        let (store, directory) = try await makeStore()
        defer { directory.cleanup() }
        let write = ACLBinding(resourceType: .topic, resourceName: "orders", principal: "User:alice", operation: .write)
        let read = ACLBinding(resourceType: .group, resourceName: "billing", principal: "User:alice", operation: .read)
        let invalid = ACLBinding(resourceType: .topic, resourceName: "x", patternType: .match, principal: "User:alice", operation: .read)
        let problems = try await store.addACLs("demo", [write, read, invalid, write])
        #expect(problems[0] == nil && problems[1] == nil && problems[2] != nil && problems[3] == nil)
        #expect(try await store.acls("demo").count == 2)
        let version = try await store.topologyVersion("demo")
        // Adding what is there changes nothing, not even the version.
        try await store.addACLs("demo", [write])
        #expect(try await store.topologyVersion("demo") == version)

        let removed = try await store.removeACLs("demo", matching: [ACLFilter(resourceType: .topic), ACLFilter(principal: "User:bob")])
        #expect(removed == [[write], []])
        #expect(try await store.snapshot("demo").security.acls == [read])
        #expect(try await store.auditLog("demo", limit: 5).first?.action == "acl.remove")
    }

    @Test func securitySettingsValidate() throws {
        var settings = ClusterSettings()
        try settings.set("super.users", "User:admin;User:ops")
        #expect(settings.superUsers == ["User:admin", "User:ops"])
        #expect(throws: ControlPlaneError.self) { try settings.set("super.users", "admin") }
        try settings.set("allow.everyone.if.no.acl.found", "false")
        #expect(settings.allowEveryoneIfNoACLFound == false && settings.value(of: "allow.everyone.if.no.acl.found") == "false")
        try settings.set("allow.everyone.if.no.acl.found", "auto")
        #expect(settings.allowEveryoneIfNoACLFound == nil)
        try settings.set("connections.max.reauth.ms", "60000")
        #expect(settings.connectionsMaxReauthMs == 60000)
        #expect(throws: ControlPlaneError.self) { try settings.set("connections.max.reauth.ms", "-1") }
    }
}
