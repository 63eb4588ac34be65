#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension String {
    /// `bytes` as a string when they are valid UTF-8, else nil: what `String(validating: bytes,
    /// as: UTF8.self)` gives, without that generic initialiser's type-metadata lookup on every
    /// call (a hot path decodes several strings per task). Decoding repairs each bad sequence
    /// into U+FFFD, which changes the bytes, so the same bytes back mean they were valid.
    public init?(validatingUTF8Bytes bytes: UnsafeBufferPointer<UInt8>) {
        let decoded = String(decoding: bytes, as: UTF8.self)
        guard decoded.hasUTF8(bytes) else { return nil }
        self = decoded
    }

    /// Whether the string's UTF-8 is exactly `bytes`.
    public func hasUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard utf8.count == bytes.count else { return false }
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return true }
        return utf8.withContiguousStorageIfAvailable { own in
            own.baseAddress.map { memcmp($0, base, bytes.count) == 0 } ?? false
        } ?? utf8.elementsEqual(bytes)
    }
}
