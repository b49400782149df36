// List-valued flags of `vdb bench` (`--ef 16,32,64`). The enum flags and range checks are in Arguments.swift.
import ArgumentParser
import Foundation
import VDBCore

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
