import Conveyor
import Foundation

/// ISO-8601 times as Python writes them into `eta`/`expires` and kombu envelopes: what parses
/// is written again and must parse to the same instant (to the microsecond the text holds,
/// within a millisecond where a Double holds less). And any Date at all can be written.
///
/// Input: text; its first eight bytes are also read as the bits of a Double for `format`.
enum ISO8601Target {
    static func run(_ data: [UInt8]) {
        if data.count >= 8 {
            let bits = data.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            _ = ISO8601.format(Date(timeIntervalSince1970: Double(bitPattern: bits)))
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let date = ISO8601.parse(text) else { return }
        let written = ISO8601.format(date)
        guard let reread = ISO8601.parse(written) else { return check(false, "'\(text)' parses, but what format wrote for it, '\(written)', does not") }
        check(abs(reread.timeIntervalSince1970 - date.timeIntervalSince1970) <= 0.001,
              "'\(text)' → '\(written)' moved by \(reread.timeIntervalSince1970 - date.timeIntervalSince1970) s")
    }
}
