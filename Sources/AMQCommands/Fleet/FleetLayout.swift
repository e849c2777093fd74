import Foundation

/// Where a cluster's files live under its data directory:
///
/// ```
/// DIR/secret                 cluster secret (mode 0600)
/// DIR/security.json          how local processes are secured (LocalSecurity)
/// DIR/tls/                   a local cluster's throwaway CA and certificate (keys 0600)
/// DIR/admin.password         the --sasl super user's password (mode 0600)
/// DIR/objects/               the local object store (file:// default)
/// DIR/run/controller.pid     pid files of local processes
/// DIR/run/agent-N.pid
/// DIR/logs/controller.log    their stdout and stderr
/// DIR/logs/agent-N.log
/// ```
struct FleetLayout: Sendable {
    let directory: String

    var secretFile: String { directory + "/secret" }
    var securityFile: String { directory + "/security.json" }
    var tlsDirectory: String { directory + "/tls" }
    var adminPasswordFile: String { directory + "/admin.password" }
    var objectsDirectory: String { directory + "/objects" }
    var runDirectory: String { directory + "/run" }
    var logsDirectory: String { directory + "/logs" }
    var controllerPIDFile: String { runDirectory + "/controller.pid" }
    /// The port the controller last listened on, so a restarted one takes it again.
    var controllerPortFile: String { runDirectory + "/controller.port" }
    var controllerLog: String { logsDirectory + "/controller.log" }
    func agentPIDFile(_ node: Int) -> String { runDirectory + "/agent-\(node).pid" }
    func agentLog(_ node: Int) -> String { logsDirectory + "/agent-\(node).log" }

    static func clusterDirectory(dataDir: String, cluster: String) -> String {
        dataDir + "/clusters/" + cluster
    }
}
