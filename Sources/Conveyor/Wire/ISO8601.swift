import Foundation

/// ISO-8601 as Python's `datetime.isoformat()` writes it and `dateutil.isoparse` reads it.
public enum ISO8601 {
    /// The first second Python's `datetime` holds, 0001-01-01T00:00:00Z, since 1970.
    static let earliestSecond = -62_135_596_800
    /// The last second Python's `datetime` holds, 9999-12-31T23:59:59Z, since 1970.
    static let latestSecond = 253_402_300_799

    /// Whether `date` lies in the years 1…9999, the range Python's `datetime` (and so Celery)
    /// can read back; NaN and infinite dates do not.
    public static func isRepresentable(_ date: Date) -> Bool {
        let interval = date.timeIntervalSince1970
        return interval >= Double(earliestSecond) && interval < Double(latestSecond + 1)
    }

    /// `2026-11-27T15:02:16.728838+00:00`, microseconds omitted when zero (as Python does).
    ///
    /// Total: a date outside `isRepresentable` is written as the nearest one inside (NaN as the
    /// earliest), so no date can trap the conversion; check dates from input with
    /// `isRepresentable` first.
    public static func format(_ date: Date) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        append(date, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `format(date)`'s bytes appended to `out`: no String in between (results on the task path).
    static func append(_ date: Date, into out: inout [UInt8]) {
        let interval = date.timeIntervalSince1970
        var seconds: Int
        var micros: Int
        if interval.isNaN || interval < Double(earliestSecond) {
            (seconds, micros) = (earliestSecond, 0)
        } else if interval >= Double(latestSecond + 1) {
            (seconds, micros) = (latestSecond, 999_999)
        } else {
            seconds = Int(interval.rounded(.down))
            micros = Int(((interval - Double(seconds)) * 1_000_000).rounded())
            if micros >= 1_000_000 {
                seconds += 1
                micros -= 1_000_000
            }
            if seconds > latestSecond { (seconds, micros) = (latestSecond, 999_999) }
        }
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        digits(Int(parts.tm_year) + 1900, 4, into: &out)
        out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2, into: &out)
        out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2, into: &out)
        out.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2, into: &out)
        out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2, into: &out)
        out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2, into: &out)
        if micros > 0 {
            out.append(UInt8(ascii: "."))
            digits(micros, 6, into: &out)
        }
        for byte in "+00:00".utf8 { out.append(byte) }
    }

    /// `value` (0 or more) in decimal, zero-padded to `width` digits.
    private static func digits(_ value: Int, _ width: Int, into out: inout [UInt8]) {
        var divisor = 1
        var count = 1
        while count < width || value / divisor >= 10 {
            divisor *= 10
            count += 1
        }
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8((value / divisor) % 10))
            divisor /= 10
        }
    }

    /// Parses `YYYY-MM-DD[THH:MM[:SS[.ffffff]]][Z|±HH[:MM]]` (a space may replace `T`). A time
    /// without offset is read as UTC, Celery's default timezone. Years run from 0001 to 9999,
    /// as in Python's `datetime`.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        var i = 0
        func number(_ count: Int) -> Int? {
            guard i + count <= b.count else { return nil }
            var value = 0
            for k in 0..<count {
                let c = b[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
            }
            i += count
            return value
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = number(4), year >= 1, expect(UInt8(ascii: "-")), let month = number(2), expect(UInt8(ascii: "-")),
              let day = number(2), (1...12).contains(month), (1...daysIn(month, of: year)).contains(day) else { return nil }
        var hour = 0, minute = 0, second = 0
        var fraction = 0.0
        var offset = 0
        if i < b.count && (b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: " ")) {
            i += 1
            guard let h = number(2) else { return nil }
            hour = h
            if expect(UInt8(ascii: ":")) {
                guard let m = number(2) else { return nil }
                minute = m
                if expect(UInt8(ascii: ":")) {
                    guard let s = number(2) else { return nil }
                    second = s
                    if i < b.count && (b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",")) {
                        i += 1
                        var scale = 0.1
                        let start = i
                        while i < b.count, b[i] >= 48 && b[i] <= 57 {
                            fraction += Double(b[i] - 48) * scale
                            scale /= 10
                            i += 1
                        }
                        guard i > start else { return nil }
                    }
                }
            }
            guard hour < 24, minute < 60, second < 61 else { return nil }
            if i < b.count {
                if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                    i += 1
                } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                    let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
                    i += 1
                    guard let oh = number(2) else { return nil }
                    var om = 0
                    if expect(UInt8(ascii: ":")) {
                        guard let m = number(2) else { return nil }
                        om = m
                    } else if let m = number(2) {
                        om = m
                    }
                    offset = sign * (oh * 3600 + om * 60)
                }
            }
        }
        guard i == b.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = timegm(&parts)
        let date = Date(timeIntervalSince1970: Double(epoch - offset) + fraction)
        // An offset can move 0001-01-01 or 9999-12-31 out of the years a datetime holds, where
        // format would write another time (it clamps).
        return isRepresentable(date) ? date : nil
    }

    /// Days in a month of the proleptic Gregorian calendar (as Python's `datetime` knows them),
    /// so `2026-02-30` is refused rather than read as March 2.
    private static func daysIn(_ month: Int, of year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
