/// A set of slots as a bitmap: what a filter evaluates to, and what a filtered search checks
/// inside its traversal (one load and one bit test per candidate).
struct SlotBitset {
    /// One bit per slot below `slots`.
    private(set) var words: [UInt64]
    /// Slots covered (the collection's slot high-water mark when it was made).
    let slots: Int

    init(slots: Int) {
        self.slots = slots
        words = [UInt64](repeating: 0, count: (slots + 63) >> 6)
    }

    /// Every slot below `slots`.
    static func all(slots: Int) -> SlotBitset {
        var b = SlotBitset(slots: slots)
        for i in 0..<b.words.count { b.words[i] = .max }
        b.clearTail()
        return b
    }

    private mutating func clearTail() {
        let r = slots & 63
        if r != 0, !words.isEmpty { words[words.count - 1] &= (1 << UInt64(r)) - 1 }
    }

    @inline(__always)
    func contains(_ slot: UInt32) -> Bool {
        let w = Int(slot >> 6)
        return w < words.count && words[w] & (1 << UInt64(slot & 63)) != 0
    }

    @inline(__always)
    mutating func insert(_ slot: UInt32) {
        let w = Int(slot >> 6)
        guard w < words.count, Int(slot) < slots else { return }
        words[w] |= 1 << UInt64(slot & 63)
    }

    /// Number of slots in the set.
    var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Number of slots in the set within `range`.
    func count(in range: Range<Int>) -> Int {
        let lo = max(0, range.lowerBound), hi = min(slots, range.upperBound)
        if lo >= hi { return 0 }
        var n = 0
        var w = lo >> 6
        while w <= (hi - 1) >> 6 {
            var bits = words[w]
            if w == lo >> 6 { bits &= UInt64.max << UInt64(lo & 63) }
            if w == (hi - 1) >> 6, hi & 63 != 0 { bits &= (1 << UInt64(hi & 63)) - 1 }
            n += bits.nonzeroBitCount
            w += 1
        }
        return n
    }

    mutating func formIntersection(_ other: SlotBitset) {
        for i in 0..<words.count { words[i] &= i < other.words.count ? other.words[i] : 0 }
    }

    mutating func formUnion(_ other: SlotBitset) {
        for i in 0..<min(words.count, other.words.count) { words[i] |= other.words[i] }
        clearTail()
    }

    mutating func subtract(_ other: SlotBitset) {
        for i in 0..<min(words.count, other.words.count) { words[i] &= ~other.words[i] }
    }

    /// ORs a 65536-slot posting container (1024 words) in at container `chunk`.
    mutating func formUnion(container words: UnsafeBufferPointer<UInt64>, chunk: Int) {
        let base = chunk * 1024
        guard base < self.words.count else { return }
        for i in 0..<min(1024, self.words.count - base) { self.words[base + i] |= words[i] }
        clearTail()
    }

    /// Calls `body` with each slot in the set, in increasing order.
    func forEach(_ body: (UInt32) throws -> Void) rethrows {
        for (w, word) in words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                try body(UInt32(w << 6 | bits.trailingZeroBitCount))
                bits &= bits - 1
            }
        }
    }

    /// A read-only view for index searches, valid inside `body`.
    func withFilter<T>(matches: Int, live: Int, _ body: (SlotFilter) throws -> T) rethrows -> T {
        try words.withUnsafeBufferPointer { w in
            try body(SlotFilter(words: w.baseAddress, wordCount: w.count, matches: matches, live: live))
        }
    }
}

extension SlotBitset {
    /// Calls `body` with the index of each set bit of `words`, in increasing order.
    static func forEachBit(_ words: UnsafeBufferPointer<UInt64>, _ body: (Int) throws -> Void) rethrows {
        for (w, word) in words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                try body(w << 6 | bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
    }
}
