import CYAML

/// Parses YAML text into a ``YAMLNode`` tree with libyaml's event API.
///
/// Anchors, aliases and tags are refused: an OpenAPI document uses `$ref` for reuse, and a
/// construct the generator does not model must fail loudly rather than be silently dropped.
public struct YAMLParser {
    public var file: String

    public init(file: String) {
        self.file = file
    }

    public func parse(_ text: String) throws -> YAMLNode {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw Diagnostic(file: file, location: .init(line: 1, column: 1), message: "libyaml could not be initialised")
        }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var reader = EventReader(parser: &parser, file: file)
            return try reader.readDocument()
        }
    }
}

private struct EventReader {
    var parser: UnsafeMutablePointer<yaml_parser_t>
    var file: String

    init(parser: UnsafeMutablePointer<yaml_parser_t>, file: String) {
        self.parser = parser
        self.file = file
    }

    enum Event {
        case streamStart, streamEnd, documentStart, documentEnd
        case scalar(YAMLScalar)
        case sequenceStart(SourceLocation), sequenceEnd
        case mappingStart(SourceLocation), mappingEnd
        case alias(SourceLocation)
    }

    mutating func next() throws -> Event {
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else {
            let problem = parser.pointee.problem.map { String(cString: $0) } ?? "invalid YAML"
            let mark = parser.pointee.problem_mark
            var message = problem
            if let context = parser.pointee.context.map({ String(cString: $0) }) {
                message = "\(problem) \(context)"
            }
            throw Diagnostic(file: file, location: Self.location(mark), message: "YAML syntax: \(message)")
        }
        defer { yaml_event_delete(&event) }
        let location = Self.location(event.start_mark)
        switch event.type {
        case YAML_STREAM_START_EVENT: return .streamStart
        case YAML_STREAM_END_EVENT: return .streamEnd
        case YAML_DOCUMENT_START_EVENT: return .documentStart
        case YAML_DOCUMENT_END_EVENT: return .documentEnd
        case YAML_ALIAS_EVENT: return .alias(location)
        case YAML_SCALAR_EVENT:
            let data = event.data.scalar
            try refuseAnchorAndTag(anchor: data.anchor, tag: data.tag, at: location)
            let value = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
            return .scalar(YAMLScalar(value: value, isPlain: data.style == YAML_PLAIN_SCALAR_STYLE, location: location))
        case YAML_SEQUENCE_START_EVENT:
            let data = event.data.sequence_start
            try refuseAnchorAndTag(anchor: data.anchor, tag: data.implicit == 1 ? nil : data.tag, at: location)
            return .sequenceStart(location)
        case YAML_SEQUENCE_END_EVENT: return .sequenceEnd
        case YAML_MAPPING_START_EVENT:
            let data = event.data.mapping_start
            try refuseAnchorAndTag(anchor: data.anchor, tag: data.implicit == 1 ? nil : data.tag, at: location)
            return .mappingStart(location)
        case YAML_MAPPING_END_EVENT: return .mappingEnd
        default:
            throw Diagnostic(file: file, location: location, message: "unexpected YAML event")
        }
    }

    func refuseAnchorAndTag(anchor: UnsafeMutablePointer<yaml_char_t>?, tag: UnsafeMutablePointer<yaml_char_t>?, at location: SourceLocation) throws {
        if anchor != nil {
            throw Diagnostic(file: file, location: location, message: "YAML anchors are not supported; use $ref to reuse a definition")
        }
        if let tag {
            let name = String(cString: tag)
            throw Diagnostic(file: file, location: location, message: "YAML tag '\(name)' is not supported")
        }
    }

    static func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    mutating func readDocument() throws -> YAMLNode {
        guard case .streamStart = try next() else { throw unexpected("stream start") }
        let first = try next()
        guard case .documentStart = first else {
            throw Diagnostic(file: file, location: .init(line: 1, column: 1), message: "the document is empty")
        }
        let root = try readNode(try next())
        guard case .documentEnd = try next() else { throw unexpected("end of document") }
        if case .documentStart = try next() {
            throw Diagnostic(file: file, location: root.location, message: "more than one YAML document in the file")
        }
        return root
    }

    mutating func readNode(_ event: Event) throws -> YAMLNode {
        switch event {
        case .scalar(let scalar):
            return .scalar(scalar)
        case .alias(let location):
            throw Diagnostic(file: file, location: location, message: "YAML aliases are not supported; use $ref to reuse a definition")
        case .sequenceStart(let location):
            var items: [YAMLNode] = []
            while true {
                let event = try next()
                if case .sequenceEnd = event { break }
                items.append(try readNode(event))
            }
            return .sequence(items, location)
        case .mappingStart(let location):
            var pairs: [YAMLPair] = []
            var seen: [String: SourceLocation] = [:]
            while true {
                let event = try next()
                if case .mappingEnd = event { break }
                guard case .scalar(let key) = event else {
                    throw Diagnostic(file: file, location: location, message: "mapping keys must be scalars")
                }
                if let first = seen[key.value] {
                    throw Diagnostic(
                        file: file,
                        location: key.location,
                        message: "duplicate key '\(key.value)' (first defined at line \(first.line))"
                    )
                }
                seen[key.value] = key.location
                let value = try readNode(try next())
                pairs.append(YAMLPair(key: key, value: value))
            }
            return .mapping(pairs, location)
        default:
            throw unexpected("a value")
        }
    }

    func unexpected(_ what: String) -> Diagnostic {
        Diagnostic(file: file, location: Self.location(parser.pointee.mark), message: "malformed YAML: expected \(what)")
    }
}
