import Foundation

/// Whether a field (or anything else version-dependent) exists in a version, relative to the
/// versions the generated code handles.
enum Presence: Equatable {
    case never
    case always
    case when(String)
}

/// Emits one top-level schema (a request, response or data type) as a flat Swift struct with its
/// nested structs declared inside it.
struct StructEmitter {
    let schema: MessageSchema
    /// The versions the generated code decodes and encodes.
    let range: VersionRange
    /// Nested struct definitions, in first-seen order, keyed by type name.
    private(set) var nested: [StructDef] = []

    init(schema: MessageSchema, range: VersionRange) throws {
        self.schema = schema
        self.range = range
        try collect(schema.fields)
    }

    private mutating func collect(_ fields: [Field]) throws {
        for field in fields {
            guard let structName = field.type.structName else { continue }
            let definition: StructDef
            if let inline = field.fields {
                definition = StructDef(name: structName, fields: inline)
            } else if let common = schema.commonStructs.first(where: { $0.name == structName }) {
                definition = common
            } else {
                throw CodegenError("\(schema.name).\(field.name): unknown struct type \(structName)")
            }
            if let existing = nested.first(where: { $0.name == structName }) {
                guard existing == definition else {
                    throw CodegenError("\(schema.name): two different nested structs named \(structName)")
                }
                continue
            }
            if structName == schema.name { throw CodegenError("\(schema.name): nested struct shadows the message") }
            nested.append(definition)
            try collect(definition.fields)
        }
    }

    // MARK: Versions

    func presence(_ versions: VersionRange) -> Presence {
        let inRange = versions.intersection(range)
        if inRange.isEmpty { return .never }
        var parts: [String] = []
        if inRange.lo > range.lo { parts.append("version >= \(inRange.lo)") }
        if inRange.hi < range.hi { parts.append("version <= \(inRange.hi)") }
        return parts.isEmpty ? .always : .when(parts.joined(separator: " && "))
    }

    func boolExpression(_ versions: VersionRange) -> String {
        switch presence(versions) {
        case .never: "false"
        case .always: "true"
        case .when(let condition): condition
        }
    }

    /// The versions in which the field is a regular (not tagged) field, and those in which it is tagged.
    func split(_ field: Field) throws -> (regular: VersionRange, tagged: VersionRange) {
        let all = field.versions.intersection(range)
        let tagged = field.taggedVersions.intersection(all)
        if tagged.isEmpty { return (all, .none) }
        guard tagged.hi == all.hi else { throw CodegenError("\(schema.name).\(field.name): tagged versions are not a suffix") }
        guard field.tag != nil else { throw CodegenError("\(schema.name).\(field.name): tagged without a tag") }
        return (VersionRange(lo: all.lo, hi: tagged.lo - 1), tagged)
    }

    var isFlexibleBody: String {
        let flexible = schema.flexibleVersions
        if flexible.isEmpty { return "false" }
        if flexible.hi == Int.max { return flexible.lo == 0 ? "true" : "version >= \(flexible.lo)" }
        return "version >= \(flexible.lo) && version <= \(flexible.hi)"
    }

    var everFlexible: Bool { !schema.flexibleVersions.intersection(range).isEmpty }

    // MARK: Types

    static func primitiveSwiftType(_ type: FieldType) -> String? {
        switch type {
        case .int8: "Int8"
        case .int16: "Int16"
        case .int32: "Int32"
        case .int64: "Int64"
        case .uint16: "UInt16"
        case .float64: "Double"
        case .bool: "Bool"
        case .string: "String"
        case .uuid: "KafkaUUID"
        case .errorCode: "KafkaErrorCode"
        default: nil
        }
    }

    func baseSwiftType(_ type: FieldType) -> String {
        switch type {
        case .bytes: "[UInt8]"
        case .records: "ByteBuffer"
        case .array(let element): "[\(baseSwiftType(element))]"
        case .structure(let name): name
        default: Self.primitiveSwiftType(type)!
        }
    }

    func isOptional(_ field: Field) -> Bool {
        field.type == .records || field.isNullableAnywhere
    }

    func swiftType(_ field: Field) -> String {
        baseSwiftType(field.type) + (isOptional(field) ? "?" : "")
    }

