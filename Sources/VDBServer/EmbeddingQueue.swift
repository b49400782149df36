/// Bounded concurrency for CLIP embedding (text and image search).
///
/// At most `limit` embeddings run at once; up to `maxWaiting` more requests wait in arrival order
/// for at most `maxWait` each. A request past the queue, or one that waited too long, is refused
/// with 503 and `Retry-After`, so a burst of uploads cannot exhaust memory or starve searches.
/// Requests wait *before* reading their body, so waiting uploads stay in the socket buffers.
actor EmbeddingQueue {
    let limit: Int
    let maxWaiting: Int
    let maxWait: Duration
    private(set) var running = 0
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
    private var nextID: UInt64 = 0
    private(set) var rejected = 0

    init(limit: Int, maxWaiting: Int, maxWait: Duration) {
        self.limit = max(1, limit)
        self.maxWaiting = max(0, maxWaiting)
        self.maxWait = maxWait
    }

    /// Requests waiting for a slot.
    var waiting: Int { waiters.count }

    /// Runs `body` in a slot, waiting for one if all are taken.
    /// - Throws: ``ServerError`` 503 `busy` when the queue is full or the wait timed out; what `body` throws.
    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await enter()
        defer { leave() }
        return try await body()
    }

    private func enter() async throws {
        if running < limit { running += 1; return }
        let retry = max(1, Int(maxWait.components.seconds))
        guard waiters.count < maxWaiting else {
            rejected += 1
            throw ServerError.busy("too many embedding requests: \(limit) running, \(waiters.count) waiting; retry later", retryAfter: retry)
        }
        let id = nextID
        nextID += 1
        let wait = maxWait
        let timer = Task { [weak self] in
            try? await Task.sleep(for: wait)
            await self?.expire(id)
        }
        let admitted = await withCheckedContinuation { waiters.append((id, $0)) }
        timer.cancel()
        if !admitted {
            rejected += 1
            throw ServerError.busy("waited \(wait) for an embedding slot (\(limit) running); retry later", retryAfter: retry)
        }
    }

    /// Hands the slot to the oldest waiter, or frees it.
    private func leave() {
        if waiters.isEmpty {
            running -= 1
        } else {
            waiters.removeFirst().continuation.resume(returning: true)
        }
    }

    private func expire(_ id: UInt64) {
        guard let i = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: i).continuation.resume(returning: false)
    }
}
