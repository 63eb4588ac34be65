import Foundation

/// A header task's end, counted towards its chord as Celery 5.7's Redis backend counts it
/// (`RedisBackend.on_chord_part_return`): the part is recorded once per `<tid>:<index>`, the
/// worker whose part completes the chord claims the body's dispatch, joins the results in
/// header order and publishes the body with them — or, when a header task failed, stores the
/// body's FAILURE with `ChordError("Dependency <id> raised <repr>")` and calls its errbacks.
extension Worker {
    /// What recording a header task's end did.
    enum ChordPartOutcome: Equatable {
        /// Counted (or already counted, or the chord was done): nothing more to do here.
        case recorded
        /// This part completed the chord, and its body was published or failed.
        case completed
        /// The chord is complete but another worker holds the body's dispatch claim: if that
        /// worker died, the claim expires (`ChordTimings.claimExpires`) and a retry takes it.
        case claimedElsewhere
    }

    /// Records the end of `message` (a header task: it carries `chord`) in its chord, after its
    /// own state was stored.
    /// - Parameter token: this recording's claim token; the same across retries of it, so a
    ///   retry after a lost reply still owns the claim it took.
    /// - Throws: a Redis error before the body was dispatched or failed; the caller requeues
    ///   the delivery, and the redelivery records the part again (counted once).
    @discardableResult
    func returnChordPart(of message: TaskMessage, state: TaskState, result: JSON, token: String) async throws -> ChordPartOutcome {
        guard let chord = message.chord?.object.map(Signature.init(json:)), let groupId = message.group else { return .recorded }
        let store = client.results
        let part = ChordPart(taskId: message.id, state: state, result: result)
        let counted = try await store.returnChordPart(groupId: groupId, groupIndex: message.groupIndex, part: part, token: token)
        guard !counted.alreadyDone, let total = counted.total, counted.ready == total else { return .recorded }
        if !counted.claimed {
            // Ours from an earlier attempt of this recording, or expired with its holder: taken back.
            guard try await store.extendChordClaim(groupId: groupId, token: token) else { return .claimedElsewhere }
        }
        log(.info, "chord complete", id: message.id, task: message.task, ["group": "\(groupId)", "parts": "\(total)"])
        let parts = try await store.chordParts(groupId: groupId)
        if let failed = parts.first(where: { $0.state.propagates }) {
            let error = ExceptionInfo.chordError("Dependency \(failed.taskId) raised \(ExceptionInfo.pythonRepr(of: failed.result))")
            await failChordBody(chord, error: error, parent: message)
            // A late copy of a header task must not fail the body again (Celery drops the size).
            try await store.dropChordSize(groupId: groupId)
            return .completed
        }
        guard try await store.extendChordClaim(groupId: groupId, token: token) else {
            log(.warning, "chord body not published: its dispatch claim is another worker's now", id: message.id, task: message.task,
                ["group": "\(groupId)"])
            return .claimedElsewhere
        }
        var plan = CanvasPlan()
        expander(parent: message).expand(chord, parentValue: .array(parts.map(\.result)), into: &plan)
        do {
            try await publish(plan)
        } catch {
            log(.error, "chord body not published", id: message.id, task: message.task, ["group": "\(groupId)", "error": "\(error)"])
            await failChordBody(chord, error: .chordError("Callback error: \(error)"), parent: message)
        }
        if try await !store.cleanUpChord(groupId: groupId, token: token) {
            log(.warning, "chord claim lost before cleanup; its data is left to expire", id: message.id, task: message.task,
                ["group": "\(groupId)"])
        }
        return .completed
    }

    /// Celery's `chord_error_from_stack`: the body's errbacks get its id, the body and the rest
    /// of its chain are stored as FAILURE with `error`.
    private func failChordBody(_ body: Signature, error: ExceptionInfo, parent: TaskMessage) async {
        let bodyId = body.taskId ?? TaskID.make()
        log(.error, "chord failed", id: bodyId, task: body.task ?? "?", ["error": "\(error)"])
        await dispatchErrbacks(Signature.list(body.options["link_error"]) ?? [], failedId: bodyId, parent: parent)
        let traceback = error.traceback(task: body.task ?? "celery.chord", id: bodyId, hostname: options.hostname)
        let ids = [bodyId] + (Signature.list(body.options["chain"]) ?? []).compactMap(\.taskId)
        for id in ids {
            _ = await persist(ResultMeta(taskId: id, status: .failure, result: error.json, traceback: traceback, dateDone: Date()),
                              delivery: nil)
        }
    }

    /// Records a header task's end in its chord with retries while Redis is unreachable, then
    /// acknowledges the delivery — or requeues it when the chord's completion is claimed by a
    /// worker that may have died (a redelivery), or Redis stayed down.
    func settleChordPart(of message: TaskMessage, delivery: Delivery, state: TaskState, result: JSON) async {
        let token = TaskID.make().replacingOccurrences(of: "-", with: "")
        let outcome = await withStoreRetries(taskId: message.id, delivery: delivery) {
            try await self.returnChordPart(of: message, state: state, result: result, token: token)
        }
        guard let outcome else { return }
        if outcome == .claimedElsewhere && delivery.redelivered {
            log(.info, "chord part requeued: the chord's completion is claimed by another worker", id: message.id, task: message.task)
            requeueLater(delivery)
            return
        }
        consumer.ack(delivery)
    }

    /// Records a failed or revoked header task's end in its chord (nothing for other tasks).
    /// - Returns: false when Redis stayed down and the delivery was requeued.
    func recordChordPart(of message: TaskMessage, delivery: Delivery, state: TaskState, result: JSON) async -> Bool {
        guard message.chord != nil else { return true }
        let token = TaskID.make().replacingOccurrences(of: "-", with: "")
        return await withStoreRetries(taskId: message.id, delivery: delivery) {
            try await self.returnChordPart(of: message, state: state, result: result, token: token)
        } != nil
    }

    /// A redelivered header task whose SUCCESS an earlier delivery stored before its worker
    /// died: its part is recorded from the stored result (counted once all the same).
    func settleStoredChordPart(of message: TaskMessage, delivery: Delivery) async {
        let meta = await withStoreRetries(taskId: message.id, delivery: delivery) { try await self.client.results.meta(for: message.id) }
        guard let meta else { return }
        await settleChordPart(of: message, delivery: delivery, state: meta?.status ?? .success, result: meta?.result ?? .null)
    }
}
