import Foundation

/// Errors of the classic group protocol, named after the Kafka codes the Kafka layer maps them to.
package enum GroupError: Error, Sendable, Hashable {
    /// UNKNOWN_MEMBER_ID (25).
    case unknownMemberID
    /// ILLEGAL_GENERATION (22).
    case illegalGeneration
    /// REBALANCE_IN_PROGRESS (27).
    case rebalanceInProgress
    /// MEMBER_ID_REQUIRED (79): JoinGroup v4+ with an empty member id gets its id here and rejoins.
    case memberIDRequired(memberID: String)
    /// INCONSISTENT_GROUP_PROTOCOL (23).
    case inconsistentGroupProtocol
    /// FENCED_INSTANCE_ID (82): another member id holds this static instance id.
    case fencedInstanceID
    /// INVALID_SESSION_TIMEOUT (26).
    case invalidSessionTimeout
    /// COORDINATOR_NOT_AVAILABLE (15).
    case coordinatorNotAvailable
    /// NOT_COORDINATOR (16).
    case notCoordinator
    /// GROUP_MAX_SIZE_REACHED (81).
    case groupMaxSizeReached
    /// INVALID_GROUP_ID (24).
    case invalidGroupID
    /// NON_EMPTY_GROUP (68): DeleteGroups of a group with members.
    case nonEmptyGroup
    /// GROUP_ID_NOT_FOUND (69).
    case groupIDNotFound
}

/// The states of a classic consumer group, as Kafka names them in DescribeGroups/ListGroups.
package enum GroupState: String, Sendable, Hashable, CaseIterable {
    case empty = "Empty"
    case preparingRebalance = "PreparingRebalance"
    case completingRebalance = "CompletingRebalance"
    case stable = "Stable"
    case dead = "Dead"
}

/// Opaque id the I/O shell gives each parked request, so the machine can say which to complete.
package typealias GroupRequestID = UInt64

/// One assignment protocol a member supports (`range`, `roundrobin`, …) with its metadata bytes.
package struct GroupProtocol: Sendable, Hashable {
    package var name: String
    package var metadata: [UInt8]

    package init(name: String, metadata: [UInt8] = []) {
        self.name = name
        self.metadata = metadata
    }
}

/// A JoinGroup request for one group, decoded from any version.
package struct JoinRequestInput: Sendable, Hashable {
    package var groupID: String
    /// Empty for a member joining for the first time.
    package var memberID: String
    /// KIP-345 static membership (v5+).
    package var groupInstanceID: String?
    package var clientID: String
    package var clientHost: String
    package var sessionTimeout: Duration
    /// v0 has none: pass the session timeout, as Kafka does.
    package var rebalanceTimeout: Duration
    package var protocolType: String
    /// In the member's order of preference.
    package var protocols: [GroupProtocol]
    /// JoinGroup v4+ (KIP-394): a new member first gets MEMBER_ID_REQUIRED and its id.
    package var requireKnownMemberID: Bool

    package init(
        groupID: String, memberID: String = "", groupInstanceID: String? = nil, clientID: String, clientHost: String = "/127.0.0.1",
        sessionTimeout: Duration, rebalanceTimeout: Duration, protocolType: String = "consumer", protocols: [GroupProtocol],
        requireKnownMemberID: Bool = true
    ) {
        self.groupID = groupID
        self.memberID = memberID
        self.groupInstanceID = groupInstanceID
        self.clientID = clientID
        self.clientHost = clientHost
        self.sessionTimeout = sessionTimeout
        self.rebalanceTimeout = rebalanceTimeout
        self.protocolType = protocolType
        self.protocols = protocols
        self.requireKnownMemberID = requireKnownMemberID
    }
}

/// One member as the leader sees it in its JoinGroup response.
package struct JoinedMember: Sendable, Hashable {
    package var memberID: String
    package var groupInstanceID: String?
    /// The member's metadata for the chosen protocol.
    package var metadata: [UInt8]
}

/// A successful JoinGroup response.
package struct JoinResponse: Sendable, Hashable {
    package var generationID: Int32
    package var protocolType: String
    package var protocolName: String
    package var leaderID: String
    package var memberID: String
    /// Every member with its metadata for the leader; empty for the others.
    package var members: [JoinedMember]
    /// v9+ (KIP-814): a static leader rejoining without a rebalance must not compute a new assignment.
    package var skipAssignment: Bool
}

package typealias JoinResult = Result<JoinResponse, GroupError>

/// A SyncGroup request.
package struct SyncRequestInput: Sendable, Hashable {
    package var groupID: String
    package var memberID: String
    package var groupInstanceID: String?
    package var generationID: Int32
    /// v5+; nil when the request version lacks them.
    package var protocolType: String?
    package var protocolName: String?
    /// The leader's assignment, member id to bytes; empty from followers.
    package var assignments: [String: [UInt8]]

    package init(
        groupID: String, memberID: String, groupInstanceID: String? = nil, generationID: Int32, protocolType: String? = nil,
        protocolName: String? = nil, assignments: [String: [UInt8]] = [:]
    ) {
        self.groupID = groupID
        self.memberID = memberID
        self.groupInstanceID = groupInstanceID
        self.generationID = generationID
        self.protocolType = protocolType
        self.protocolName = protocolName
        self.assignments = assignments
    }
}

/// A successful SyncGroup response.
package struct SyncResponse: Sendable, Hashable {
    package var protocolType: String
    package var protocolName: String
    package var assignment: [UInt8]
}

package typealias SyncResult = Result<SyncResponse, GroupError>

/// A Heartbeat request (also the member identity an OffsetCommit carries).
package struct HeartbeatRequestInput: Sendable, Hashable {
    package var groupID: String
    package var memberID: String
    package var groupInstanceID: String?
    package var generationID: Int32

    package init(groupID: String, memberID: String, groupInstanceID: String? = nil, generationID: Int32) {
        self.groupID = groupID
        self.memberID = memberID
        self.groupInstanceID = groupInstanceID
        self.generationID = generationID
    }
}

/// One member leaving (LeaveGroup v3+ batches them; v0–2 is one member by id).
package struct LeavingMember: Sendable, Hashable {
    package var memberID: String
    package var groupInstanceID: String?

    package init(memberID: String, groupInstanceID: String? = nil) {
        self.memberID = memberID
        self.groupInstanceID = groupInstanceID
    }
}

/// What became of each leaving member, in request order (nil: left).
package struct LeaveResult: Sendable, Hashable {
    /// Group-level error (coordinator), else nil.
    package var error: GroupError?
    package var members: [GroupError?]
}

/// DescribeGroups for one group.
package struct GroupDescription: Sendable, Hashable {
    package struct Member: Sendable, Hashable {
        package var memberID: String
        package var groupInstanceID: String?
        package var clientID: String
        package var clientHost: String
        /// The member's metadata for the chosen protocol; empty unless the group is Stable.
        package var metadata: [UInt8]
        /// Empty unless the group is Stable.
        package var assignment: [UInt8]
    }

    package var groupID: String
    /// "Empty", "PreparingRebalance", "CompletingRebalance", "Stable" or "Dead".
    package var state: String
    package var protocolType: String
    /// The chosen protocol; empty unless Stable, as Kafka reports it.
    package var protocolName: String
    package var members: [Member]
}

/// ListGroups for one group.
package struct GroupOverview: Sendable, Hashable {
    package var groupID: String
    package var protocolType: String
    package var state: String
}
