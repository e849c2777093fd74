import AMQControlPlane
import Foundation

/// A cluster's object store URL, checked for shape: `file:///abs/path` or
/// `s3://bucket[/prefix][?endpoint=URL&region=R]`.
struct ObjectStoreLocation: Sendable {
    enum Kind: Sendable { case file(path: String), s3(bucket: String) }
    let url: String
    let kind: Kind

    init(_ text: String) throws(ControlPlaneError) {
        let example = "write file:///var/lib/amq/objects or s3://bucket/prefix?endpoint=http://127.0.0.1:9000"
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw ControlPlaneError(.invalidArgument, "object store URL \"\(text)\" is malformed; \(example)")
        }
        switch scheme {
        case "file":
            guard components.path.hasPrefix("/"), components.host?.isEmpty ?? true else {
                throw ControlPlaneError(.invalidArgument, "object store URL \"\(text)\" needs an absolute path; \(example)")
            }
            kind = .file(path: components.path)
        case "s3":
            guard let bucket = components.host, !bucket.isEmpty else {
                throw ControlPlaneError(.invalidArgument, "object store URL \"\(text)\" names no bucket; \(example)")
            }
            if let endpoint = components.queryItems?.first(where: { $0.name == "endpoint" })?.value {
                guard let endpointURL = URLComponents(string: endpoint), ["http", "https"].contains(endpointURL.scheme ?? ""), endpointURL.host != nil else {
                    throw ControlPlaneError(.invalidArgument, "endpoint \"\(endpoint)\" in the object store URL is not an http(s) URL; \(example)")
                }
            }
            kind = .s3(bucket: bucket)
        default:
            throw ControlPlaneError(.invalidArgument, "object store URL \"\(text)\" has unsupported scheme \"\(scheme)\"; \(example)")
        }
        url = text
    }

    /// Checks a local store is writable: creates the directory and writes, syncs and removes a probe.
    func checkWritable() throws(ControlPlaneError) {
        guard case .file(let path) = kind else { return }
        let probe = path + "/.amq-probe-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try Data("probe".utf8).write(to: URL(fileURLWithPath: probe), options: .atomic)
            try FileManager.default.removeItem(atPath: probe)
        } catch {
            throw ControlPlaneError(
                .invalidArgument,
                "object store \(url) is not writable (\(error.localizedDescription)); pick another --object-store",
                underlying: error
            )
        }
    }
}