    func defaultExpression(_ field: Field) throws -> String {
        if field.defaultValue == .text("null") {
            guard isOptional(field) else { throw CodegenError("\(schema.name).\(field.name): null default on a non-nullable field") }
            return "nil"
        }
        switch field.type {
        case .int8, .int16, .int32, .int64, .uint16:
            return try integerDefault(field).map(String.init) ?? "0"
        case .errorCode:
            let code = try integerDefault(field) ?? 0
            return code == 0 ? ".none" : "KafkaErrorCode(rawValue: \(code))"
        case .float64:
            switch field.defaultValue {
            case .text(let text), .number(let text): return Double(text).map { "\($0)" } ?? "0.0"
            default: return "0.0"
            }
        case .bool:
            switch field.defaultValue {
            case .bool(let value): return "\(value)"
            case .text(let text): return text == "true" ? "true" : "false"
            default: return "false"
            }
        case .string:
            if case .text(let text) = field.defaultValue { return Self.stringLiteral(text) }
            return "\"\""
        case .bytes, .array: return "[]"
        case .records: return "nil"
        case .uuid: return "KafkaUUID.zero"
        case .structure(let name): return "\(name)()"
        }
    }

    func integerDefault(_ field: Field) throws -> Int64? {
        let text: String
        switch field.defaultValue {
        case .text(let value), .number(let value): text = value
        default: return nil
        }
        if text.hasPrefix("0x"), let value = Int64(text.dropFirst(2), radix: 16) { return value }
        if text.hasPrefix("-0x"), let value = Int64(text.dropFirst(3), radix: 16) { return -value }
        guard let value = Int64(text) else { throw CodegenError("\(schema.name).\(field.name): bad default \(text)") }
        return value
    }

    static func stringLiteral(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init", "inout",
        "internal", "let", "open", "operator", "private", "protocol", "public", "rethrows", "static", "struct",
        "subscript", "typealias", "var", "break", "case", "continue", "default", "defer", "do", "else",
        "fallthrough", "for", "guard", "if", "in", "repeat", "return", "switch", "where", "while", "as", "Any",
        "catch", "false", "is", "nil", "super", "self", "Self", "throw", "throws", "true", "try", "package", "any",
        "some", "Type",
    ]

    static func propertyName(_ field: Field) -> String {
        let name = field.name.prefix(1).lowercased() + field.name.dropFirst()
        return keywords.contains(name) ? "`\(name)`" : name
    }

    // MARK: Reading and writing

    func compactExpression(_ field: Field) -> String {
        if let override = field.flexibleVersions { return boolExpression(override) }
        return "flexible"
    }

    func readExpression(_ field: Field, from buffer: String, compact: String, what: String) -> String {
        let nullable = boolExpression(field.nullableVersions)
        let optional = isOptional(field)
        switch field.type {
        case .int8, .int16, .int32, .int64, .uint16: return "try \(buffer).readKafkaInteger(\(what))"
        case .errorCode: return "try \(buffer).readKafkaErrorCode(\(what))"
        case .float64: return "try \(buffer).readKafkaFloat64(\(what))"
        case .bool: return "try \(buffer).readKafkaBool(\(what))"
        case .uuid: return "try \(buffer).readKafkaUUID(\(what))"
        case .string:
            return optional
                ? "try \(buffer).readKafkaNullableString(compact: \(compact), nullable: \(nullable), \(what))"
                : "try \(buffer).readKafkaString(compact: \(compact), \(what))"
        case .bytes:
            return optional
                ? "try \(buffer).readKafkaNullableBytes(compact: \(compact), nullable: \(nullable), \(what))"
                : "try \(buffer).readKafkaBytes(compact: \(compact), \(what))"
        case .records:
            return "try \(buffer).readKafkaRecords(compact: \(compact), nullable: \(nullable), \(what))"
        case .array(let element):
            if case .structure = element {
                return optional
                    ? "try \(buffer).readKafkaNullableStructArray(version: version, compact: \(compact), nullable: \(nullable), \(what))"
                    : "try \(buffer).readKafkaStructArray(version: version, compact: \(compact), \(what))"
            }
            return optional
                ? "try \(buffer).readKafkaNullableArray(compact: \(compact), nullable: \(nullable), \(what))"
                : "try \(buffer).readKafkaArray(compact: \(compact), \(what))"
        case .structure(let name):
            return optional
                ? "try \(buffer).readKafkaNullableStruct(version: version, nullable: \(nullable), \(what))"
                : "try \(name)(from: &\(buffer), version: version)"
        }
    }

