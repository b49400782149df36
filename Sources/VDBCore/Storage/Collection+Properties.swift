import Foundation

/// Collection-level properties and whole-collection metadata scans.
///
/// Properties are small named strings attached to a collection (for example which CLIP model
/// produced its vectors). They live in the `state` DBI under the collection's key prefix, so they
/// are written atomically, see the same snapshots as the vectors, and vanish with the collection.
extension Collection {
    func propertyKey(_ name: String) -> [UInt8] {
        prefix + [0x70] + Array(name.utf8)  // 0x70 = "p": after the 4-byte state key, never equal to it
    }

    /// The value of property `name`, or nil when it is not set.
    public func property(_ name: String) throws -> String? {
        let key = propertyKey(name)
        return try env.read { txn in
            try txn.get(txn.dbis.state, key).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// All properties of the collection.
    public func properties() throws -> [String: String] {
        let p = propertyKey("")
        return try env.read { txn in
            var out: [String: String] = [:]
            try txn.scan(txn.dbis.state, prefix: p) { k, v in
                out[String(decoding: UnsafeRawBufferPointer(rebasing: k[p.count...]), as: UTF8.self)] =
                    String(decoding: v, as: UTF8.self)
                return true
            }
            return out
        }
    }

    /// Sets (or, with a nil value, removes) properties, all in one transaction.
    public func setProperties(_ values: [String: String?]) throws {
        for name in values.keys where name.isEmpty || name.utf8.count > 200 {
            throw VDBError.invalidArgument("property names must be 1 to 200 bytes (got '\(name)')")
        }
        try env.write { txn in
            guard try txn.get(txn.dbis.state, prefix) != nil else { throw VDBError.collectionNotFound(name) }
            for (k, v) in values {
                if let v { try txn.put(txn.dbis.state, propertyKey(k), Array(v.utf8)) }
                else { _ = try txn.delete(txn.dbis.state, propertyKey(k)) }
            }
        }
    }

    /// Visits the id and metadata of every stored vector that has metadata, in id order, on one
    /// consistent snapshot. `body` returns false to stop early.
    public func forEachMetadata(_ body: (_ id: UInt64, _ metadata: Metadata) throws -> Bool) throws {
        let p = prefix
        try env.read { txn in
            try txn.scan(txn.dbis.metadata, prefix: p) { k, v in
                guard k.count == p.count + 8 else { return true }
                let id = Keys.readBE64(k, at: p.count)
                let payload = try RecordChecksum.open(v, what: "metadata of id \(id) in '\(self.name)'")
                return try body(id, try MetadataCodec.decode(payload))
            }
        }
    }
}
