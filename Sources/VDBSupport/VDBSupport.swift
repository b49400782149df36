// VDBSupport: small internal helpers shared by vdb's modules (VDBCore, VDBCLIP, VDBIngest,
// VDBBench, the benchmark executables and the tests). Not a product: everything here is
// `package`, so no library user sees or depends on it.
//
//   UnsafeTransfer.swift   the one `@unchecked Sendable` box for parallel loops
//   Parallel.swift         parallelFor (dynamic) and parallelRanges (contiguous ranges)
//   Threads.swift          resolvedThreads: 0 = every active core
//   RWLock.swift           writer-preferring readers-writer lock (pthread; Synchronization has
//                          none) and HeldSections, the sections a thread is inside
//   SplitMix64.swift       seeded random numbers, identical on every machine
//   MappedFile.swift       read-only memory map of a whole file
//   ZeroedPages.swift      zero-filled anonymous pages from mmap (no memset, faults on first write)
//   ByteCursor.swift       bounds-checked little-endian reader over bytes
//   Float16.swift          IEEE binary16 -> Float conversion of little-endian buffers
