#!/usr/bin/env python3
"""Write the Chinese-CLIP parity fixtures for vdb's VDBCLIP tests.

As for CLIP (Scripts/make_clip_fixtures.py), no released weights can be downloaded on the build
machines, so parity with Hugging Face `transformers`' `ChineseCLIPModel` is proven on tiny random
checkpoints in the Hugging Face layout, and the tokenizer on the real Chinese-CLIP vocabulary.

Environment the fixtures were generated with: Python 3.11, Debian's torch 1.13
(`apt-get install python3-torch`), transformers 4.40.2, tokenizers 0.19.1, safetensors, numpy,
pillow. For example:

    apt-get install -y python3-torch
    /usr/bin/python3 -m venv --system-site-packages /tmp/zhvenv
    /tmp/zhvenv/bin/pip install transformers==4.40.2
    /tmp/zhvenv/bin/python Scripts/make_chinese_clip_fixtures.py

The real vocabulary (21,128 WordPiece tokens, the one in the released OFA-Sys/chinese-clip-vit-*
checkpoints) is `cn_clip/clip/vocab.txt` in PyPI's `cn-clip` wheel: pass `--vocab FILE` or
`--wheel-dir DIR`; by default the wheel is fetched with `pip download --no-deps cn-clip`.

Outputs (under Tests/VDBCLIPTests/Fixtures/):
  chinese-vocab/vocab.txt           the real 21,128-token vocabulary (tokenizer tests read it)
  references/chinese-tokens.json    hard captions -> BertTokenizerFast ids (and the slow
                                    BertTokenizer's, asserted equal except for listed divergences),
                                    for the default settings and for the other tokenizer options
  tiny-chinese-clip/                float16 ChineseCLIPModel: BERT text tower (2 post-LN layers,
                                    width 32) over a 1,000-token excerpt of the real vocabulary,
                                    ViT 32 px / patch 8; tokenizer_config.json without
                                    model_max_length (vdb's default context: 52); Chinese-CLIP
                                    image processor (exact resize, no crop)
  tiny-chinese-clip-f32/            float32, legacy `text_config_dict`/`vision_config_dict` config,
                                    do_lower_case false, model_max_length 16, gelu vision MLP,
                                    extra tensors (pooler, position_ids) the loader must ignore
  references/tiny-chinese-clip.json, references/tiny-chinese-clip-f32.json
                                    ids, text/image embeddings, logits, zero-shot probabilities,
                                    pixel values, and one image file through the HF processor
"""
import argparse
import json
import os

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import (BertTokenizer, BertTokenizerFast, ChineseCLIPConfig, ChineseCLIPImageProcessor,
                          ChineseCLIPModel)

# Shared with the CLIP fixtures (this script's folder is on sys.path when it runs).
from make_clip_fixtures import log, randomize, read_or_wheel, write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "VDBCLIPTests", "Fixtures")
CONTEXT = 52  # the original Chinese-CLIP context; vdb's default when tokenizer_config.json has none

# The hard set. Every entry must tokenize identically with BertTokenizerFast and BertTokenizer
# (the script asserts it), except the ones in FAST_ONLY.
HARD = [
    "一只猫",
    "一 只 猫",
    "雪地上两只狗",
    "雪 地 上 两只狗 在玩",
    "兩隻狗在雪地上玩耍",
    "臺灣的貓與龍",
    "你好，世界！（测试）【标题】《书名》“引号”‘单引号’、顿号。省略号……破折号——～",
    "红色的圆：蓝色的方块；绿色？",
    "iPhone 15 Pro Max 的价格是 9999 元",
    "2023年10月1日COVID-19疫情",
    "Hello世界123abc，ABC的def",
    "我爱🐱和🐶",
    "cat😀 😀😀 👍🏽",
    "Café résumé naïve Ångström ÉCOLE crème brûlée",
    "cafe\u0301 decomposed",
    "ＡＢＣ１２３ｘｙｚ　全角",
    "こんにちは 안녕하세요 東京",
    "红色\t的\n圆\u200b形\u3000图案\u00a0",
    "\x00a\ufffdb\x0bc\x85d\u2028e\u200df",
    "[CLS] 猫 [SEP]",
    "[MASK]猫[cls][UNK][PAD]",
    "a.b,c!d?e",
    "$100 + 50% = ? ^_^ `x` |y| ~z",
    "email@example.com http://www.example.com/路径?q=猫&x=1",
    "ΣΑΣ σας Straße İstanbul",
    "3.14159 1,000,000 ① ½ Ⅻ",
    "𠀀𠀁 rare extension B",
    "ChineseCLIP模型 RoBERTa-wwm-ext",
    "",
    "   ",
    "##abc ##",
    "a" * 100,
    "a" * 101 + " 猫",
    "supercalifragilisticexpialidocious",
    "\u00ad soft\u00adhyphen",
    "漢字\u0300 x\u0301\u0301y",
    "ﬁ ﬃ ǅ",
    "一张{}的照片",
    "這是一段很長的中文句子，用來測試截斷：" + "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。" * 4,
    " ".join(["the quick brown fox jumps over the lazy dog"] * 8),
    "猫" * 600,
]

