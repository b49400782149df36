#!/usr/bin/env python3
"""Helpers of Benchmarks/serve/run.sh (standard library only; loopback only).

  bodies  query.fvecs -> one search request body per line (for wrk's search.lua)
  upserts base.fvecs -> one upsert body per line (batches of new points near base rows)
  writer  sends those upserts at a fixed rate for a bounded time, with latency and errors
  text    sequential text searches (CLIP text tower + search) for latency
  report  one JSON summary and a Markdown table from the pieces
"""
import argparse
import array
import json
import random
import statistics
import sys
import time
import urllib.error
import urllib.request


def read_fvecs(path, limit=None):
    rows = []
    with open(path, "rb") as f:
        while limit is None or len(rows) < limit:
            head = f.read(4)
            if len(head) < 4:
                break
            dim = int.from_bytes(head, "little")
            row = array.array("f")
            row.frombytes(f.read(4 * dim))
            if len(row) != dim:
                raise SystemExit(f"{path}: truncated row {len(rows)}")
            rows.append(row)
    return rows


def loopback(url):
    host = urllib.request.urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing to send load to {host}: loopback only")
    return url


def send(method, url, body, timeout=30):
    """One JSON request; returns (status, milliseconds); status 0 for a connection failure."""
    return send_raw(method, url, json.dumps(body).encode(), timeout)


def send_raw(method, url, data, timeout=30):
    """`send` with the body already encoded."""
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except OSError:
        status = 0
    return status, (time.perf_counter() - t0) * 1000


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def cmd_bodies(a):
    queries = read_fvecs(a.queries)
    searches = [{"vector": [round(x, 6) for x in q], "k": a.k, "params": {"ef": a.ef}} for q in queries]
    if a.batch > 1:   # search/batch bodies: `batch` consecutive queries each, cycling through the set
        bodies = [{"searches": [searches[(i + j) % len(searches)] for j in range(a.batch)]}
                  for i in range(0, len(searches), a.batch)]
    else:
        bodies = searches
    with open(a.out, "w") as f:
        for body in bodies:
            f.write(json.dumps(body, separators=(",", ":")) + "\n")
    print(f"wrote {len(bodies)} request bodies to {a.out}", file=sys.stderr)


def cmd_upserts(a):
    """Upsert bodies for `writer`, made before the load starts so that making them takes no CPU
    from the server under test (as wrk's search bodies): batches of near-copies of base rows
    (a row plus uniform noise of +-0.01, 6 decimals), new ids from --first-id upward."""
    base = read_fvecs(a.base, limit=5000)
    rng = random.Random(a.seed)
    next_id = a.first_id
    with open(a.out, "w") as f:
        for _ in range(a.count):
            points = []
            for _ in range(a.batch):
                row = base[rng.randrange(len(base))]
                points.append({"id": next_id, "vector": [round(x + rng.uniform(-0.01, 0.01), 6) for x in row]})
                next_id += 1
            f.write(json.dumps({"points": points}, separators=(",", ":")) + "\n")
    print(f"wrote {a.count} upsert bodies of {a.batch} points to {a.out}", file=sys.stderr)


def cmd_writer(a):
    url = loopback(f"{a.url}/api/v1/collections/{a.collection}/points")
    with open(a.bodies, "rb") as f:
        bodies = [line.rstrip(b"\n") for line in f if line.strip()]
    if not bodies:
        raise SystemExit(f"no upsert bodies in {a.bodies}")
    per_batch = len(json.loads(bodies[0])["points"])
    latencies, errors, written = [], 0, 0
    start = time.monotonic()
    interval = 1.0 / a.rate
    tick = start
    while time.monotonic() - start < a.duration:
        if len(latencies) == len(bodies):
            raise SystemExit(f"{a.bodies} holds {len(bodies)} bodies, fewer than {a.duration} s at {a.rate}/s needs")
        status, ms = send_raw("PUT", url, bodies[len(latencies)])
        latencies.append(ms)
        if status == 200:
            written += per_batch
        else:
            errors += 1
        tick += interval
        time.sleep(max(0.0, tick - time.monotonic()))
    out = {"batches": len(latencies), "vectors": written, "batch": per_batch, "errors": errors,
           "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
           "rate_per_s": len(latencies) / (time.monotonic() - start)}
    json.dump(out, open(a.out, "w"))
    print(f"writer: {out}", file=sys.stderr)


