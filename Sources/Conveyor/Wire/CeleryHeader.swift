/// The names of the headers a Celery task message carries that decoding reads, told apart by
/// length first: decoding a task looks at each of its ~19 headers once, and comparing a name
/// against every case in turn cost more than the rest of the header pass (an out-of-line string
/// comparison for each mismatch).
enum CeleryHeader {
    case lang, task, id, shadow, eta, expires, group, groupIndex, retries, timelimit, rootId, parentId
    case argsrepr, kwargsrepr, origin, ignoreResult, replacedTaskNesting, stampedHeaders, stamps, compression

    /// The header `name` is, if it is one of these.
    init?(name: String) {
        // Equal short names are equal in their raw bits, which `==` checks first; a name of
        // another length is never compared at all.
        let header: CeleryHeader? = switch name.utf8.count {
        case 2: name == "id" ? .id : nil
        case 3: name == "eta" ? .eta : nil
        case 4: name == "task" ? .task : name == "lang" ? .lang : nil
        case 5: name == "group" ? .group : nil
        case 6: name == "origin" ? .origin : name == "shadow" ? .shadow : name == "stamps" ? .stamps : nil
        case 7: name == "root_id" ? .rootId : name == "retries" ? .retries : name == "expires" ? .expires : nil
        case 8: name == "argsrepr" ? .argsrepr : nil
        case 9: name == "timelimit" ? .timelimit : name == "parent_id" ? .parentId : nil
        case 10: name == "kwargsrepr" ? .kwargsrepr : nil
        case 11: name == "group_index" ? .groupIndex : name == "compression" ? .compression : nil
        case 13: name == "ignore_result" ? .ignoreResult : nil
        case 15: name == "stamped_headers" ? .stampedHeaders : nil
        case 21: name == "replaced_task_nesting" ? .replacedTaskNesting : nil
        default: nil
        }
        guard let header else { return nil }
        self = header
    }
}
