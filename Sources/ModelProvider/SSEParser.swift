/// An incremental parser for `text/event-stream` (WHATWG HTML §9.2.6).
///
/// Feed it bytes as they arrive; it returns the events completed so far and keeps the rest.
/// Lines may end in LF, CR or CRLF, even split across chunks.
public struct SSEParser: Sendable {
    public struct Event: Sendable, Hashable {
        public var event: String?
        public var data: String
        public var id: String?

        public init(event: String?, data: String, id: String?) {
            self.event = event
            self.data = data
            self.id = id
        }
    }

    private var line: [UInt8] = []
    private var dataLines: [String] = []
    private var eventName: String?
    private var lastID: String?
    private var sawCarriageReturn = false

    public init() {}

    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            if sawCarriageReturn {
                sawCarriageReturn = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\n"):
                endLine(into: &events)
            case UInt8(ascii: "\r"):
                sawCarriageReturn = true
                endLine(into: &events)
            default:
                line.append(byte)
            }
        }
        return events
    }

    private mutating func endLine(into events: inout [Event]) {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            if !dataLines.isEmpty {
                events.append(Event(event: eventName, data: dataLines.joined(separator: "\n"), id: lastID))
            }
            dataLines.removeAll()
            eventName = nil
            return
        }
        if line.first == UInt8(ascii: ":") { return }  // comment
        let text = String(decoding: line, as: UTF8.self)
        let field: Substring
        var value: Substring
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            value = text[text.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
        } else {
            field = text[...]
            value = ""
        }
        switch field {
        case "data": dataLines.append(String(value))
        case "event": eventName = String(value)
        case "id": lastID = String(value)
        default: break
        }
    }
}