def cmd_text(a):
    url = loopback(f"{a.url}/api/v1/collections/{a.collection}/search")
    queries = [json.loads(l)["query"] for l in open(a.queries) if l.strip()]
    latencies, errors = [], 0
    send("POST", url, {"text": queries[0], "k": 10})  # warm-up
    for i in range(a.n):
        status, ms = send("POST", url, {"text": queries[i % len(queries)], "k": 10})
        latencies.append(ms)
        errors += status != 200
    out = {"requests": a.n, "errors": errors, "p50_ms": percentile(latencies, 50),
           "p99_ms": percentile(latencies, 99), "mean_ms": statistics.mean(latencies)}
    json.dump(out, open(a.out, "w"))
    print(f"text search: {out}", file=sys.stderr)


def cmd_report(a):
    inproc = [json.loads(l) for l in open(a.inprocess) if l.strip().startswith("{")][-1]
    wrk = None
    for line in open(a.wrk):
        if line.startswith("WRKJSON "):
            wrk = json.loads(line[len("WRKJSON "):])
    if wrk is None:
        raise SystemExit(f"{a.wrk}: no WRKJSON line (did wrk run?)")
    writer = json.load(open(a.writer))
    text = json.load(open(a.text))
    errors = sum(wrk["errors"].values()) + writer["errors"] + text["errors"]
    # The load generator shares the cores with the server, so the wall-clock ratio is a lower
    # bound. Per CPU-second of the server process (searches, HTTP, JSON and the concurrent
    # upserts) against `vdb bench`'s queries per CPU-second isolates the server's own cost.
    batch = None
    if a.batch_wrk:
        for line in open(a.batch_wrk):
            if line.startswith("WRKJSON "):
                batch = json.loads(line[len("WRKJSON "):])
        if batch is None:
            raise SystemExit(f"{a.batch_wrk}: no WRKJSON line (did wrk run?)")
        errors += sum(batch["errors"].values())
    cpu = json.load(open(a.server_cpu)) if a.server_cpu else None
    server_cpu_s = cpu["server_cpu_s"] / cpu["ticks_per_s"] if cpu else None
    http_cpu_qps = wrk["requests"] / server_cpu_s if server_cpu_s else None
    summary = {
        "settings": {"clients": a.clients, "duration_s": a.duration, "index": inproc.get("index"),
                     "params": inproc.get("params"), "k": inproc.get("k"), "threads": inproc.get("threads")},
        "http": wrk, "inprocess": inproc, "writer": writer, "text": text,
        "ratio_http_to_inprocess_qps": wrk["qps"] / inproc["qps"] if inproc.get("qps") else None,
        "server_cpu_s": server_cpu_s, "http_cpu_qps": http_cpu_qps,
        "ratio_http_to_inprocess_cpu_qps": http_cpu_qps / inproc["cpu_qps"] if http_cpu_qps and inproc.get("cpu_qps") else None,
        "errors_total": errors,
    }
    if batch:
        summary["http_batch"] = dict(batch, queries_per_request=a.batch_size, query_qps=batch["qps"] * a.batch_size)
        summary["ratio_http_batch_to_inprocess_qps"] = batch["qps"] * a.batch_size / inproc["qps"] if inproc.get("qps") else None
        if a.batch_server_cpu and inproc.get("cpu_qps"):
            bcpu = json.load(open(a.batch_server_cpu))
            batch_cpu_s = bcpu["server_cpu_s"] / bcpu["ticks_per_s"]
            summary["batch_server_cpu_s"] = batch_cpu_s
            summary["http_batch_cpu_qps"] = batch["requests"] * a.batch_size / batch_cpu_s
            summary["ratio_http_batch_to_inprocess_cpu_qps"] = summary["http_batch_cpu_qps"] / inproc["cpu_qps"]
    json.dump(summary, open(a.out, "w"), indent=2)
    ratio = summary["ratio_http_to_inprocess_qps"]
    print(f"| measure | value |\n|---|---|")
    print(f"| HTTP vector search, {a.clients} clients, {a.duration} s | {wrk['qps']:.0f} QPS, p50 {wrk['p50_ms']:.2f} ms, p99 {wrk['p99_ms']:.2f} ms |")
    print(f"| in-process `vdb bench` ({inproc.get('index')} {inproc.get('params')}, {inproc.get('threads')} threads) | {inproc['qps']:.0f} QPS, recall@{inproc.get('k')} {inproc.get('recall', 0):.3f} |")
    print(f"| ratio HTTP / in-process | {ratio:.2f}x (target >= 0.7x; wrk shares the cores) |")
    if summary["ratio_http_to_inprocess_cpu_qps"]:
        print(f"| per CPU-second: HTTP (server process) / in-process | {http_cpu_qps:.0f} / {inproc['cpu_qps']:.0f} = "
              f"{summary['ratio_http_to_inprocess_cpu_qps']:.2f}x (server used {server_cpu_s / a.duration:.2f} cores) |")
    if batch:
        print(f"| HTTP `search/batch`, {a.batch_size} queries a request, {a.clients} clients | "
              f"{batch['qps'] * a.batch_size:.0f} queries/s ({batch['qps']:.0f} requests/s), p50 {batch['p50_ms']:.2f} ms, "
              f"p99 {batch['p99_ms']:.2f} ms; {summary['ratio_http_batch_to_inprocess_qps']:.2f}x in-process |")
        if "ratio_http_batch_to_inprocess_cpu_qps" in summary:
            print(f"| per CPU-second, `search/batch`: HTTP (server process) / in-process | {summary['http_batch_cpu_qps']:.0f} / "
                  f"{inproc['cpu_qps']:.0f} = {summary['ratio_http_batch_to_inprocess_cpu_qps']:.2f}x "
                  f"(server used {summary['batch_server_cpu_s'] / batch['duration_s']:.2f} cores) |")
    print(f"| concurrent upserts | {writer['vectors']} vectors in {writer['batches']} batches of {writer['batch']}, p50 {writer['p50_ms']:.1f} ms, p99 {writer['p99_ms']:.1f} ms |")
    print(f"| text search (demo model), 1 client | p50 {text['p50_ms']:.2f} ms, p99 {text['p99_ms']:.2f} ms |")
    print(f"| errors (must be 0) | {errors} (wrk {wrk['errors']}, writer {writer['errors']}, text {text['errors']}) |")
    if errors:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bodies"); b.add_argument("--queries", required=True); b.add_argument("--out", required=True)
    b.add_argument("--k", type=int, default=10); b.add_argument("--ef", type=int, default=64)
    b.add_argument("--batch", type=int, default=1, help="queries per body (search/batch) when > 1")
    u = sub.add_parser("upserts"); u.add_argument("--base", required=True); u.add_argument("--out", required=True)
    u.add_argument("--count", type=int, required=True, help="bodies (batches) to write")
    u.add_argument("--batch", type=int, default=10); u.add_argument("--first-id", type=int, default=10_000_000)
    u.add_argument("--seed", type=int, default=7)
    w = sub.add_parser("writer"); w.add_argument("--url", required=True); w.add_argument("--collection", required=True)
    w.add_argument("--bodies", required=True, help="upsert bodies from `upserts`, sent in order")
    w.add_argument("--rate", type=float, default=10); w.add_argument("--duration", type=float, required=True)
    w.add_argument("--out", required=True)
    t = sub.add_parser("text"); t.add_argument("--url", required=True); t.add_argument("--collection", default="photos")
    t.add_argument("--queries", required=True); t.add_argument("--n", type=int, default=200); t.add_argument("--out", required=True)
    r = sub.add_parser("report"); r.add_argument("--inprocess", required=True); r.add_argument("--wrk", required=True)
    r.add_argument("--writer", required=True); r.add_argument("--text", required=True); r.add_argument("--out", required=True)
    r.add_argument("--server-cpu", help="server_cpu.json written by run.sh (CPU time of the server during the load)")
    r.add_argument("--batch-wrk", help="wrk output of the search/batch phase"); r.add_argument("--batch-size", type=int, default=1)
    r.add_argument("--batch-server-cpu", help="server_cpu_batch.json: CPU time of the server during the search/batch phase")
    r.add_argument("--clients", type=int, required=True); r.add_argument("--duration", type=int, required=True)
    a = ap.parse_args()
    {"bodies": cmd_bodies, "upserts": cmd_upserts, "writer": cmd_writer, "text": cmd_text, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
