@testable import Conveyor
import Testing

/// Decoding classifies each header name once, by length first (`CeleryHeader`): every name
/// Celery writes is recognised as itself, and no other name is taken for one.
@Suite("Celery header names")
struct CeleryHeaderTests {
    @Test("each of Celery's 19 header names and compression is recognised, each as a different header")
    func everyName() {
        let names = TaskMessage.celeryHeaderNames.union(["compression"])
        let headers = names.map { CeleryHeader(name: $0) }
        #expect(headers.allSatisfy { $0 != nil })
        #expect(Set(headers.map { "\($0.map { "\($0)" } ?? "nil")" }).count == names.count)
        #expect(CeleryHeader(name: "task") == .task)
        #expect(CeleryHeader(name: "replaced_task_nesting") == .replacedTaskNesting)
    }

    @Test("names of the same lengths, other cases, prefixes and custom headers are not Celery's")
    func nearMisses() {
        for name in ["", "ix", "ETA", "Task", "tasks", "lan", "origins", "root_ie", "argsreps", "timelimits", "x-death",
                     "group_indeX", "ignore-result", "stamped_header_", "replaced_task_nestinG", "compressio"] {
            #expect(CeleryHeader(name: name) == nil, "\(name)")
        }
    }
}