# Known divergences between the fast (Rust) and slow (Python) BERT tokenizers; vdb follows the fast
# one, which `AutoTokenizer` and `ChineseCLIPProcessor` load by default.
FAST_ONLY = [
    # U+2B820..U+2B91F (start of CJK Extension E): the slow tokenizer's CJK ranges include them,
    # tokenizers' `is_chinese_char` starts that range at U+2B920.
    "a\U0002B820b",
]

# The other tokenizer options, each on a few captions.
VARIANTS = [
    ({"do_lower_case": False}, ["Café cafe\u0301 ÉCOLE", "一只猫Cat", "ΣΑΣ σας", "Hello World"]),
    ({"strip_accents": False}, ["Café résumé", "ΣΑΣ σας", "naïve 猫"]),
    ({"do_lower_case": False, "strip_accents": True}, ["Café ÉCOLE", "ẞ İ"]),
    ({"tokenize_chinese_chars": False}, ["一只猫Cat", "雪地上 两只狗", "你好，世界！"]),
]

MODEL_CAPTIONS = [
    "一只猫",
    "雪地上两只狗",
    "兩隻狗在雪地上玩耍",
    "红色的圆：蓝色的方块；绿色？",
    "iPhone 15 Pro Max 的价格是 9999 元",
    "Hello世界123abc，ABC的def",
    "我爱🐱和🐶",
    "Café résumé naïve",
    "",
    "[CLS] 猫 [SEP]",
    "這是一段很長的中文句子，用來測試截斷：" + "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。" * 4,
    "a photo of a cat",
]
LABELS = ["猫", "狗", "汽车"]
TEMPLATE = "一张{}的照片"


def floats(t, digits=7):
    """Values rounded to `digits` significant digits (far below the tests' tolerances; keeps the
    JSON small)."""
    return [float(f"{x:.{digits}g}") for x in t.detach().to(torch.float32).reshape(-1).tolist()]


def rows(t):
    return [floats(r) for r in t]


# --------------------------------------------------------------------------------------------
# Tokenizer references on the real vocabulary
# --------------------------------------------------------------------------------------------

def tokenizer_pair(vocab_file, **kw):
    return BertTokenizer(vocab_file, **kw), BertTokenizerFast(vocab_file, **kw)


def token_case(slow, fast, text, expect_equal=True):
    full = fast(text)["input_ids"]
    slow_full = slow(text)["input_ids"]
    if expect_equal:
        assert full == slow_full, (text, full, slow_full)
    else:
        assert full != slow_full, ("expected a divergence", text)
    ids = fast(text, padding="max_length", max_length=CONTEXT, truncation=True)["input_ids"]
    assert ids == slow(text, padding="max_length", max_length=CONTEXT, truncation=True)["input_ids"] or not expect_equal
    out = {"text": text, "ids": ids, "full": full}
    if not expect_equal:
        out["slow_full"] = slow_full
    return out


def make_tokens(vocab_file):
    slow, fast = tokenizer_pair(vocab_file)
    assert len(fast) == 21128, len(fast)
    assert fast("一只猫")["input_ids"] == [101, 671, 1372, 4344, 102]
    ref = {"context_length": CONTEXT, "vocab_size": len(fast),
           "cases": [token_case(slow, fast, t) for t in HARD],
           "fast_only": [token_case(slow, fast, t, expect_equal=False) for t in FAST_ONLY],
           "variants": []}
    for options, texts in VARIANTS:
        s, f = tokenizer_pair(vocab_file, **options)
        ref["variants"].append({"options": options, "cases": [token_case(s, f, t) for t in texts]})
    write_json(os.path.join(FIXTURES, "references", "chinese-tokens.json"), ref)


