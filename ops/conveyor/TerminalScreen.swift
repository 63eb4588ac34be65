import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The terminal `conveyor top` draws on: raw mode (no line editing, no echo, no signals from
/// keys: Ctrl-C arrives as a key), the alternate screen and a hidden cursor, all restored by
/// `restore()`, which every exit path calls. ANSI escapes only (ECMA-48), no curses.
final class TerminalScreen: @unchecked Sendable {
    private let saved: termios
    private var restored = false
    private let lock = NSLock()
    private var keySource: (any DispatchSourceRead)?

    /// Standard input and output are both terminals: the live view can run.
    static var isInteractive: Bool { isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 }

    /// Enters raw mode and the alternate screen.
    /// - Throws: `CLIError` when the terminal's mode cannot be read or set.
    init() throws {
        var mode = termios()
        guard tcgetattr(STDIN_FILENO, &mode) == 0 else { throw CLIError("cannot read the terminal's mode: \(String(cString: strerror(errno)))") }
        saved = mode
        mode.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        mode.c_iflag &= ~tcflag_t(IXON | ICRNL)
        // VMIN 1, VTIME 0: a read returns as soon as one key is there.
        withUnsafeMutableBytes(of: &mode.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(STDIN_FILENO, TCSAFLUSH, &mode) == 0 else {
            throw CLIError("cannot put the terminal in raw mode: \(String(cString: strerror(errno)))")
        }
        Self.write("\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J")
    }

    /// Columns and rows; 80 by 24 when the terminal does not say.
    var size: (columns: Int, rows: Int) {
        var window = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &window) == 0, window.ws_col > 0, window.ws_row > 0 else { return (80, 24) }
        return (Int(window.ws_col), Int(window.ws_row))
    }

    /// Calls `handler` with every byte typed, on a private queue.
    func onKey(_ handler: @escaping @Sendable (UInt8) -> Void) {
        let source = DispatchSource.makeReadSource(fileDescriptor: STDIN_FILENO, queue: DispatchQueue(label: "conveyor.top.keys"))
        source.setEventHandler {
            var bytes = [UInt8](repeating: 0, count: 64)
            let count = read(STDIN_FILENO, &bytes, bytes.count)
            // End of input (the terminal went away) quits, as `q` does.
            guard count > 0 else {
                source.cancel()
                handler(UInt8(ascii: "q"))
                return
            }
            for byte in bytes[..<count] { handler(byte) }
        }
        source.resume()
        lock.withLock { keySource = source }
    }

    /// Draws `lines` from the top left, each cut to the width and cleared to its end (headings
    /// bold), the rest of the screen cleared: one write, so the view never shows half-drawn.
    func draw(_ lines: [TopLine]) {
        let (columns, rows) = size
        let shown = lines.prefix(rows).map { line in
            let text = Self.cut(line.text, to: columns)
            return line.isHeading ? "\u{1B}[1m" + text + "\u{1B}[0m" : text
        }
        Self.write("\u{1B}[H" + shown.joined(separator: "\u{1B}[K\r\n") + "\u{1B}[K\u{1B}[J")
    }

    /// Leaves the alternate screen, shows the cursor and puts the terminal's mode back; only
    /// the first call does anything.
    func restore() {
        let first = lock.withLock {
            defer { restored = true }
            keySource?.cancel()
            return !restored
        }
        guard first else { return }
        Self.write("\u{1B}[?25h\u{1B}[?1049l")
        var mode = saved
        _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &mode)
    }

    deinit {
        restore()
    }

    /// `text` cut to `columns` characters.
    static func cut(_ text: String, to columns: Int) -> String {
        text.count <= columns ? text : String(text.prefix(max(0, columns)))
    }

    private static func write(_ text: String) {
        StandardOutput.write(text)
    }
}
