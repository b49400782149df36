// Structural invariants of the inverted lists, checked by the tests after every mutation.

extension IVFCore {
    /// Checks: each list's entries match its slots in number; every listed slot appears exactly
    /// once, and the slot maps point at its list and position; nothing else is mapped; the live
    /// counter matches; pending removals are listed slots. With `liveSlots`, the listed slots
    /// not pending removal are exactly those slots (the lists cover every live slot once).
    func checkInvariants(liveSlots: Set<UInt32>?) throws {
        func fail(_ what: String) -> VDBError { VDBError.corrupt("IVF invariant: \(what)") }
        try lock.read {
            var listed = Set<UInt32>()
            for l in 0..<nlist {
                guard listData[l].count == listSlots[l].count * entryBytes else {
                    throw fail("list \(l) has \(listSlots[l].count) slots but \(listData[l].count) bytes of entries")
                }
                for (p, s) in listSlots[l].enumerated() {
                    guard listed.insert(s).inserted else { throw fail("slot \(s) is listed twice") }
                    guard Int(s) < slotList.count, slotList[Int(s)] == UInt32(l), slotPos[Int(s)] == UInt32(p) else {
                        throw fail("slot \(s) at list \(l) position \(p) is mapped elsewhere")
                    }
                }
            }
            let mapped = slotList.lazy.filter { $0 != .max }.count
            guard mapped == listed.count else { throw fail("\(mapped) slots mapped, \(listed.count) listed") }
            guard live == listed.count else { throw fail("live counter \(live), \(listed.count) listed") }
            let pending = Set(pendingRemoval)
            guard pending.isSubset(of: listed) else { throw fail("pending removal of unlisted slots \(pending.subtracting(listed).sorted().prefix(5))") }
            if let liveSlots {
                let current = listed.subtracting(pending)
                guard current == liveSlots else {
                    throw fail("lists hold \(current.subtracting(liveSlots).sorted().prefix(5)) not stored, miss \(liveSlots.subtracting(current).sorted().prefix(5))")
                }
            }
        }
    }
}
