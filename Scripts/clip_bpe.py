#!/usr/bin/env python3
"""Write the CLIP byte-level BPE tokenizer files in Hugging Face layout.

The OpenAI CLIP vocabulary ships as ``bpe_simple_vocab_16e6.txt.gz`` inside the
``open_clip_torch`` wheel on PyPI (and in OpenAI's ``clip`` package). This module
turns that merges list into the files ``CLIPTokenizer``/``CLIPTokenizerFast``
(and vdb's Swift tokenizer) read:

* ``vocab.json``  49408 entries: the 256 byte-unicode symbols, the same with
  ``</w>``, one entry per merge (the concatenated pair), then
  ``<|startoftext|>`` = 49406 and ``<|endoftext|>`` = 49407.
* ``merges.txt``  ``#version: 0.2`` then the 48894 merges OpenAI uses
  (``merges[1:49152-256-2+1]`` of the gz file, whose first line is a header).
* optionally ``tokenizer_config.json`` and ``special_tokens_map.json``.

Get the merges file (no model hub needed)::

    pip download open_clip_torch --no-deps -d /tmp/oc
    unzip -o /tmp/oc/open_clip_torch-*.whl 'open_clip/bpe_simple_vocab_16e6.txt.gz' -d /tmp/oc

Then::

    python Scripts/clip_bpe.py /tmp/oc/open_clip/bpe_simple_vocab_16e6.txt.gz OUT_DIR [--configs]

``--configs`` also writes ``tokenizer_config.json`` and ``special_tokens_map.json``.
With a venv that has ``transformers`` and ``tokenizers`` the script checks that
``CLIPTokenizerFast`` encodes "a photo of a cat" to
``[49406, 320, 1125, 539, 320, 2368, 49407]``.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys

START_TOKEN = "<|startoftext|>"
END_TOKEN = "<|endoftext|>"
VOCAB_SIZE = 49408
NUM_MERGES = 49152 - 256 - 2  # 48894
EXPECTED_CAT = [49406, 320, 1125, 539, 320, 2368, 49407]


def byte_symbols() -> list[str]:
    """The GPT-2/CLIP reversible byte -> unicode table, in byte order of its values list.

    Printable Latin-1 bytes map to themselves; the remaining bytes map to
    code points 256, 257, ... in increasing byte order. The returned list is in
    the order CLIP builds its vocabulary: the printable ranges first, then the
    remapped bytes.
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("\u00a1"), ord("\u00ac") + 1))
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    )
    byte_order = list(printable)
    code_points = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            byte_order.append(b)
            code_points.append(256 + extra)
            extra += 1
    return [chr(c) for c in code_points]


def read_merges(gz_path: str) -> list[tuple[str, str]]:
    """Read the merges OpenAI's CLIP uses from ``bpe_simple_vocab_16e6.txt.gz``."""
    if not os.path.isfile(gz_path):
        raise FileNotFoundError(f"BPE merges file not found: {gz_path}")
    lines = gzip.open(gz_path).read().decode("utf-8").split("\n")
    lines = lines[1 : NUM_MERGES + 1]
    if len(lines) != NUM_MERGES:
        raise ValueError(f"{gz_path}: expected {NUM_MERGES} merges, found {len(lines)}")
    merges = []
    for n, line in enumerate(lines, start=2):
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{gz_path}: line {n} is not a merge pair: {line!r}")
        merges.append((parts[0], parts[1]))
    return merges


def build_vocab(merges: list[tuple[str, str]]) -> dict[str, int]:
    symbols = byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols]
    tokens += ["".join(m) for m in merges]
    tokens += [START_TOKEN, END_TOKEN]
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != VOCAB_SIZE:
        raise ValueError(f"vocabulary has {len(vocab)} distinct entries, expected {VOCAB_SIZE}")
    return vocab


def write_tokenizer_files(gz_path: str, out_dir: str, configs: bool = True, max_length: int = 77) -> None:
    """Write vocab.json and merges.txt (and, with ``configs``, the HF tokenizer configs) to ``out_dir``."""
    merges = read_merges(gz_path)
    vocab = build_vocab(merges)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    if configs:
        special = {
            "bos_token": START_TOKEN,
            "eos_token": END_TOKEN,
            "unk_token": END_TOKEN,
            "pad_token": END_TOKEN,
        }
        with open(os.path.join(out_dir, "special_tokens_map.json"), "w") as f:
            json.dump(special, f, indent=2)
        config = dict(special)
        config.update(
            {
                "model_max_length": max_length,
                "do_lower_case": True,
                "errors": "replace",
                "add_prefix_space": False,
                "clean_up_tokenization_spaces": True,
                "tokenizer_class": "CLIPTokenizer",
            }
        )
        with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
            json.dump(config, f, indent=2)


def verify(out_dir: str) -> None:
    """Check the files with transformers' fast tokenizer (skipped if it is not installed)."""
    try:
        from transformers import CLIPTokenizerFast
    except ImportError:
        print("transformers not installed: skipping the tokenizer check", file=sys.stderr)
        return
    tok = CLIPTokenizerFast(
        vocab_file=os.path.join(out_dir, "vocab.json"),
        merges_file=os.path.join(out_dir, "merges.txt"),
    )
    ids = tok("a photo of a cat")["input_ids"]
    if ids != EXPECTED_CAT:
        raise AssertionError(f"'a photo of a cat' -> {ids}, expected {EXPECTED_CAT}")
    print(f"tokenizer check ok: 'a photo of a cat' -> {ids}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bpe_gz", help="path to bpe_simple_vocab_16e6.txt.gz")
    ap.add_argument("out_dir")
    ap.add_argument("--configs", action="store_true", help="also write tokenizer_config.json and special_tokens_map.json")
    args = ap.parse_args()
    write_tokenizer_files(args.bpe_gz, args.out_dir, configs=args.configs)
    verify(args.out_dir)


if __name__ == "__main__":
    main()
