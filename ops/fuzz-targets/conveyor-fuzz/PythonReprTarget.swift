import Conveyor

/// Celery's `saferepr` of task arguments (the `argsrepr`/`kwargsrepr` headers), for any JSON
/// and any length limit: the cutting and bracket-closing paths run only past the limit.
///
/// Input: one byte for the limit (× 8, so 0…2040 characters), then the JSON.
enum PythonReprTarget {
    static func run(_ data: [UInt8]) {
        guard let first = data.first, let value = try? JSON.parse(data.dropFirst()) else { return }
        let limit = Int(first) * 8
        switch value {
        case let .array(items):
            _ = PythonRepr.arguments(items, limit: limit)
        case let .object(object):
            _ = PythonRepr.keywords(object, limit: limit)
        default:
            _ = PythonRepr.arguments([value], limit: limit)
        }
    }
}
