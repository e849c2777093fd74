import AMQControlPlane
import Foundation

/// What commands print. User output goes to stdout; diagnostics and progress to stderr.
enum Output {
    static func line(_ text: String = "") {
        write(text + "\n", to: .standardOutput)
    }

    static func progress(_ text: String) {
        write(text + "\n", to: .standardError)
    }

    /// Writes, ignoring a closed pipe (`amq topic list | head` must not crash).
    static func write(_ text: String, to handle: FileHandle) {
        try? handle.write(contentsOf: Data(text.utf8))
    }

    static func json(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        line(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Prints rows as aligned columns under upper-case headers.
    static func table(_ headers: [String], _ rows: [[String]]) {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func render(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        line(render(headers.map { $0.uppercased() }))
        for row in rows { line(render(row)) }
    }

    /// `a=1,b=2` for replica maps, zones sorted.
    static func replicas(_ replicas: [String: Int]) -> String {
        replicas.isEmpty ? "-" : replicas.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// `a,b` for zone lists, `-` for none.
    static func zones(_ zones: [String]) -> String {
        zones.isEmpty ? "-" : zones.joined(separator: ",")
    }

    static func optional(_ value: (some CustomStringConvertible)?) -> String {
        value.map(\.description) ?? "-"
    }

    static func age(_ date: Date?, now: Date = Date()) -> String {
        guard let date else { return "never" }
        let seconds = max(0, now.timeIntervalSince(date))
        if seconds < 60 { return String(format: "%.1fs ago", seconds) }
        if seconds < 3600 { return "\(Int(seconds / 60))m ago" }
        return "\(Int(seconds / 3600))h ago"
    }
}

extension String {
    /// This string as one shell word: unchanged when it is plain, else in single quotes.
    var shellQuoted: String {
        let plain = !isEmpty && allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-./:=@%+,".contains($0)) }
        return plain ? self : "'" + replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}
