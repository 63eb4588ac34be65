/// One of Celery's five crontab fields, parsed as Celery's `crontab_parser` does: `*`, numbers,
/// ranges `a-b` (wrapping past the end when `b < a`, as `fri-mon` or `22-2`), steps `*/n` and
/// `a-b/n`, lists `x,y,z`, and names (`jan`…`dec` in the month field, `sun`…`sat` in the day of
/// week field; only the first three letters count, as in Celery).
struct CrontabField: Sendable, Hashable {
    enum Kind: String, Sendable {
        case minute, hour, dayOfMonth = "day_of_month", monthOfYear = "month_of_year", dayOfWeek = "day_of_week"

        /// The smallest value and how many there are (Celery's `min_` and `max_`).
        var bounds: (min: Int, count: Int) {
            switch self {
            case .minute: (0, 60)
            case .hour: (0, 24)
            case .dayOfMonth: (1, 31)
            case .monthOfYear: (1, 12)
            case .dayOfWeek: (0, 7)
            }
        }

        var names: [String] {
            switch self {
            case .monthOfYear: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
            case .dayOfWeek: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
            default: []
            }
        }
    }

    let kind: Kind
    /// The matching values, sorted.
    let values: [Int]
    /// Whether the field was exactly `*` (Celery treats an unrestricted day of month and month
    /// specially; the matching is the same).
    let isStar: Bool
    private let set: Set<Int>

    func contains(_ value: Int) -> Bool { set.contains(value) }

    /// - Throws: `CrontabError` naming the field and the reason.
    init(_ text: String, _ kind: Kind) throws {
        self.kind = kind
        func refuse(_ why: String) -> CrontabError { CrontabError("\(kind.rawValue) '\(text)': \(why)") }
        guard !text.isEmpty else { throw refuse("empty field") }
        var values = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw refuse("empty part") }
            values.formUnion(try Self.expand(String(part), kind, refuse))
        }
        self.values = values.sorted()
        set = values
        isStar = text == "*"
    }

    private static func expand(_ part: String, _ kind: Kind, _ refuse: (String) -> CrontabError) throws -> [Int] {
        let (low, count) = kind.bounds
        let pieces = part.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let base = String(pieces[0])
        var step = 1
        if pieces.count == 2 {
            guard let parsed = Int(pieces[1]), pieces[1].allSatisfy(\.isASCIIDigit) else { throw refuse("step '\(pieces[1])' is not a number") }
            guard parsed > 0 else { throw refuse("a step must be above 0") }
            guard base == "*" || base.contains("-") else { throw refuse("a step needs '*' or a range before it") }
            step = parsed
        }
        let span: [Int]
        if base == "*" {
            span = Array(low..<(low + count))
        } else {
            let bounds = base.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            let from = try number(String(bounds[0]), kind, refuse)
            if bounds.count == 2 {
                let to = try number(String(bounds[1]), kind, refuse)
                // Wraps around the end, as Celery's parser does.
                span = to < from ? Array(from..<(low + count)) + Array(low...to) : Array(from...to)
            } else {
                span = [from]
            }
        }
        return stride(from: 0, to: span.count, by: step).map { span[$0] }
    }

    private static func number(_ text: String, _ kind: Kind, _ refuse: (String) -> CrontabError) throws -> Int {
        let (low, count) = kind.bounds
        let value: Int
        if !text.isEmpty, text.allSatisfy(\.isASCIIDigit) {
            guard let parsed = Int(text) else { throw refuse("'\(text)' is too large") }
            value = parsed
        } else if text.count >= 3, let index = kind.names.firstIndex(of: text.prefix(3).lowercased()) {
            value = index + low
        } else {
            throw refuse(text.isEmpty ? "a range needs both ends" : "'\(text)' is not a number\(kind.names.isEmpty ? "" : " or a name")")
        }
        guard value >= low, value < low + count else { throw refuse("\(value) is outside \(low)...\(low + count - 1)") }
        return value
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
