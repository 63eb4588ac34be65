import Conveyor
import Foundation

/// JSON as it arrives in bodies and results: parsed, written in both styles, parsed again.
/// Writing what was parsed must give text that parses to a value written the same way (floats,
/// NaN, big integers and escapes included), and the two styles must carry the same value.
/// Then the kombu envelopes are unwrapped and the value goes through Foundation's Codable, as
/// task arguments do, and through `ResultMeta`, as results read from Redis do.
enum JSONTarget {
    static func run(_ data: [UInt8]) {
        let value: JSON
        do {
            value = try JSON.parse(data)
        } catch {
            _ = error.description
            return
        }
        let python = value.serialized(.python)
        let compact = value.serialized(.compact)
        for (style, text) in [(JSON.Style.python, python), (.compact, compact)] {
            guard let again = try? JSON.parse(text) else { return check(false, "Conveyor's own \(style) JSON does not parse") }
            check(again.serialized(style) == text, "\(style) JSON changed when parsed and written again")
            check(again.serialized(.python) == python, "the \(style) style carries a different value than the Python style")
        }
        let unwrapped = value.unwrappingEnvelopes()
        check((try? JSON.parse(unwrapped.serialized(.python))) != nil, "unwrapped envelopes do not parse")
        _ = try? value.decode(Probe.self)
        _ = try? value.decode([Probe].self)
        _ = try? JSON(encoding: value)
        if let meta = ResultMeta(bytes: data) {
            _ = meta.exception?.description
            check(ResultMeta(bytes: meta.serialized) != nil, "result meta Conveyor wrote does not read back")
        }
    }

    /// A task argument type with the shapes Codable decoding must handle (dates via kombu).
    private struct Probe: Codable {
        var int: Int?
        var double: Double?
        var text: String?
        var date: Date?
        var flag: Bool?
        var list: [Probe]?
        var map: [String: Int64]?
        var any: JSON?
    }
}
