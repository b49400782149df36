import Dispatch
import Foundation
import Synchronization

/// A fixed number of threads that run the server's blocking reads (searches, point reads,
/// thumbnails), first come, first served; requests beyond that wait in line without a thread.
///
/// Why not a concurrent `DispatchQueue`: it starts a thread per waiting request. Under 32 clients
/// sending batch searches (each itself spread over every core), the load test had 60+ runnable
/// search threads, so the one writer thread got a 1/60 share of the CPU: upserts took 450 ms at
/// p50 and only 3 of the 10 batches a second got through. With as many search threads as cores,
/// the writer competes with a handful of threads, and searches lose nothing: more threads than
/// cores cannot search faster.
///
/// `Sendable`: the queue and counters live in a `Mutex`; the semaphore counts queued jobs (and,
/// at the end, stop signals).
final class ReadPool: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var head = 0
        var busy = 0
        var stopping = false
    }

    /// What the worker threads share with the pool (they must not keep the pool alive).
    private final class Shared: Sendable {
        let state = Mutex(State())
        let pending = DispatchSemaphore(value: 0)
    }

    private let shared = Shared()
    /// Number of threads.
    let threads: Int

    /// Starts `threads` (at least 1) worker threads.
    init(threads: Int) {
        self.threads = max(1, threads)
        for i in 0..<self.threads {
            let thread = Thread { [shared] in Self.work(shared) }
            thread.name = "vdb.serve.read.\(i)"
            thread.start()
        }
    }

    /// Workers finish the jobs already queued, then exit.
    deinit {
        shared.state.withLock { $0.stopping = true }
        for _ in 0..<threads { shared.pending.signal() }
    }

    /// Queues `job`; it runs on one of the pool's threads.
    func submit(_ job: @escaping @Sendable () -> Void) {
        shared.state.withLock { $0.jobs.append(job) }
        shared.pending.signal()
    }

    /// Threads not running a job right now.
    var idleThreads: Int { shared.state.withLock { max(0, threads - $0.busy) } }

    private static func work(_ shared: Shared) {
        while true {
            shared.pending.wait()
            let job: (@Sendable () -> Void)? = shared.state.withLock { s in
                guard s.head < s.jobs.count else { return nil }  // a stop signal
                let job = s.jobs[s.head]
                s.head += 1
                if s.head == s.jobs.count { s.jobs.removeAll(keepingCapacity: true); s.head = 0 }
                s.busy += 1
                return job
            }
            guard let job else {
                if shared.state.withLock({ $0.stopping }) { return }
                continue
            }
            job()
            shared.state.withLock { $0.busy -= 1 }
        }
    }
}
