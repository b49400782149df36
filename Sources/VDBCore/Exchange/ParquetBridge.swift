// Parquet through pyarrow: vdb writes and reads Arrow IPC streams itself and hands Parquet's
// encoding to the reference implementation, a `python3` with pyarrow, over a pipe. No Swift
// Parquet library builds here, and Parquet's writer (Thrift metadata, encodings, compression,
// statistics) is far more than the Arrow IPC framing; pyarrow is maintained by the Arrow project
// and is what the next tier (Milvus bulk import, LanceDB, Spark) is tested against.
//
// Python: `$VDB_PYTHON` if set (a path or a command name), else `python3` on the PATH.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum ParquetBridge {
    /// Reads an Arrow IPC stream on stdin and writes it to the Parquet file argv[1] (written to
    /// a `.partial` file and renamed when complete), in row groups of about 64k rows.
    static let writerScript = """
        import os, sys
        try:
            import pyarrow as pa, pyarrow.parquet as pq
        except ImportError:
            sys.stderr.write("pyarrow is not installed for " + sys.executable + "\\n"); sys.exit(3)
        out = sys.argv[1]
        tmp = out + ".partial"
        try:
            reader = pa.ipc.open_stream(sys.stdin.buffer)
            pending = []
            with pq.ParquetWriter(tmp, reader.schema) as w:
                for batch in reader:
                    pending.append(batch)
                    if sum(b.num_rows for b in pending) >= 65536:
                        w.write_table(pa.Table.from_batches(pending, schema=reader.schema)); pending = []
                if pending:
                    w.write_table(pa.Table.from_batches(pending, schema=reader.schema))
            os.replace(tmp, out)
        except BaseException:
            if os.path.exists(tmp): os.remove(tmp)
            raise
        """

    /// Reads the Parquet file argv[1] and writes it to stdout as an Arrow IPC stream in batches
    /// of 8192 rows, with the types vdb reads: dictionaries decoded, large and view strings as
    /// strings, decimals as doubles, anything else vdb has no metadata type for (timestamps,
    /// dates...) as strings. The row count goes into the schema metadata as `vdb.rows`.
    static let readerScript = """
        import sys
        try:
            import pyarrow as pa, pyarrow.parquet as pq
        except ImportError:
            sys.stderr.write("pyarrow is not installed for " + sys.executable + "\\n"); sys.exit(3)
        pf = pq.ParquetFile(sys.argv[1])
        schema = pf.schema_arrow
        t = pa.types
        def target(ty):
            if t.is_dictionary(ty): return target(ty.value_type)
            if t.is_fixed_size_list(ty): return pa.list_(target(ty.value_type), ty.list_size)
            if t.is_list(ty) or t.is_large_list(ty) or (hasattr(t, "is_list_view") and (t.is_list_view(ty) or t.is_large_list_view(ty))):
                return pa.list_(target(ty.value_type))
            if t.is_integer(ty) or t.is_floating(ty) or t.is_boolean(ty) or t.is_string(ty): return ty
            if t.is_decimal(ty): return pa.float64()
            return pa.string()
        fields = [pa.field(f.name, target(f.type), f.nullable, f.metadata) for f in schema]
        meta = dict(schema.metadata or {})
        meta[b"vdb.rows"] = str(pf.metadata.num_rows).encode()
        out = pa.schema(fields, metadata=meta)
        with pa.ipc.new_stream(sys.stdout.buffer, out) as w:
            for b in pf.iter_batches(batch_size=8192):
                cols = [c if c.type == f.type else c.cast(f.type) for c, f in zip(b.columns, out)]
                w.write_batch(pa.RecordBatch.from_arrays(cols, schema=out))
        """

    /// The Python to run: `python` if given, else `$VDB_PYTHON`, else `python3`.
    static func interpreter(_ python: String?) -> String {
        if let python, !python.isEmpty { return python }
        if let env = ProcessInfo.processInfo.environment["VDB_PYTHON"], !env.isEmpty { return env }
        return "python3"
    }

    /// A running converter.
    final class Converter {
        let process = Process()
        let stderrPath: String
        let python: String
        let file: String

        /// Starts `script` with `arguments`, its stdin or stdout connected to `pipe`.
        init(script: String, file: String, python: String?, stdin: Pipe?, stdout: Pipe?) throws {
            self.python = ParquetBridge.interpreter(python)
            self.file = file
            stderrPath = FileManager.default.temporaryDirectory.appendingPathComponent("vdb-parquet-\(UUID().uuidString).log").path
            _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [self.python, "-c", script, file]
            if let stdin { process.standardInput = stdin }
            if let stdout { process.standardOutput = stdout } else { process.standardOutput = FileHandle.nullDevice }
            process.standardError = FileHandle(forWritingAtPath: stderrPath)
            // A converter that dies must be an error, not a SIGPIPE that kills this process.
            signal(SIGPIPE, SIG_IGN)
            do { try process.run() } catch {
                throw VDBError.io(path: file, message: "cannot start \(self.python) for Parquet: \(error.localizedDescription)")
            }
        }

        deinit {
            if process.isRunning { process.terminate() }
            try? FileManager.default.removeItem(atPath: stderrPath)
        }

        /// Waits for the converter; throws with its error output unless it succeeded.
        func finish() throws {
            process.waitUntilExit()
            guard process.terminationReason == .exit, process.terminationStatus == 0 else { throw failure() }
        }

        /// The converter's own failure, when it failed for a reason other than this process closing
        /// the pipe (waits for it to end: close the pipe first); nil when it succeeded.
        func failureIfFailed() -> VDBError? {
            process.waitUntilExit()
            if process.terminationReason == .exit && process.terminationStatus == 0 { return nil }
            let log = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            return log.contains("BrokenPipeError") ? nil : failure()
        }

        /// The converter's failure as one line (waits for it to end: close its input first).
        func failure() -> VDBError {
            process.waitUntilExit()
            let log = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            let lines = log.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            if process.terminationStatus == 3 || lines.contains(where: { $0.contains("No module named") }) {
                return .io(path: file, message: "Parquet needs pyarrow: \(python) has none (pip install pyarrow, or set VDB_PYTHON "
                    + "to a Python that has it, or use the arrow format and convert it elsewhere)")
            }
            if process.terminationStatus == 127 || lines.contains(where: { $0.contains("No such file") && $0.contains(python) }) {
                return .io(path: file, message: "Parquet needs Python with pyarrow: '\(python)' was not found (set VDB_PYTHON)")
            }
            let last = lines.last ?? "exit status \(process.terminationStatus)"
            return .io(path: file, message: "pyarrow failed: \(last)")
        }
    }
}
