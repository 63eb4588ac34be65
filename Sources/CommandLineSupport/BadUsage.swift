import ArgumentParser
import Foundation

extension AsyncParsableCommand {
    /// Parses and runs the command as ArgumentParser's `main()` does, except that bad usage
    /// exits 2 with one line, `name: reason (see name --help)`, on standard error, as Conveyor's
    /// binaries document (ArgumentParser's own default is 64, EX_USAGE, with the usage text).
    /// Help and other exits are unchanged.
    public static func mainExitingTwoOnBadUsage(name: String, usageExitCode: Int32 = 2) async {
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand { try await command.run() } else { try command.run() }
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            FileHandle.standardError.write(Data("\(name): \(message(for: error)) (see \(name) --help)\n".utf8))
            Foundation.exit(usageExitCode)
        }
    }
}
