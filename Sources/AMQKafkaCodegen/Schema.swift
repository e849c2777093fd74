import Foundation

package struct CodegenError: Error, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}

/// A schema version set such as "0+", "3-13", "5" or "none"; `hi` is `Int.max` for "N+".
struct VersionRange: Equatable {
    var lo: Int
    var hi: Int

    static let none = VersionRange(lo: 1, hi: 0)
    var isEmpty: Bool { lo > hi }

    init(lo: Int, hi: Int) {
        self.lo = lo
        self.hi = hi
    }

    init(parsing text: String) throws {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text == "none" {
            self = .none
        } else if text.hasSuffix("+"), let lo = Int(text.dropLast()) {
            self.init(lo: lo, hi: Int.max)
        } else if let dash = text.firstIndex(of: "-"), let lo = Int(text[..<dash]),
            let hi = Int(text[text.index(after: dash)...])
        {
            self.init(lo: lo, hi: hi)
        } else if let only = Int(text) {
            self.init(lo: only, hi: only)
        } else {
            throw CodegenError("bad version range '\(text)'")
        }
    }

    func intersection(_ other: VersionRange) -> VersionRange {
        VersionRange(lo: max(lo, other.lo), hi: min(hi, other.hi))
    }

    func contains(_ version: Int) -> Bool { version >= lo && version <= hi }
}

indirect enum FieldType: Equatable {
    case int8, int16, int32, int64, uint16, float64, bool, string, bytes, records, uuid
    /// An int16 the schema names `…ErrorCode`: generated as the typed `KafkaErrorCode`, so
    /// handlers and the client speak one vocabulary instead of bare numbers.
    case errorCode
    case array(FieldType)
    case structure(String)

    init(parsing text: String) {
        if text.hasPrefix("[]") {
            self = .array(FieldType(parsing: String(text.dropFirst(2))))
            return
        }
        switch text {
        case "int8": self = .int8
        case "int16": self = .int16
        case "int32": self = .int32
        case "int64": self = .int64
        case "uint16": self = .uint16
        case "float64": self = .float64
        case "bool": self = .bool
        case "string": self = .string
        case "bytes": self = .bytes
        case "records": self = .records
        case "uuid": self = .uuid
        default: self = .structure(text)
        }
    }

    var structName: String? {
        switch self {
        case .structure(let name): name
        case .array(let element): element.structName
        default: nil
        }
    }
}

/// The JSON default as written in the schema: a string, number or bool.
enum DefaultValue: Equatable {
    case text(String)
    case number(String)
    case bool(Bool)
}

struct Field: Equatable {
    var name: String
    var type: FieldType
    var versions: VersionRange
    var nullableVersions: VersionRange
    var taggedVersions: VersionRange
    var tag: Int?
    var defaultValue: DefaultValue?
    /// Only RequestHeader's ClientId overrides this ("none"); nil means the message's.
    var flexibleVersions: VersionRange?
    /// Inline definition of the struct this field's type names, if any.
    var fields: [Field]?

    var isNullableAnywhere: Bool { !nullableVersions.isEmpty }
}

struct StructDef: Equatable {
    var name: String
    var fields: [Field]
}

struct MessageSchema {
    var name: String
    var type: String
    var apiKey: Int?
    var validVersions: VersionRange
    var flexibleVersions: VersionRange
    var fields: [Field]
    var commonStructs: [StructDef]
}

enum SchemaParser {
    /// Removes `//` line comments, leaving string literals alone (a URL in an "about" must survive).
    static func stripComments(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var chars = Array(text.unicodeScalars)[...]
        var inString = false
        while let c = chars.first {
            chars = chars.dropFirst()
            if inString {
                out.unicodeScalars.append(c)
                if c == "\\", let next = chars.first {
                    out.unicodeScalars.append(next)
                    chars = chars.dropFirst()
                } else if c == "\"" {
                    inString = false
                }
            } else if c == "\"" {
                inString = true
                out.unicodeScalars.append(c)
            } else if c == "/", chars.first == "/" {
                while let n = chars.first, n != "\n" { chars = chars.dropFirst() }
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func parse(fileAt url: URL) throws -> MessageSchema {
        let raw = try String(contentsOf: url, encoding: .utf8)
        let json = try JSONSerialization.jsonObject(with: Data(stripComments(raw).utf8))
        guard let object = json as? [String: Any] else { throw CodegenError("\(url.lastPathComponent): not an object") }
        return try parseMessage(object, file: url.lastPathComponent)
    }

    static func parseMessage(_ object: [String: Any], file: String) throws -> MessageSchema {
        guard let name = object["name"] as? String, let type = object["type"] as? String,
            let valid = object["validVersions"] as? String
        else { throw CodegenError("\(file): missing name/type/validVersions") }
        let flexible = try VersionRange(parsing: object["flexibleVersions"] as? String ?? "none")
        let fields = try (object["fields"] as? [[String: Any]] ?? []).map { try parseField($0, file: file) }
        let common = try (object["commonStructs"] as? [[String: Any]] ?? []).map { entry in
            guard let structName = entry["name"] as? String else { throw CodegenError("\(file): commonStruct without name") }
            return StructDef(
                name: structName,
                fields: try (entry["fields"] as? [[String: Any]] ?? []).map { try parseField($0, file: file) })
        }
        return MessageSchema(
            name: name, type: type, apiKey: object["apiKey"] as? Int, validVersions: try VersionRange(parsing: valid),
            flexibleVersions: flexible, fields: fields, commonStructs: common)
    }

    static func parseField(_ object: [String: Any], file: String) throws -> Field {
        guard let name = object["name"] as? String, let type = object["type"] as? String,
            let versions = object["versions"] as? String
        else { throw CodegenError("\(file): field without name/type/versions: \(object)") }
        var defaultValue: DefaultValue?
        switch object["default"] {
        case nil: defaultValue = nil
        case let text as String: defaultValue = .text(text)
        case let number as NSNumber:
            // JSONSerialization gives NSNumber for both; the objCType tells a JSON bool apart.
            if String(cString: number.objCType) == "c" {
                defaultValue = .bool(number.boolValue)
            } else {
                defaultValue = .number(number.stringValue)
            }
        default: throw CodegenError("\(file): \(name): unsupported default")
        }
        return Field(
            name: name,
            type: type == "int16" && name.hasSuffix("ErrorCode") ? .errorCode : FieldType(parsing: type),
            versions: try VersionRange(parsing: versions),
            nullableVersions: try VersionRange(parsing: object["nullableVersions"] as? String ?? "none"),
            taggedVersions: try VersionRange(parsing: object["taggedVersions"] as? String ?? "none"),
            tag: object["tag"] as? Int,
            defaultValue: defaultValue,
            flexibleVersions: try (object["flexibleVersions"] as? String).map { try VersionRange(parsing: $0) },
            fields: try (object["fields"] as? [[String: Any]]).map { try $0.map { try parseField($0, file: file) } })
    }
}
