import Foundation

/// Where an image's caption came from.
enum CaptionSource: String, Sendable, Codable {
    /// A sidecar `NAME.txt` next to the image `NAME.jpg`.
    case sidecar
    /// A row of `captions.csv` in the image's folder.
    case csv
    /// A line of `captions.jsonl` in the image's folder.
    case jsonl
}

/// Captions of the images of one folder: sidecar `NAME.txt` files and the folder's
/// `captions.csv` / `captions.jsonl` (columns `file`, `caption`; `file` relative to the folder).
/// A sidecar wins over a table row for the same image.
struct FolderCaptions: Sendable {
    /// Caption and its table per file name (relative to the folder), from the tables.
    private(set) var table: [String: TableCaption] = [:]

    /// A caption read from `captions.csv` or `captions.jsonl`.
    struct TableCaption: Sendable, Hashable {
        var text: String
        var source: CaptionSource
    }
    /// Problems reading the caption tables (a malformed line is reported and skipped).
    private(set) var problems: [WalkProblem] = []
    /// Names of the files in this folder that are caption sources, not images
    /// (sidecars of listed images and the caption tables themselves).
    private(set) var captionFiles: Set<String> = []
    private var sidecars: [String: String] = [:]

    /// The names of the caption tables read in each folder.
    static let tableNames = ["captions.csv", "captions.jsonl"]

    /// Reads the caption sources of `listing`.
    init(listing: DirectoryListing) {
        var byName: [String: FoundFile] = [:]
        for f in listing.files { byName[(f.path as NSString).lastPathComponent] = f }
        for name in byName.keys.sorted() {
            guard let file = byName[name] else { continue }
            if name == "captions.csv" {
                captionFiles.insert(name)
                readCSV(file.path)
            } else if name == "captions.jsonl" {
                captionFiles.insert(name)
                readJSONL(file.path)
            } else if name.lowercased().hasSuffix(".txt") {
                let stem = String(name.dropLast(4))
                // A sidecar belongs to a sibling with the same stem and another extension.
                let hasImageSibling = byName.keys.contains { other in
                    other != name && (other as NSString).deletingPathExtension == stem
                }
                if hasImageSibling {
                    captionFiles.insert(name)
                    if let text = try? String(contentsOfFile: file.path, encoding: .utf8) {
                        sidecars[stem] = text
                    } else {
                        problems.append(WalkProblem(path: file.path, reason: "caption sidecar is not readable UTF-8 text"))
                    }
                }
            }
        }
    }

    /// The caption for the image named `name` in this folder, cleaned of surrounding white space,
    /// or nil when it has none (or an empty one).
    func caption(for name: String) -> (text: String, source: CaptionSource)? {
        let stem = (name as NSString).deletingPathExtension
        if let s = sidecars[stem] {
            let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
            if !t.isEmpty { return (t, .sidecar) }
        }
        if let t = table[name] {
            let clean = t.text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !clean.isEmpty { return (clean, t.source) }
        }
        return nil
    }

    private mutating func readCSV(_ path: String) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            problems.append(WalkProblem(path: path, reason: "captions.csv is not readable UTF-8 text"))
            return
        }
        let rows = FolderCaptions.parseCSV(text)
        guard let header = rows.first?.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }),
              let fileCol = header.firstIndex(of: "file"), let capCol = header.firstIndex(of: "caption") else {
            problems.append(WalkProblem(path: path, reason: "captions.csv needs a header row with columns 'file' and 'caption'"))
            return
        }
        for (i, row) in rows.dropFirst().enumerated() {
            if row.count == 1 && row[0].isEmpty { continue }
            guard row.count > max(fileCol, capCol) else {
                problems.append(WalkProblem(path: path, reason: "line \(i + 2): expected \(header.count) columns, found \(row.count)"))
                continue
            }
            table[row[fileCol].trimmingCharacters(in: .whitespaces)] = TableCaption(text: row[capCol], source: .csv)
        }
    }

    private mutating func readJSONL(_ path: String) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            problems.append(WalkProblem(path: path, reason: "captions.jsonl is not readable UTF-8 text"))
            return
        }
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any],
                  let file = obj["file"] as? String, let caption = obj["caption"] as? String else {
                problems.append(WalkProblem(path: path, reason: "line \(i + 1): expected {\"file\": ..., \"caption\": ...}"))
                continue
            }
            table[file] = TableCaption(text: caption, source: .jsonl)
        }
    }

    /// Parses RFC 4180 CSV: commas, double-quoted fields with "" escapes and embedded newlines.
    static func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var inQuotes = false
        var it = Array(text.unicodeScalars)[...]
        if it.first == "\u{FEFF}" { it = it.dropFirst() }
        var i = it.startIndex
        while i < it.endIndex {
            let c = it[i]
            if inQuotes {
                if c == "\"" {
                    if it.index(after: i) < it.endIndex && it[it.index(after: i)] == "\"" {
                        field.unicodeScalars.append("\""); i = it.index(after: i)
                    } else { inQuotes = false }
                } else { field.unicodeScalars.append(c) }
            } else if c == "\"" {
                inQuotes = true
            } else if c == "," {
                row.append(field); field = ""
            } else if c == "\n" || c == "\r" {
                if c == "\r" && it.index(after: i) < it.endIndex && it[it.index(after: i)] == "\n" { i = it.index(after: i) }
                row.append(field); field = ""
                rows.append(row); row = []
            } else { field.unicodeScalars.append(c) }
            i = it.index(after: i)
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }
}
