/// Bytes read from a git child and not consumed yet.
struct ReadBuffer {
    private(set) var bytes: [UInt8] = []
    private var start = 0
    /// Where the search for the next newline resumes (a long line arriving in many chunks is
    /// scanned once, not once per chunk).
    private var scanned = 0

    var count: Int { bytes.count - start }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        if start > 65_536 && start * 2 > bytes.count {
            bytes.removeSubrange(0..<start)
            scanned = max(0, scanned - start)
            start = 0
        }
        bytes.append(contentsOf: chunk)
    }

    /// The next line without its `\n`, consumed; nil until a whole line is there.
    mutating func line() -> ArraySlice<UInt8>? {
        guard let end = bytes[max(start, scanned)...].firstIndex(of: UInt8(ascii: "\n")) else {
            scanned = bytes.count
            return nil
        }
        let line = bytes[start..<end]
        start = end + 1
        scanned = start
        return line
    }

    /// The next `length` bytes, consumed; nil until they are all there.
    mutating func take(_ length: Int) -> ArraySlice<UInt8>? {
        guard count >= length else { return nil }
        let slice = bytes[start..<(start + length)]
        start += length
        scanned = start
        return slice
    }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: false)
        start = 0
        scanned = 0
    }
}

/// Reads one answer out of a git child's output as it arrives.
///
/// `consume` is called each time bytes arrive and takes what it can; it returns the answer
/// once it is whole. Only the process's own queue calls it, one request at a time.
protocol GitResponse: AnyObject, Sendable {
    associatedtype Value: Sendable
    func consume(_ buffer: inout ReadBuffer) throws -> Value?
}
