import Foundation

/// A property every input must keep. A broken one aborts, which libFuzzer reports as a crash
/// and saves the input for.
func check(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    guard !condition else { return }
    FileHandle.standardError.write(Data("conveyor-fuzz: property broken at \(file):\(line): \(message())\n".utf8))
    abort()
}
