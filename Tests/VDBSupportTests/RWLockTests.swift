import Foundation
import Synchronization
import Testing
import VDBSupport

/// `RWLock` prefers writers (a waiting writer keeps new readers out), and a thread that already
/// holds the lock can enter it again without waiting behind a writer.
struct RWLockTests {
    /// The order in which threads got into their critical sections.
    final class Log: Sendable {
        private let entries = Mutex<[String]>([])
        func append(_ s: String) { entries.withLock { $0.append(s) } }
        var all: [String] { entries.withLock { $0 } }
    }

    /// Polls `condition` every millisecond for up to `seconds`; whether it became true.
    static func eventually(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(1000)
        }
        return condition()
    }

    /// Starts `body` on a new thread; `done` is signalled when it returns.
    static func spawn(_ done: DispatchSemaphore, _ body: @escaping @Sendable () -> Void) {
        Thread { body(); done.signal() }.start()
    }

    /// R1 holds the lock shared; W asks for it exclusively and waits; R2 then asks for it shared.
    /// R2 must not get in before W. `tryRead` failing while only a reader holds the lock shows W
    /// is queued and blocking readers (glibc's default lock, which prefers readers, lets it in
    /// and fails here); the log shows W went first once R1 left.
    @Test func aWaitingWriterGoesBeforeNewReaders() {
        let lock = RWLock()
        let log = Log()
        let r1Holds = DispatchSemaphore(value: 0), releaseR1 = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        Self.spawn(done) { lock.read { r1Holds.signal(); releaseR1.wait() } }
        r1Holds.wait()
        Self.spawn(done) { lock.write { log.append("W") } }
        // Only a queued writer makes a shared try fail while R1 holds the lock shared; however
        // slow W is to start, this cannot be true before it waits.
        let writerBlocksReaders = Self.eventually(seconds: 5) { lock.tryRead { true } == nil }
        #expect(writerBlocksReaders, "a new reader got the lock while a writer waited")
        Self.spawn(done) { lock.read { log.append("R2") } }
        usleep(50_000)  // lets R2 reach its `read`; the checks below hold however late it gets there
        #expect(log.all.isEmpty, "R2 got in while R1 held the lock and W waited")
        releaseR1.signal()
        for _ in 0..<3 { #expect(done.wait(timeout: .now() + 10) == .success) }
        #expect(log.all == ["W", "R2"])
    }

    /// A thread that holds the lock shared and reads again while a writer waits is not queued
    /// behind the writer (which waits for that very thread): both finish.
    @Test func aNestedReadDoesNotWaitBehindAWaitingWriter() {
        let lock = RWLock()
        let log = Log()
        let holds = DispatchSemaphore(value: 0), nest = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        Self.spawn(done) {
            lock.read {
                holds.signal()
                nest.wait()
                lock.read { log.append("nested") }
            }
        }
        holds.wait()
        Self.spawn(done) { lock.write { log.append("W") } }
        #expect(Self.eventually(seconds: 5) { lock.tryRead { true } == nil }, "the writer never blocked readers")
        nest.signal()
        for _ in 0..<2 { #expect(done.wait(timeout: .now() + 10) == .success, "deadlock: nested read behind a waiting writer") }
        #expect(log.all == ["nested", "W"])
    }

    /// Reads and writes nested in a write of the same lock run at once; sections on different
    /// locks nest normally; the lock is free again afterwards.
    @Test func sectionsNestInsideAWrite() {
        let a = RWLock(), b = RWLock()
        let r = a.write { a.read { a.write { b.read { 7 } } } }
        #expect(r == 7)
        #expect(a.tryRead { true } == true)
        #expect(b.tryRead { true } == true)
        // A write by another thread gets in now (nothing is left held).
        let done = DispatchSemaphore(value: 0)
        Self.spawn(done) { a.write {}; b.write {} }
        #expect(done.wait(timeout: .now() + 10) == .success)
    }

    /// Readers share the lock: two threads are inside `read` at once.
    @Test func readersShare() {
        let lock = RWLock()
        let inside = DispatchSemaphore(value: 0), leave = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        Self.spawn(done) { lock.read { inside.signal(); leave.wait() } }
        inside.wait()
        Self.spawn(done) { lock.read { _ = inside.signal() } }
        #expect(inside.wait(timeout: .now() + 10) == .success, "a second reader waited for the first")
        leave.signal()
        for _ in 0..<2 { #expect(done.wait(timeout: .now() + 10) == .success) }
    }
}
