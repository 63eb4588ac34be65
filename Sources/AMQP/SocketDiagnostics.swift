import CRabbitMQ
#if canImport(Glibc)
import Glibc
#endif

/// rabbitmq-c's text for a status code, with errno detail for socket errors.
func statusText(_ status: Int32) -> String {
    let text = String(cString: amqp_error_string2(status))
    let code = errno
    if status == AMQP_STATUS_SOCKET_ERROR.rawValue && code != 0 && code != EINPROGRESS {
        return "\(text) (\(String(cString: strerror(code))))"
    }
    return text
}

/// Why a TCP connect to `host:port` fails ("Connection refused", "No route to host", a DNS
/// error), found by trying once with a timeout; nil when it connects after all.
func connectFailureReason(host: String, port: Int, timeout: Double) -> String? {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    let lookup = getaddrinfo(host, String(port), &hints, &list)
    guard lookup == 0, let first = list else { return "cannot resolve \(host): \(String(cString: gai_strerror(lookup)))" }
    defer { freeaddrinfo(list) }
    var reason = "connection failed"
    var entry: UnsafeMutablePointer<addrinfo>? = first
    while let info = entry {
        entry = info.pointee.ai_next
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue), info.pointee.ai_protocol)
        guard fd >= 0 else { continue }
        defer { close(fd) }
        if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return nil }
        guard errno == EINPROGRESS else {
            reason = String(cString: strerror(errno))
            continue
        }
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) > 0 else {
            reason = "connection timed out after \(timeout) s"
            continue
        }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        if error == 0 { return nil }
        reason = String(cString: strerror(error))
    }
    return reason
}
