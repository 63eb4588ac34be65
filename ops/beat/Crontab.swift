import Foundation

/// A crontab schedule with Celery's five fields (`minute hour day_of_month month_of_year
/// day_of_week`, day 0 = Sunday) in an IANA time zone, matched as Celery's `crontab` does: a
/// time is due when *every* field matches (day of month and day of week both, not either as
/// in Vixie cron), on the local wall clock of the zone.
///
/// Daylight saving: a local time that does not exist (the hour skipped in spring) runs at the
/// same wall-clock distance after the jump (02:30 → 03:30), and a local time that happens
/// twice (the hour repeated in autumn) runs once, at its first occurrence, as Celery's
/// wall-clock arithmetic does (Python's `fold=0`).
public struct Crontab: Sendable, Hashable, CustomStringConvertible {
    let minute: CrontabField
    let hour: CrontabField
    let dayOfMonth: CrontabField
    let monthOfYear: CrontabField
    let dayOfWeek: CrontabField
    /// The zone the fields are read in.
    public let timeZone: TimeZone
    /// The expression as written.
    public let expression: String

    /// Parses five space-separated fields.
    /// - Throws: `CrontabError` naming the bad field and why, or when no date ever matches
    ///   (`0 0 30 feb *`).
    public init(_ expression: String, timeZone: TimeZone = .gmt) throws {
        let fields = expression.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw CrontabError("'\(expression)' has \(fields.count) fields, not 5 (minute hour day_of_month month_of_year day_of_week)")
        }
        minute = try CrontabField(fields[0], .minute)
        hour = try CrontabField(fields[1], .hour)
        dayOfMonth = try CrontabField(fields[2], .dayOfMonth)
        monthOfYear = try CrontabField(fields[3], .monthOfYear)
        dayOfWeek = try CrontabField(fields[4], .dayOfWeek)
        self.timeZone = timeZone
        self.expression = fields.joined(separator: " ")
        // A day that exists only in leap years may be 28 years away with a weekday as well.
        guard next(after: Date(timeIntervalSince1970: 946_684_800)) != nil else {
            throw CrontabError("'\(expression)' matches no date")
        }
    }

    /// The expression and its zone.
    public var description: String { "\(expression) (\(timeZone.identifier))" }

    /// The first due time strictly after `date`, or nil when none comes within 30 years.
    public func next(after date: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let start = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        guard var day = LocalDay(year: start.year ?? 1970, month: start.month ?? 1, day: start.day ?? 1) else { return nil }
        let startWall = (hour: start.hour ?? 0, minute: start.minute ?? 0)
        for dayIndex in 0..<(366 * 30) {
            defer { day = day.following }
            guard monthOfYear.contains(day.month), dayOfMonth.contains(day.day), dayOfWeek.contains(day.weekday) else { continue }
            for h in hour.values {
                if dayIndex == 0 && h < startWall.hour { continue }
                for m in minute.values {
                    if dayIndex == 0 && (h, m) <= startWall { continue }
                    let instants = LocalTime.instants(year: day.year, month: day.month, day: day.day, hour: h, minute: m, in: timeZone)
                    if let instant = instants.first(where: { $0 > date }) { return instant }
                }
            }
        }
        return nil
    }
}

/// A crontab expression that cannot be used, and why.
public struct CrontabError: Error, Sendable, CustomStringConvertible {
    /// The field and the reason.
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A calendar day, stepped without Foundation's calendar (fast enough to scan decades).
struct LocalDay {
    let year: Int, month: Int, day: Int

    init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), (1...Self.length(year, month)).contains(day) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    static func length(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    var following: LocalDay {
        if day < Self.length(year, month) { return LocalDay(unchecked: year, month, day + 1) }
        return month == 12 ? LocalDay(unchecked: year + 1, 1, 1) : LocalDay(unchecked: year, month + 1, 1)
    }

    private init(unchecked year: Int, _ month: Int, _ day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// 0 = Sunday, as Celery numbers days of the week (1970-01-01 was a Thursday).
    var weekday: Int {
        ((daysSinceEpoch % 7) + 7 + 4) % 7
    }

    /// Seconds from 1970-01-01T00:00 to this day's midnight, as if in UTC.
    var epochSeconds: Int {
        daysSinceEpoch * 86_400
    }

    /// Days since 1970-01-01, by the civil-from-days inverse.
    private var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// Local wall-clock times to instants, as Python's zoneinfo does.
enum LocalTime {
    /// The instants of a local time in `zone`, earliest first: two in a repeated hour, one
    /// otherwise; in a skipped hour, the one the offset before the change gives, which lies
    /// after the jump (Python's `fold=0`).
    static func instants(year: Int, month: Int, day: Int, hour: Int, minute: Int, in zone: TimeZone) -> [Date] {
        let wall = (LocalDay(year: year, month: month, day: day)?.epochSeconds ?? 0) + hour * 3600 + minute * 60
        // Offsets in force a day either side: a zone changes at most once in between.
        let before = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(wall - 86_400)))
        let after = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(wall + 86_400)))
        let valid = Set([before, after]).map { wall - $0 }.filter { zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double($0))) == wall - $0 }
        return (valid.isEmpty ? [wall - before] : valid.sorted()).map { Date(timeIntervalSince1970: Double($0)) }
    }
}