    func writeStatement(_ field: Field, into buffer: String, compact: String) -> String {
        let value = "self.\(Self.propertyName(field))"
        let nullable = boolExpression(field.nullableVersions)
        let optional = isOptional(field)
        switch field.type {
        case .int8, .int16, .int32, .int64, .uint16: return "\(buffer).writeInteger(\(value))"
        case .errorCode: return "\(buffer).writeKafkaErrorCode(\(value))"
        case .float64: return "\(buffer).writeKafkaFloat64(\(value))"
        case .bool: return "\(buffer).writeKafkaBool(\(value))"
        case .uuid: return "\(buffer).writeKafkaUUID(\(value))"
        case .string:
            return optional
                ? "\(buffer).writeKafkaNullableString(\(value), compact: \(compact), nullable: \(nullable))"
                : "\(buffer).writeKafkaString(\(value), compact: \(compact))"
        case .bytes:
            return optional
                ? "\(buffer).writeKafkaNullableBytes(\(value), compact: \(compact), nullable: \(nullable))"
                : "\(buffer).writeKafkaBytes(\(value), compact: \(compact))"
        case .records:
            return "\(buffer).writeKafkaRecords(\(value), compact: \(compact), nullable: \(nullable))"
        case .array(let element):
            if case .structure = element {
                return optional
                    ? "\(buffer).writeKafkaNullableStructArray(\(value), version: version, compact: \(compact), nullable: \(nullable))"
                    : "\(buffer).writeKafkaStructArray(\(value), version: version, compact: \(compact))"
            }
            return optional
                ? "\(buffer).writeKafkaNullableArray(\(value), compact: \(compact), nullable: \(nullable))"
                : "\(buffer).writeKafkaArray(\(value), compact: \(compact))"
        case .structure(let name):
            return optional
                ? "\(buffer).writeKafkaNullableStruct(\(value), version: version, nullable: \(nullable), fallback: \(name)())"
                : "\(value).encode(into: &\(buffer), version: version)"
        }
    }

    static func guarded(_ presence: Presence, _ statement: String, indent: String) -> [String] {
        switch presence {
        case .never: []
        case .always: [indent + statement]
        case .when(let condition): [indent + "if \(condition) { \(statement) }"]
        }
    }

    // MARK: Struct bodies

    /// Properties, memberwise init, decoder and encoder of one struct. `owner` is the top-level
    /// type whose `isFlexible` applies.
    func body(name: String, fields: [Field], owner: String, indent: String) throws -> [String] {
        var lines: [String] = []
        let inner = indent + "    "
        for field in fields {
            lines.append("\(indent)package var \(Self.propertyName(field)): \(swiftType(field))")
        }
        lines.append("\(indent)package var unknownTaggedFields: [TaggedField]")
        lines.append("")

        // Memberwise init, every parameter defaulted.
        var parameters: [String] = []
        for field in fields {
            parameters.append("\(Self.propertyName(field)): \(swiftType(field)) = \(try defaultExpression(field))")
        }
        parameters.append("unknownTaggedFields: [TaggedField] = []")
        lines.append("\(indent)package init(")
        for (index, parameter) in parameters.enumerated() {
            lines.append("\(inner)\(parameter)\(index == parameters.count - 1 ? "" : ",")")
        }
        lines.append("\(indent)) {")
        for field in fields {
            let property = Self.propertyName(field)
            lines.append("\(inner)self.\(property) = \(property)")
        }
        lines.append("\(inner)self.unknownTaggedFields = unknownTaggedFields")
        lines.append("\(indent)}")
        lines.append("")

        // Decoder.
        var decode: [String] = ["\(inner)self.init()"]
        var taggedFields: [(tag: Int, field: Field, presence: Presence)] = []
        for field in fields {
            let (regular, tagged) = try split(field)
            let what = Self.stringLiteral("\(name).\(field.name)")
            let read = readExpression(field, from: "buffer", compact: compactExpression(field), what: what)
            decode += Self.guarded(presence(regular), "self.\(Self.propertyName(field)) = \(read)", indent: inner)
            if !tagged.isEmpty { taggedFields.append((field.tag!, field, presence(tagged))) }
        }
        taggedFields.sort { $0.tag < $1.tag }
        if Set(taggedFields.map(\.tag)).count != taggedFields.count {
            throw CodegenError("\(schema.name).\(name): duplicate tags")
        }
        let what = Self.stringLiteral("\(name) tagged fields")
        if everFlexible {
            if taggedFields.isEmpty {
                decode.append("\(inner)if flexible { self.unknownTaggedFields = try buffer.readKafkaTaggedFields(\(what)) }")
            } else {
                decode.append("\(inner)if flexible {")
                decode.append("\(inner)    for var raw in try buffer.readKafkaRawTaggedFields(\(what)) {")
                decode.append("\(inner)        switch raw.tag {")
                for (tag, field, presence) in taggedFields {
                    let label = "case \(tag)" + (presence.condition.map { " where \($0)" } ?? "")
                    let fieldWhat = Self.stringLiteral("\(name).\(field.name)")
                    let read = readExpression(field, from: "raw.data", compact: "true", what: fieldWhat)
                    decode.append("\(inner)        \(label): self.\(Self.propertyName(field)) = \(read)")
                }
                decode.append("\(inner)        default: self.unknownTaggedFields.append(raw.unknown)")
                decode.append("\(inner)        }")
                decode.append("\(inner)    }")
                decode.append("\(inner)}")
            }
        }
        if decode.contains(where: { $0.contains("flexible") }) {
            decode.insert("\(inner)let flexible = \(owner).isFlexible(version)", at: 0)
        }
        lines.append("\(indent)package init(from buffer: inout ByteBuffer, version: Int16) throws(KafkaProtocolError) {")
        lines += decode
        lines.append("\(indent)}")
        lines.append("")

        // Encoder.
        var encode: [String] = []
        for field in fields {
            let (regular, _) = try split(field)
            encode += Self.guarded(
                presence(regular), writeStatement(field, into: "buffer", compact: compactExpression(field)), indent: inner)
        }
        if everFlexible {
            if taggedFields.isEmpty {
                encode.append("\(inner)if flexible { buffer.writeKafkaTaggedFields(self.unknownTaggedFields) }")
            } else {
                encode.append("\(inner)if flexible {")
                encode.append("\(inner)    var tagged: [TaggedField] = []")
                for (tag, field, presence) in taggedFields {
                    var condition = "self.\(Self.propertyName(field)) != \(try defaultExpression(field))"
                    if let versions = presence.condition { condition = "\(versions), " + condition }
                    let write = writeStatement(field, into: "$0", compact: "true")
                    encode.append("\(inner)    if \(condition) { tagged.append(TaggedField(tag: \(tag)) { \(write) }) }")
                }
                encode.append("\(inner)    buffer.writeKafkaTaggedFields(self.unknownTaggedFields, known: tagged)")
                encode.append("\(inner)}")
            }
        }
        if encode.contains(where: { $0.contains("flexible") }) {
            encode.insert("\(inner)let flexible = \(owner).isFlexible(version)", at: 0)
        }
        lines.append("\(indent)package func encode(into buffer: inout ByteBuffer, version: Int16) {")
        lines += encode
        lines.append("\(indent)}")
        return lines
    }

