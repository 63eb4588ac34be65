/// Masks the password in `url`, for logs and errors, even when the URL is malformed.
///
/// The user info is what comes before the last `@` after `scheme://`, or after the start of the
/// text when there is no scheme (as in `user:password@host`); its part after the first `:`
/// becomes `***`.
/// - Parameter bareInfoIsSecret: user info without `:` is a password (Redis), not a user name (AMQP).
public func maskingPassword(in url: String, bareInfoIsSecret: Bool) -> String {
    let start = url.range(of: "://")?.upperBound ?? url.startIndex
    guard let at = url[start...].lastIndex(of: "@") else { return url }
    let info = url[start..<at]
    if let colon = info.firstIndex(of: ":") { return String(url[...colon]) + "***" + String(url[at...]) }
    guard bareInfoIsSecret, !info.isEmpty else { return url }
    return String(url[..<start]) + "***" + String(url[at...])
}

/// Splits a comma-separated list of URLs. A comma belongs to the URL before it when other text
/// follows that does not start a new `scheme://`, so a password with a comma stays in one piece;
/// blank entries come out empty.
public func splitURLList(_ text: String) -> [Substring] {
    var parts: [Substring] = []
    var partStart = text.startIndex
    var index = text.startIndex
    while let comma = text[index...].firstIndex(of: ",") {
        let next = text.index(after: comma)
        let following = text[next...].drop { $0 == " " || $0 == "\t" }
        if following.isEmpty || following.first == "," || startsWithScheme(following) {
            parts.append(text[partStart..<comma])
            partStart = next
        }
        index = next
    }
    parts.append(text[partStart...])
    return parts
}

/// Whether `text` begins with `scheme://` (RFC 3986: a letter, then letters, digits, `+ - .`).
private func startsWithScheme(_ text: Substring) -> Bool {
    guard let first = text.first, first.isASCII, first.isLetter, let end = text.range(of: "://") else { return false }
    return text[..<end.lowerBound].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
}
