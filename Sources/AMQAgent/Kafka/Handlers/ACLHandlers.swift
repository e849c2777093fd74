import AMQControlPlane
import AMQKafkaProtocol
import AMQSecurity
import Logging

/// DescribeAcls v1–3, CreateAcls v1–3, DeleteAcls v1–3: the same ACLs as `amq acl`, kept by the
/// controller. Describing needs Describe on the cluster, changing needs Alter on it, as in Kafka.
/// Creations and deletions go through the controller under the client's principal (audited so).
struct ACLHandlers {
    let broker: KafkaBroker

    // MARK: DescribeAcls

    func handle(_ request: DescribeAclsRequest, _ context: KafkaRequestContext) async throws -> DescribeAclsResponse {
        guard context.mayOnCluster(.describe) else {
            return DescribeAclsResponse(errorCode: .clusterAuthorizationFailed, errorMessage: "\(context.access.principal) may not describe ACLs")
        }
        guard let filter = Self.filter(
            request.resourceTypeFilter, request.resourceNameFilter, request.patternTypeFilter, request.principalFilter, request.hostFilter,
            request.operation, request.permissionType
        ) else {
            return DescribeAclsResponse(errorCode: .invalidRequest, errorMessage: "the filter names an unknown resource type, pattern, operation or permission")
        }
        let bindings = (await broker.view()?.lookup.acls ?? []).filter(filter.matches)
        // Grouped by resource pattern, as Kafka answers.
        var order: [ResourceKey] = []
        var grouped: [ResourceKey: [ACLBinding]] = [:]
        for binding in bindings {
            let key = ResourceKey(type: binding.resourceType, name: binding.resourceName, pattern: binding.patternType)
            if grouped[key] == nil { order.append(key) }
            grouped[key, default: []].append(binding)
        }
        return DescribeAclsResponse(
            resources: order.map { key in
                .init(
                    resourceType: key.type.rawValue, resourceName: key.name, patternType: key.pattern.rawValue,
                    acls: (grouped[key] ?? []).map {
                        .init(principal: $0.principal, host: $0.host, operation: $0.operation.rawValue, permissionType: $0.permission.rawValue)
                    }
                )
            }
        )
    }

    private struct ResourceKey: Hashable {
        var type: ACLResourceType
        var name: String
        var pattern: ACLPatternType
    }

    // MARK: CreateAcls

    func handle(_ request: CreateAclsRequest, _ context: KafkaRequestContext) async throws -> CreateAclsResponse {
        guard context.mayOnCluster(.alter) else {
            return CreateAclsResponse(
                results: request.creations.map { _ in .init(errorCode: .clusterAuthorizationFailed, errorMessage: "\(context.access.principal) may not create ACLs") }
            )
        }
        var bindings: [ACLBinding?] = []
        for creation in request.creations {
            guard let type = ACLResourceType(rawValue: creation.resourceType), let pattern = ACLPatternType(rawValue: creation.resourcePatternType),
                let operation = ACLOperation(rawValue: creation.operation), let permission = ACLPermission(rawValue: creation.permissionType)
            else {
                bindings.append(nil)
                continue
            }
            bindings.append(
                ACLBinding(
                    resourceType: type, resourceName: creation.resourceName, patternType: pattern, principal: creation.principal, host: creation.host,
                    operation: operation, permission: permission
                )
            )
        }
        let valid = bindings.compactMap { $0 }
        let errors: [String?]
        do {
            errors = valid.isEmpty ? [] : try await context.control(broker).createACLs(valid)
        } catch {
            context.logger.warning("Creating ACLs failed", metadata: ["amq.error": "\(error)"])
            return CreateAclsResponse(results: request.creations.map { _ in .init(errorCode: .unknownServerError, errorMessage: "the controller did not answer; retry") })
        }
        var answers = errors.makeIterator()
        return CreateAclsResponse(
            results: bindings.map { binding in
                guard binding != nil else { return .init(errorCode: .invalidRequest, errorMessage: "unknown resource type, pattern, operation or permission") }
                if let problem = answers.next() ?? nil { return .init(errorCode: .invalidRequest, errorMessage: problem) }
                return .init(errorCode: .none, errorMessage: nil)
            }
        )
    }

    // MARK: DeleteAcls

    func handle(_ request: DeleteAclsRequest, _ context: KafkaRequestContext) async throws -> DeleteAclsResponse {
        guard context.mayOnCluster(.alter) else {
            return DeleteAclsResponse(
                filterResults: request.filters.map { _ in .init(errorCode: .clusterAuthorizationFailed, errorMessage: "\(context.access.principal) may not delete ACLs") }
            )
        }
        let filters = request.filters.map {
            Self.filter($0.resourceTypeFilter, $0.resourceNameFilter, $0.patternTypeFilter, $0.principalFilter, $0.hostFilter, $0.operation, $0.permissionType)
        }
        let valid = filters.compactMap { $0 }
        let removed: [[ACLBinding]]
        do {
            removed = valid.isEmpty ? [] : try await context.control(broker).deleteACLs(valid)
        } catch {
            context.logger.warning("Deleting ACLs failed", metadata: ["amq.error": "\(error)"])
            return DeleteAclsResponse(filterResults: request.filters.map { _ in .init(errorCode: .unknownServerError, errorMessage: "the controller did not answer; retry") })
        }
        var answers = removed.makeIterator()
        return DeleteAclsResponse(
            filterResults: filters.map { filter in
                guard filter != nil else { return .init(errorCode: .invalidRequest, errorMessage: "unknown resource type, pattern, operation or permission") }
                return .init(
                    errorCode: .none, errorMessage: nil,
                    matchingAcls: (answers.next() ?? []).map {
                        .init(
                            errorCode: .none, errorMessage: nil, resourceType: $0.resourceType.rawValue, resourceName: $0.resourceName,
                            patternType: $0.patternType.rawValue, principal: $0.principal, host: $0.host, operation: $0.operation.rawValue,
                            permissionType: $0.permission.rawValue
                        )
                    }
                )
            }
        )
    }

    static func filter(
        _ type: Int8, _ name: String?, _ pattern: Int8, _ principal: String?, _ host: String?, _ operation: Int8, _ permission: Int8
    ) -> ACLFilter? {
        guard let type = ACLResourceType(rawValue: type), let pattern = ACLPatternType(rawValue: pattern), let operation = ACLOperation(rawValue: operation),
            let permission = ACLPermission(rawValue: permission)
        else { return nil }
        return ACLFilter(resourceType: type, resourceName: name, patternType: pattern, principal: principal, host: host, operation: operation, permission: permission)
    }
}