# --------------------------------------------------------------------------------------------
# Tiny models
# --------------------------------------------------------------------------------------------

def excerpt_vocab(real_vocab_lines, fast_real, captions, size, seed):
    """A `size`-token excerpt of the real vocabulary in its original order: the first 106 entries
    ([PAD], [unused*], [UNK], [CLS], [SEP], [MASK], <S>, <T>), every token the captions use, and a
    seeded sample of the rest (so WordPiece meets pieces it must fall back from)."""
    keep = set(range(106))
    for c in captions:
        keep.update(fast_real(c)["input_ids"])
    rng = np.random.default_rng(seed)
    rest = [i for i in range(len(real_vocab_lines)) if i not in keep]
    keep.update(rng.choice(rest, size=size - len(keep), replace=False).tolist())
    return [real_vocab_lines[i] for i in sorted(keep)]


def save_model(model, outdir, dtype, extra=None):
    os.makedirs(outdir, exist_ok=True)
    model.config.save_pretrained(outdir)
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    state.update(extra or {})
    save_file(state, os.path.join(outdir, "model.safetensors"), metadata={"format": "pt"})


def image_processor(size):
    # The released checkpoints' processor: resize straight to size x size (no aspect-preserving
    # resize, no crop), bicubic, CLIP mean/std.
    return ChineseCLIPImageProcessor(size={"height": size, "width": size}, do_center_crop=False,
                                     crop_size={"height": size, "width": size}, resample=3)


def references(model, tok, captions, pixels, context):
    enc = tok(captions, padding="max_length", max_length=context, truncation=True, return_tensors="pt")
    out = {"captions": captions, "input_ids": enc["input_ids"].tolist(),
           "pixel_shape": list(pixels.shape), "pixel_values": floats(pixels, 4),
           "logit_scale": float(model.logit_scale.item())}
    with torch.no_grad():
        out["text_embeddings"] = rows(model.get_text_features(input_ids=enc["input_ids"],
                                                              attention_mask=enc["attention_mask"]))
        out["image_embeddings"] = rows(model.get_image_features(pixel_values=pixels))
        o = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], pixel_values=pixels)
        out["logits_per_image"] = rows(o.logits_per_image)
        out["logits_per_text"] = rows(o.logits_per_text)
        lt = tok([TEMPLATE.replace("{}", l) for l in LABELS], padding=True, return_tensors="pt")
        o = model(input_ids=lt["input_ids"], attention_mask=lt["attention_mask"], pixel_values=pixels)
    out["classify_labels"] = LABELS
    out["classify_template"] = TEMPLATE
    out["classify_probs"] = rows(o.logits_per_image.softmax(dim=-1))
    return out


def image_file_reference(model, size):
    """One of the committed CLIP test images through ChineseCLIPImageProcessor (exact resize)."""
    from PIL import Image
    name = "rgb-80x60.jpg"
    im = Image.open(os.path.join(FIXTURES, "clip-images", name)).convert("RGB")
    pv = image_processor(size)(images=im, return_tensors="pt")["pixel_values"]
    assert list(pv.shape) == [1, 3, size, size]
    with torch.no_grad():
        emb = model.get_image_features(pixel_values=pv)
    return {"file": name, "pixel_values": floats(pv[0], 5), "embedding": floats(emb[0])}


