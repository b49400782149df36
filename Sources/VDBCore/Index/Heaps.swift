// Allocation-free binary heaps on (score, slot) pairs packed into one UInt64, used by the search
// loops of IVF and HNSW. Packing maps the float score to an unsigned key with the same order and
// puts the slot in the low bits, so one integer compare orders by score and breaks ties by slot.

/// Packs (score, slot) so that unsigned order is (score, slot) order. NaN sorts last.
@inline(__always)
func packScore(_ score: Float, _ slot: UInt32) -> UInt64 {
    let b = score.bitPattern
    let ordered = (b & 0x8000_0000) != 0 ? ~b : (b | 0x8000_0000)
    return UInt64(ordered) << 32 | UInt64(slot)
}

/// The score of a packed pair.
@inline(__always)
func unpackScore(_ key: UInt64) -> Float {
    let o = UInt32(truncatingIfNeeded: key >> 32)
    let b = (o & 0x8000_0000) != 0 ? (o & 0x7FFF_FFFF) : ~o
    return Float(bitPattern: b)
}

/// The slot of a packed pair.
@inline(__always)
func unpackSlot(_ key: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: key) }

/// A max-heap of packed keys on caller-owned storage (the worst element on top).
struct MaxHeap {
    let base: UnsafeMutablePointer<UInt64>
    var count = 0
    init(_ base: UnsafeMutablePointer<UInt64>) { self.base = base }

    @inline(__always) var top: UInt64 { base[0] }

    @inline(__always)
    mutating func push(_ v: UInt64) {
        var i = count
        count += 1
        while i > 0 {
            let p = (i - 1) >> 1
            let pv = base[p]
            if pv >= v { break }
            base[i] = pv
            i = p
        }
        base[i] = v
    }

    /// Keeps `key` when it is among the best `k` so far and `admit` accepts its slot; `admit` is
    /// asked only for keys that would enter (the common case, a key worse than the top, costs one
    /// compare).
    @inline(__always)
    mutating func offer(_ key: UInt64, k: Int, admit: (UInt32) -> Bool) {
        if count < k {
            if admit(unpackSlot(key)) { push(key) }
        } else if key < top {
            if admit(unpackSlot(key)) { replaceTop(key) }
        }
    }

    /// Replaces the top with `v` and restores the heap.
    @inline(__always)
    mutating func replaceTop(_ v: UInt64) {
        siftDown(v, from: 0)
    }

    @inline(__always)
    mutating func pop() -> UInt64 {
        let t = base[0]
        count -= 1
        if count > 0 { siftDown(base[count], from: 0) }
        return t
    }

    @inline(__always)
    mutating func siftDown(_ v: UInt64, from start: Int) {
        var i = start
        let n = count
        while true {
            var c = 2 * i + 1
            if c >= n { break }
            if c + 1 < n && base[c + 1] > base[c] { c += 1 }
            if base[c] <= v { break }
            base[i] = base[c]
            i = c
        }
        base[i] = v
    }

    /// Empties the heap into `out`, best (smallest) first.
    mutating func drainSorted() -> [(score: Float, slot: UInt32)] {
        let n = count
        var out = [(score: Float, slot: UInt32)](repeating: (0, 0), count: n)
        var i = n - 1
        while count > 0 {
            let v = pop()
            out[i] = (unpackScore(v), unpackSlot(v))
            i -= 1
        }
        return out
    }
}

/// A min-heap of packed keys on caller-owned storage (the best element on top).
struct MinHeap {
    let base: UnsafeMutablePointer<UInt64>
    var count = 0
    init(_ base: UnsafeMutablePointer<UInt64>) { self.base = base }

    @inline(__always) var top: UInt64 { base[0] }

    @inline(__always)
    mutating func push(_ v: UInt64) {
        var i = count
        count += 1
        while i > 0 {
            let p = (i - 1) >> 1
            let pv = base[p]
            if pv <= v { break }
            base[i] = pv
            i = p
        }
        base[i] = v
    }

    @inline(__always)
    mutating func pop() -> UInt64 {
        let t = base[0]
        count -= 1
        let n = count
        if n > 0 {
            let v = base[n]
            var i = 0
            while true {
                var c = 2 * i + 1
                if c >= n { break }
                if c + 1 < n && base[c + 1] < base[c] { c += 1 }
                if base[c] >= v { break }
                base[i] = base[c]
                i = c
            }
            base[i] = v
        }
        return t
    }
}
