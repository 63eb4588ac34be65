import Conveyor

/// Sends one run of an entry. The scheduler calls it only with a task id derived from the
/// entry and its due time, so sending the same run twice sends the same task.
public protocol BeatPublisher: Sendable {
    /// Sends the run; returns once the broker confirmed it.
    /// - Throws: when it was not confirmed (the run stays unsent and is tried again).
    func publish(_ entry: BeatEntry, taskId: String) async throws
}

/// Sends runs through a `ConveyorClient` (confirmed publishing).
public struct ClientPublisher: BeatPublisher {
    let client: ConveyorClient

    /// - Parameter client: the client whose broker receives the runs.
    public init(client: ConveyorClient) { self.client = client }

    public func publish(_ entry: BeatEntry, taskId: String) async throws {
        var options = entry.options
        options.taskId = taskId
        _ = try await client.send(taskNamed: entry.task, args: entry.args, kwargs: entry.kwargs, options: options)
    }
}
