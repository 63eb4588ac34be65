/// Where an HTTP endpoint listens: `HOST:PORT` (`127.0.0.1:9808`, `0.0.0.0:9808`, `[::1]:9808`),
/// port 0 for any free one.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// The address to bind, without brackets.
    public var host: String
    /// 0 to 65535; 0 lets the kernel choose.
    public var port: Int

    /// - Parameters: every parameter is the field of the same name.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`.
    /// - Returns: the address, or why the text is not one.
    public static func parse(_ text: String) -> Result<ListenAddress, ListenAddressError> {
        guard let colon = text.lastIndex(of: ":") else { return .failure(ListenAddressError("'\(text)' is not HOST:PORT")) }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return .failure(ListenAddressError("'\(text)' names no host (use 0.0.0.0 for every address)")) }
        guard let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            return .failure(ListenAddressError("the port of '\(text)' must be a number in 0...65535"))
        }
        return .success(ListenAddress(host: host, port: port))
    }

    /// `HOST:PORT`, bracketing an IPv6 host.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Why a listen address did not parse.
public struct ListenAddressError: Error, CustomStringConvertible {
    /// One line for the command line's error message.
    public let description: String

    init(_ description: String) { self.description = description }
}