def make_model(name, seed, dtype, text, vision, projection_dim, vocab_lines, tok_config, legacy=False, extra=None,
               image_file=False):
    d = os.path.join(FIXTURES, name)
    os.makedirs(d, exist_ok=True)
    text = dict(text, vocab_size=len(vocab_lines))
    cfg = ChineseCLIPConfig(text_config=text, vision_config=vision, projection_dim=projection_dim)
    torch.manual_seed(seed)
    model = ChineseCLIPModel(cfg).eval()
    randomize(model, seed, logit_scale=40.0)
    save_model(model, d, dtype, extra)
    if legacy:
        # Old-style config: the real values in text_config_dict / vision_config_dict (which
        # transformers lets override text_config / vision_config entirely, defaults included), and
        # misleading text_config / vision_config values that must be ignored.
        path = os.path.join(d, "config.json")
        c = json.load(open(path))
        c["text_config_dict"] = text
        c["vision_config_dict"] = vision
        c["text_config"] = {"hidden_size": 999, "num_hidden_layers": 7, "vocab_size": 5}
        c["vision_config"] = {"hidden_size": 999, "patch_size": 3}
        json.dump(c, open(path, "w"), indent=2)
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab_lines) + "\n")
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(tok_config, f, indent=2)
    image_processor(vision["image_size"]).save_pretrained(d)
    # The reference runs on the checkpoint as transformers loads it from disk (so the config
    # reading and the fp16 rounding are the library's own).
    model = ChineseCLIPModel.from_pretrained(d).eval()
    assert model.config.text_config.hidden_size == text["hidden_size"]
    assert model.config.vision_config.patch_size == vision["patch_size"]
    tok = BertTokenizerFast.from_pretrained(d)
    slow = BertTokenizer.from_pretrained(d)
    context = tok_config.get("model_max_length", CONTEXT)
    g = torch.Generator().manual_seed(seed + 1)
    size = vision["image_size"]
    # rounded to 3 decimals *before* the reference runs, so the stored inputs are exact
    pixels = torch.round(torch.randn((2, 3, size, size), generator=g) * 1000) / 1000
    ref = references(model, tok, MODEL_CAPTIONS, pixels, context)
    slow_ids = slow(MODEL_CAPTIONS, padding="max_length", max_length=context, truncation=True)["input_ids"]
    assert slow_ids == ref["input_ids"]
    ref["context_length"] = context
    if image_file:
        ref["image_file"] = image_file_reference(model, size)
    write_json(os.path.join(FIXTURES, "references", name + ".json"), ref)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", help="path to cn_clip/clip/vocab.txt")
    ap.add_argument("--wheel-dir", help="directory holding a cn_clip wheel")
    args = ap.parse_args()
    torch.set_num_threads(1)
    vocab_bytes = read_or_wheel(args.vocab, "cn-clip", "cn_clip/clip/vocab.txt", args.wheel_dir, "--vocab")
    vdir = os.path.join(FIXTURES, "chinese-vocab")
    os.makedirs(vdir, exist_ok=True)
    vocab_file = os.path.join(vdir, "vocab.txt")
    with open(vocab_file, "wb") as f:
        f.write(vocab_bytes)
    make_tokens(vocab_file)

    lines = vocab_bytes.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    fast_real = BertTokenizerFast(vocab_file)
    texts = MODEL_CAPTIONS + [TEMPLATE.replace("{}", l) for l in LABELS]

    text = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=64, type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12,
                pad_token_id=0)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  image_size=32, patch_size=8, num_channels=3, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    make_model("tiny-chinese-clip", 4321, torch.float16, text, vision, 24,
               excerpt_vocab(lines, fast_real, texts, 1000, 1), {"do_lower_case": True, "tokenizer_class": "BertTokenizer"},
               image_file=True)

    text2 = dict(hidden_size=24, intermediate_size=40, num_hidden_layers=3, num_attention_heads=2,
                 max_position_embeddings=20, type_vocab_size=1, hidden_act="gelu", layer_norm_eps=1e-6,
                 pad_token_id=0)
    vision2 = dict(hidden_size=24, intermediate_size=40, num_hidden_layers=2, num_attention_heads=3,
                   image_size=20, patch_size=5, num_channels=3, hidden_act="gelu", layer_norm_eps=1e-6)
    extra = {"text_model.embeddings.position_ids": torch.arange(20, dtype=torch.int64)[None, :],
             "text_model.pooler.dense.weight": torch.zeros(24, 24), "text_model.pooler.dense.bias": torch.zeros(24)}
    make_model("tiny-chinese-clip-f32", 8765, torch.float32, text2, vision2, 16,
               excerpt_vocab(lines, fast_real, texts, 360, 2),
               {"do_lower_case": False, "model_max_length": 16, "tokenizer_class": "BertTokenizer"},
               legacy=True, extra=extra)


if __name__ == "__main__":
    main()
