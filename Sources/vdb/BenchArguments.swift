// Enum-valued flags of `vdb bench` (`--metric`, `--index`): parsed by ArgumentParser from the
// enums' raw values, which also lists the choices in `--help` and in the error for a bad value.
//
// Merge note: the `cli` branch may declare the same two conformances in Sources/vdb/Arguments.swift;
// a module may declare each conformance once, so keep one copy of each.
import ArgumentParser
import Foundation
import VDBCore

extension Metric: ExpressibleByArgument {}
extension IndexKind: ExpressibleByArgument {}

/// Parses a comma-separated list of integers of at least `minimum` for the flag `name`
/// (`--ef 16,32,64`); the error names the flag and the allowed range.
func parseIntList(_ text: String, flag name: String, minimum: Int = 1) throws -> [Int] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    return try parts.map { part in
        guard let v = Int(part) else {
            throw ValidationError("\(name) wants comma-separated integers >= \(minimum), got '\(part)' in '\(text)'")
        }
        guard v >= minimum else { throw ValidationError("\(name) values must be >= \(minimum), got \(v)") }
        return v
    }
}

/// Throws a range error naming `flag` unless `value >= minimum` (`-k must be >= 1, got 0`).
func requireAtLeast(_ minimum: Int, _ value: Int?, flag: String, note: String = "") throws {
    guard let value, value < minimum else { return }
    throw ValidationError("\(flag) must be >= \(minimum)\(note), got \(value)")
}