    /// The whole top-level struct. `conformance` and `statics` differ between messages and data types.
    func emit(conformance: String, statics: [String]) throws -> [String] {
        var lines = ["package struct \(schema.name): \(conformance) {"]
        lines += statics.map { "    " + $0 }
        lines.append("    package static func isFlexible(_ version: Int16) -> Bool { \(isFlexibleBody) }")
        lines.append("")
        lines += try body(name: schema.name, fields: schema.fields, owner: schema.name, indent: "    ")
        for definition in nested {
            lines.append("")
            lines.append("    package struct \(definition.name): KafkaStruct {")
            lines += try body(name: definition.name, fields: definition.fields, owner: schema.name, indent: "        ")
            lines.append("    }")
        }
        lines.append("}")
        return lines
    }

    // MARK: Test fixtures

    /// A value with a non-default value in every field present in `version`, for round-trip tests.
    func sampleExtension(counter: inout Int) throws -> [String] {
        var lines: [String] = []
        let all = [StructDef(name: schema.name, fields: schema.fields)] + nested
        for definition in all {
            let qualified = definition.name == schema.name ? schema.name : "\(schema.name).\(definition.name)"
            lines.append("extension \(qualified): SampleProviding {")
            lines.append("    static func sample(version: Int16) -> Self {")
            lines.append("        var value = Self()")
            for field in definition.fields {
                counter += 1
                let assignment = "value.\(Self.propertyName(field)) = \(try sampleExpression(field, field.type, counter))"
                lines += Self.guarded(presence(field.versions), assignment, indent: "        ")
            }
            if everFlexible {
                lines.append("        if \(schema.name).isFlexible(version) { value.unknownTaggedFields = [TaggedField(tag: 900, data: [\(counter % 256)])] }")
            }
            lines.append("        return value")
            lines.append("    }")
            lines.append("}")
            lines.append("")
        }
        return lines
    }

    func sampleExpression(_ field: Field, _ type: FieldType, _ n: Int) throws -> String {
        switch type {
        case .int8, .int16, .int32, .int64, .uint16:
            var value = Int64(n % 100 + 1)
            let defaultValue = type == field.type ? try integerDefault(field) ?? 0 : 0
            if value == defaultValue { value += 1 }
            return "\(value)"
        case .errorCode:
            var value = Int64(n % 100 + 1)
            if value == (try integerDefault(field) ?? 0) { value += 1 }
            return "KafkaErrorCode(rawValue: \(value))"
        case .float64: return "\(n).5"
        case .bool: return try defaultExpression(field) == "true" ? "false" : "true"
        case .string: return "\"s\(n)\""
        case .bytes: return "[\(n % 256), 1, 2]"
        case .records: return "ByteBuffer(bytes: [\(n % 256), 9, 8])"
        case .uuid: return "KafkaUUID(high: \(n), low: \(n * 7))"
        case .array(let element): return "[\(try sampleExpression(field, element, n))]"
        case .structure(let name): return "\(schema.name).\(name).sample(version: version)"
        }
    }
}

extension Presence {
    var condition: String? {
        if case .when(let condition) = self { return condition }
        return nil
    }
}
