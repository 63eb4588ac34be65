import CFuzzing
import Foundation

/// `conveyor-fuzz TARGET [ARGUMENTS...]`: one fuzz target of Conveyor's decoders.
///
/// Built by `ops/fuzz` with libFuzzer linked in, the arguments are libFuzzer's (options, corpus
/// directories, or files to run once). In a plain `swift build` there is no libFuzzer, and the
/// arguments are files or directories whose inputs are each run through the target once: a
/// crash found by the fuzzer reproduces there under a debugger, without the sanitizers.
@main
enum FuzzCommand {
    static func main() {
        let arguments = CommandLine.arguments
        if arguments.count >= 2, arguments[1] == "list" {
            for target in FuzzTarget.all { print("\(target.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(target.summary)") }
            exit(0)
        }
        guard let target = selectedTarget else {
            guard arguments.count >= 2, !arguments[1].hasPrefix("-") else { usage(exitCode: 2) }
            FileHandle.standardError.write(Data("conveyor-fuzz: no target named '\(arguments[1])' (see conveyor-fuzz list)\n".utf8))
            exit(2)
        }
        let named = arguments.count >= 2 && arguments[1] == target.name
        if conveyor_fuzzer_linked() != 0 {
            // libFuzzer starts this program again, without the name, to minimise a crash or to
            // fork or merge: the environment tells those runs the target.
            setenv(targetVariable, target.name, 1)
            exit(runFuzzer(dropping: named ? 1 : nil))
        }
        exit(replay(target, paths: Array(arguments.dropFirst(named ? 2 : 1))))
    }

    /// Hands libFuzzer the command line without the target name (it would read it as a corpus).
    private static func runFuzzer(dropping index: Int?) -> Int32 {
        var cArguments: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.enumerated()
            .filter { $0.offset != index }
            .map { strdup($0.element) }
        cArguments.append(nil)
        defer { cArguments.forEach { free($0) } }
        var argc = Int32(cArguments.count - 1)
        return cArguments.withUnsafeMutableBufferPointer { buffer in
            var argv = buffer.baseAddress
            return conveyor_fuzzer_run(&argc, &argv) { data, size in
                let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
                selectedTarget?.run(bytes)
                return 0
            }
        }
    }

    /// Runs every file named (or found directly inside a directory named) once.
    private static func replay(_ target: FuzzTarget, paths: [String]) -> Int32 {
        guard !paths.isEmpty else { usage(exitCode: 2) }
        var count = 0
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("conveyor-fuzz: no such file or directory: \(path)\n".utf8))
                return 2
            }
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target.run(Array(data))
                count += 1
            }
        }
        print("conveyor-fuzz: \(target.name): replayed \(count) inputs without libFuzzer")
        return 0
    }

    private static func usage(exitCode: Int32) -> Never {
        FileHandle.standardError.write(Data("""
            usage: conveyor-fuzz TARGET [libFuzzer options] [CORPUS_DIR...]   (built by ops/fuzz)
                   conveyor-fuzz TARGET FILE|DIR...                         (plain build: replay inputs)
                   conveyor-fuzz list
            (CONVEYOR_FUZZ_TARGET=TARGET stands for a missing TARGET)

            """.utf8))
        exit(exitCode)
    }
}

/// Where a target name travels to the runs libFuzzer starts by itself.
let targetVariable = "CONVEYOR_FUZZ_TARGET"

/// The target named on the command line (or by `CONVEYOR_FUZZ_TARGET`), read once: libFuzzer's
/// callback cannot capture it.
let selectedTarget: FuzzTarget? = {
    if CommandLine.arguments.count >= 2, let target = FuzzTarget.named(CommandLine.arguments[1]) { return target }
    return ProcessInfo.processInfo.environment[targetVariable].flatMap(FuzzTarget.named)
}()
