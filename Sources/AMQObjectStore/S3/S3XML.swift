import NIOCore

/// One element of an S3 XML document: its local name (namespace prefix dropped), its text and
/// its child elements. Attributes are not kept; S3's responses carry nothing in them we read.
struct S3XMLNode: Sendable, Equatable {
    var name: String
    var text: String
    var children: [S3XMLNode]

    /// The first child called `name`.
    func child(_ name: String) -> S3XMLNode? { children.first { $0.name == name } }

    /// Every child called `name`, in document order.
    func children(_ name: String) -> [S3XMLNode] { children.filter { $0.name == name } }

    /// The text of the first child called `name`.
    subscript(_ name: String) -> String? { child(name)?.text }
}

/// A small XML reader for S3 responses: elements, text, CDATA, comments, processing instructions,
/// the five named entities and numeric character references. No DTDs, no external entities; the
/// input is bounded by the response-body limit and nesting by ``maximumDepth``.
enum S3XML {
    static let maximumDepth = 32

    struct ParseError: Error, CustomStringConvertible {
        var reason: String
        var offset: Int
        var description: String { "malformed XML at byte \(offset): \(reason)" }
    }

    /// Parses `buffer` and returns the document's root element.
    static func parse(_ buffer: ByteBuffer) throws(ParseError) -> S3XMLNode {
        var reader = Reader(bytes: Array(buffer.readableBytesView))
        return try reader.document()
    }

    static func parse(_ text: String) throws(ParseError) -> S3XMLNode {
        var reader = Reader(bytes: Array(text.utf8))
        return try reader.document()
    }

    /// `text` with `& < > " '` escaped, for element content.
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func document() throws(ParseError) -> S3XMLNode {
            try skipMisc()
            guard peek() == UInt8(ascii: "<") else { throw failure("expected a root element") }
            let root = try element(depth: 0)
            try skipMisc()
            guard index == bytes.count else { throw failure("content after the root element") }
            return root
        }

        /// Whitespace, `<?…?>` and `<!--…-->` between elements at the document level.
        mutating func skipMisc() throws(ParseError) {
            while true {
                while let byte = peek(), isSpace(byte) { index += 1 }
                if starts(with: "<?") {
                    try skip(past: "?>")
                } else if starts(with: "<!--") {
                    try skip(past: "-->")
                } else if starts(with: "<!DOCTYPE") {
                    throw failure("document type declarations are not accepted")
                } else {
                    return
                }
            }
        }

        mutating func element(depth: Int) throws(ParseError) -> S3XMLNode {
            guard depth < S3XML.maximumDepth else { throw failure("elements nested deeper than \(S3XML.maximumDepth)") }
            index += 1  // "<"
            let qualified = name()
            guard !qualified.isEmpty else { throw failure("expected an element name") }
            var node = S3XMLNode(name: localName(qualified), text: "", children: [])
            // Attributes: skipped, but their quoted values may hold '>' and '/'.
            while true {
                guard let byte = peek() else { throw failure("unterminated start tag <\(qualified)>") }
                if byte == UInt8(ascii: "/") {
                    guard peek(at: 1) == UInt8(ascii: ">") else { throw failure("expected '>' after '/'") }
                    index += 2
                    return node
                } else if byte == UInt8(ascii: ">") {
                    index += 1
                    break
                } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    index += 1
                    while let inner = peek(), inner != byte { index += 1 }
                    guard peek() != nil else { throw failure("unterminated attribute value") }
                    index += 1
                } else {
                    index += 1
                }
            }
            var text: [UInt8] = []
            while true {
                guard let byte = peek() else { throw failure("element <\(qualified)> is not closed") }
                if byte != UInt8(ascii: "<") {
                    if byte == UInt8(ascii: "&") { text += try reference() } else { text.append(byte); index += 1 }
                } else if starts(with: "</") {
                    index += 2
                    let closing = name()
                    guard closing == qualified else { throw failure("</\(closing)> closes <\(qualified)>") }
                    while let inner = peek(), isSpace(inner) { index += 1 }
                    guard peek() == UInt8(ascii: ">") else { throw failure("expected '>' in </\(closing)>") }
                    index += 1
                    node.text = String(decoding: text, as: UTF8.self)
                    return node
                } else if starts(with: "<![CDATA[") {
                    index += 9
                    let start = index
                    try skip(past: "]]>")
                    text += bytes[start..<(index - 3)]
                } else if starts(with: "<!--") {
                    try skip(past: "-->")
                } else if starts(with: "<?") {
                    try skip(past: "?>")
                } else {
                    node.children.append(try element(depth: depth + 1))
                }
            }
        }

        /// `&amp;`, `&#34;`, `&#x22;` and friends, as UTF-8.
        mutating func reference() throws(ParseError) -> [UInt8] {
            let start = index
            index += 1
            while let byte = peek(), byte != UInt8(ascii: ";") {
                guard index - start < 12 else { throw failure("unterminated entity reference") }
                index += 1
            }
            guard peek() != nil else { throw failure("unterminated entity reference") }
            let body = String(decoding: bytes[(start + 1)..<index], as: UTF8.self)
            index += 1
            switch body {
            case "amp": return Array("&".utf8)
            case "lt": return Array("<".utf8)
            case "gt": return Array(">".utf8)
            case "quot": return Array("\"".utf8)
            case "apos": return Array("'".utf8)
            default:
                let value: UInt32?
                if body.hasPrefix("#x") || body.hasPrefix("#X") {
                    value = UInt32(body.dropFirst(2), radix: 16)
                } else if body.hasPrefix("#") {
                    value = UInt32(body.dropFirst(), radix: 10)
                } else {
                    value = nil
                }
                guard let value, let scalar = Unicode.Scalar(value) else { throw failure("unknown entity &\(body);") }
                return Array(String(Character(scalar)).utf8)
            }
        }

        mutating func name() -> String {
            let start = index
            while let byte = peek(), !isSpace(byte), byte != UInt8(ascii: ">"), byte != UInt8(ascii: "/"), byte != UInt8(ascii: "=") {
                index += 1
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        func localName(_ qualified: String) -> String {
            guard let colon = qualified.lastIndex(of: ":") else { return qualified }
            return String(qualified[qualified.index(after: colon)...])
        }

        mutating func skip(past terminator: String) throws(ParseError) {
            let pattern = Array(terminator.utf8)
            while index + pattern.count <= bytes.count {
                if bytes[index..<(index + pattern.count)].elementsEqual(pattern) {
                    index += pattern.count
                    return
                }
                index += 1
            }
            throw failure("missing \(terminator)")
        }

        func starts(with prefix: String) -> Bool {
            let pattern = Array(prefix.utf8)
            return index + pattern.count <= bytes.count && bytes[index..<(index + pattern.count)].elementsEqual(pattern)
        }

        func peek(at offset: Int = 0) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

        func isSpace(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t")
        }

        func failure(_ reason: String) -> ParseError { ParseError(reason: reason, offset: index) }
    }
}
