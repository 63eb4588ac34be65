import Foundation

/// Writes to standard output at once (no buffering: a reader of a pipe sees every line when it
/// is written). A reader gone (`conveyor events | head`) is not a crash: the write says so.
enum StandardOutput {
    /// Writes `text`; false when standard output is closed.
    @discardableResult
    static func write(_ text: String) -> Bool {
        do {
            try FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
            return true
        } catch {
            return false
        }
    }

    /// Writes `text` on standard error, ignoring a closed one.
    static func note(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
    }
}
