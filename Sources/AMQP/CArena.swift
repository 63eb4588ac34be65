import CRabbitMQ
#if canImport(Glibc)
import Glibc
#endif

/// A bump allocator for C structures that must live for exactly one rabbitmq-c call
/// (field tables, property strings). Everything is freed at once when the arena goes away.
package final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var cursor: UnsafeMutableRawPointer?
    private var remaining = 0
    private let blockSize: Int

    private init(blockSize: Int) {
        self.blockSize = blockSize
    }

    /// Runs `body` with an arena that lives until `body` returns. (Swift may end a local's
    /// lifetime at its last use, so arenas are only ever handed out this way.)
    package static func with<T>(blockSize: Int = 4096, _ body: (CArena) throws -> T) rethrows -> T {
        let arena = CArena(blockSize: blockSize)
        return try withExtendedLifetime(arena) { try body(arena) }
    }

    deinit {
        for block in blocks { free(block) }
    }

    /// Returns `count` bytes aligned to 8, valid until the arena is released.
    func allocate(_ count: Int) -> UnsafeMutableRawPointer {
        let size = max(8, (count + 7) & ~7)
        if size > remaining || cursor == nil {
            let capacity = max(blockSize, size)
            // malloc failing means the process is out of memory; there is nothing to recover.
            guard let block = malloc(capacity) else { preconditionFailure("out of memory") }
            blocks.append(block)
            cursor = block
            remaining = capacity
        }
        let pointer = cursor.unsafelyUnwrapped
        cursor = pointer + size
        remaining -= size
        return pointer
    }

    /// Copies `bytes` into the arena as an `amqp_bytes_t`.
    func bytes<C: Collection>(_ bytes: C) -> amqp_bytes_t where C.Element == UInt8 {
        let count = bytes.count
        if count == 0 { return amqp_bytes_t(len: 0, bytes: nil) }
        let pointer = allocate(count)
        let buffer = UnsafeMutableRawBufferPointer(start: pointer, count: count)
        buffer.copyBytes(from: bytes)
        return amqp_bytes_t(len: count, bytes: pointer)
    }

    /// Copies the UTF-8 of `string` into the arena as an `amqp_bytes_t`.
    func bytes(_ string: String) -> amqp_bytes_t {
        var string = string
        return string.withUTF8 { bytes($0) }
    }

    /// A typed array of `count` elements.
    func array<T>(of type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        allocate(MemoryLayout<T>.stride * max(count, 1)).bindMemory(to: T.self, capacity: max(count, 1))
    }
}

extension amqp_bytes_t {
    /// Copies the bytes out (rabbitmq-c reuses its buffers after `amqp_maybe_release_buffers`).
    var array: [UInt8] {
        guard len > 0, let bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: len))
    }

    /// The bytes in place (valid while rabbitmq-c keeps its buffer).
    var buffer: UnsafeBufferPointer<UInt8> {
        guard len > 0, let bytes else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: bytes.assumingMemoryBound(to: UInt8.self), count: len)
    }

    /// `known` itself when the bytes spell it (pass a literal: shared, so no allocation), else
    /// `shortString`.
    func shortString(expecting known: String) -> String {
        buffer.elementsEqual(known.utf8) ? known : shortString
    }

    /// The bytes as a string; invalid UTF-8 is repaired with U+FFFD.
    var string: String {
        guard len > 0, let bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: len), as: UTF8.self)
    }

    /// A short string (a field name or a property such as `reply_to`) as text that can be written
    /// back as one: invalid UTF-8 is repaired with U+FFFD (three bytes for each bad one), then cut
    /// to AMQP's 255 bytes on a character boundary. Repaired but uncut, 255 bad bytes would grow
    /// into a name rabbitmq-c writes with a wrapped length byte, a frame the broker rejects.
    var shortString: String {
        var strings = RecentStrings()
        return shortString(using: &strings)
    }

    /// `shortString`, served from `strings` when the same bytes were decoded lately.
    func shortString(using strings: inout RecentStrings) -> String {
        let text = strings.string(buffer)
        guard text.utf8.count > 255 else { return text }
        var cut = Substring(text)
        while cut.utf8.count > 255 { cut = cut.dropLast() }
        return String(cut)
    }
}
