@testable import Redis
import Testing

@Suite("SHA-1 names scripts the way Redis does")
struct SHA1Tests {
    @Test("FIPS 180 vectors and block-boundary lengths hash to what hashlib.sha1 says", arguments: [
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        (String(repeating: "x", count: 55), "cef734ba81a024479e09eb5a75b6ddae62e6abf1"),
        (String(repeating: "x", count: 56), "901305367c259952f4e7af8323f480d59f81335b"),
        (String(repeating: "x", count: 64), "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163"),
    ])
    func vectors(_ input: String, _ digest: String) {
        #expect(SHA1.hex(Array(input.utf8)) == digest)
    }

    @Test("a million 'a's and every byte value hash correctly")
    func longAndBinary() {
        #expect(SHA1.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
        #expect(SHA1.hex((0...255).map { UInt8($0) }) == "4916d6bdb7f78e6803698cab32d1586ea457dfc8")
    }

    @Test("a script's sha1 is the SHA-1 of its UTF-8 source")
    func scriptName() {
        #expect(RedisScript("").sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(RedisScript("abc").sha1 == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }
}
