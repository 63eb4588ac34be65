import Conveyor
import Foundation

extension JSON {
    /// The `patch` of a `diffs.compute` result as bytes, whichever encoding it travelled in.
    var patchBytes: [UInt8] {
        guard let text = self["patch"]?.string else { return [] }
        if self["patch_encoding"]?.string == "base64" { return Data(base64Encoded: text).map { [UInt8]($0) } ?? [] }
        return Array(text.utf8)
    }

    /// The file entry at `path`.
    func file(_ path: String) -> JSON? {
        self["files"]?.array?.first { $0["path"]?.string == path }
    }
}

/// A readable account of where two byte strings part, for failure messages.
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String {
    let common = zip(a, b).prefix { $0 == $1 }.count
    let context = { (bytes: [UInt8]) in String(decoding: bytes[max(0, common - 80)..<min(bytes.count, common + 80)], as: UTF8.self) }
    return "lengths \(a.count) vs \(b.count), first difference at byte \(common):\n--- ours\n\(context(a))\n--- git\n\(context(b))"
}
