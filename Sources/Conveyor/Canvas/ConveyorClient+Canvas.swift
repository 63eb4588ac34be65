import Foundation

/// Sending Celery canvases from Swift: chains, groups and chords, published as Celery 5.7's
/// client publishes them, so Python and Swift workers can run any of their tasks.
extension ConveyorClient {
    /// Sends a chord: the header tasks run in parallel; the body runs once all of them finished,
    /// with their results in header order as its first argument.
    ///
    /// The chord size is stored (`celery-taskset-meta-<gid>.s`) before any header task is
    /// published, as Celery's `set_chord_size` does before the last one.
    /// - Returns: the body's handle; its result is the chord's. When a header task fails, the
    ///   body is stored as FAILURE with `ChordError("Dependency <id> raised …")` and its
    ///   `link_error` errbacks run.
    public func chord(header: [Signature], body: Signature, groupId: String? = nil) async throws -> TaskHandle {
        let chord = Signature.chord(header: header, body: body, groupId: groupId)
        try await apply(chord)
        guard let id = chord.resultId else { throw ConveyorError(.invalidArguments, "a chord's body must be a task or a chain") }
        return TaskHandle(id: id, client: self)
    }

    /// Sends a group: every task at once, with the group id and its index in the group.
    /// - Returns: a handle on the members' results, in order; `save()` it to restore it by id.
    public func group(_ tasks: [Signature], groupId: String? = nil) async throws -> GroupHandle {
        let group = Signature.group(tasks, groupId: groupId)
        try await apply(group)
        let ids = (Signature.list(group.kwargs["tasks"]) ?? []).map { $0.resultId ?? "" }
        guard let id = group.taskId, !ids.contains("") else {
            throw ConveyorError(.invalidArguments, "group members must be tasks, chains or chords (nested groups are not supported)")
        }
        return GroupHandle(id: id, taskIds: ids, client: self)
    }

    /// Sends a chain: each step gets the previous step's return value prepended to its
    /// arguments (unless immutable). A group followed by a step becomes a chord, as in Celery.
    /// - Returns: the handle of the chain's last step (or the body of a chord ending it).
    public func chain(_ steps: [Signature]) async throws -> TaskHandle {
        let chain = Signature.chain(steps)
        guard let id = chain.resultId else {
            throw ConveyorError(.invalidArguments, "a chain must end in a task, a chain or a chord (not a group)")
        }
        try await apply(chain)
        return TaskHandle(id: id, client: self)
    }

    /// Publishes a signature of any kind (task, chain, group, chord) as it stands.
    /// - Throws: `invalidArguments` when it publishes nothing (no task name, an empty chain).
    public func apply(_ signature: Signature) async throws {
        var plan = CanvasPlan()
        CanvasExpander(defaultQueue: configuration.defaultQueue, parent: nil).expand(signature, parentValue: nil, into: &plan)
        guard !plan.messages.isEmpty else { throw ConveyorError(.invalidArguments, "the signature holds no task to send") }
        do {
            for chord in plan.chordSizes {
                try await results.setChordSize(groupId: chord.groupId, size: chord.size)
            }
        } catch {
            throw ConveyorError(.backendUnavailable, "result store unavailable: \(error)")
        }
        for (message, queue) in plan.messages {
            try await publish(message, queue: queue)
        }
    }

    /// A group saved by `GroupHandle.save()` or Python's `GroupResult.save()`; nil when none is
    /// stored under `groupId`.
    public func restoreGroup(_ groupId: String) async throws -> GroupHandle? {
        do {
            guard let ids = try await results.restoreGroup(groupId) else { return nil }
            return GroupHandle(id: groupId, taskIds: ids, client: self)
        } catch let error as ConveyorError {
            throw error
        } catch {
            throw ConveyorError(.backendUnavailable, "result store unavailable: \(error)")
        }
    }
}
