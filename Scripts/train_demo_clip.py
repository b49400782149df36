#!/usr/bin/env python3
"""Train vdb's bilingual demo model on the shapes world and save it in Hugging Face format.

The model is a small ``transformers.ChineseCLIPModel`` (Chinese-CLIP layout, which vdb loads as
``model_type: chinese_clip``): a BERT text tower over the real 21,128-token Chinese-CLIP WordPiece
vocabulary (which also holds lower-case English words and word pieces, so English and Chinese
captions share one tokenizer) and a ViT image tower, trained from scratch on CPU.

Data (``demo_render.py``, ``demo_captions.py``): a fixed set of rendered scenes, built in groups
of four (a scene and three siblings that differ from it only in shape, in count, in colour), so
that a batch holds images that only the shape or the count tells apart. Every image gets an
English and a Chinese caption (all attributes or a random subset, fresh each step), and a share of
images a hard-negative caption written the same way about a scene that differs in one attribute
("three red circles" for two red circles). The loss is CLIP's symmetric contrastive loss with
multi-positive targets (a caption's target is uniform over every batch image it describes,
computed from the scene attributes; an image's over every caption that describes it, hard
negatives included as extra candidates), plus auxiliary attribute classifiers on both towers
(training aids, not saved) that put shape and count into the image features early.

Everything is seeded and the run has a fixed number of steps: the same command gives the same
model (same thread count, same library versions). See Docs/demo-model.md ("Retraining
(bilingual)") for the environment, the exact command and what the run must reach; evaluate with
``Scripts/demo_eval.py`` (an independent renderer).

Other modes: ``--eval-only`` (held-out scenes of the training renderer), ``--samples DIR``
(write the bundled sample photos and demo queries), ``--check DIR`` (every demo query must rank
its photo first).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time
from multiprocessing import Pool

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the renderer pool forks after tokenizing
import torch  # noqa: E402
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_captions as cap  # noqa: E402
import demo_render as render  # noqa: E402
import demo_world as world  # noqa: E402

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CONTEXT = 52  # tokenizer_config.json model_max_length (the original Chinese-CLIP context)
DEFAULT_VOCAB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "Tests", "VDBCLIPTests", "Fixtures", "chinese-vocab", "vocab.txt")
GROUP = ("base", "shape", "count", "colour")  # a scene and its siblings, in dataset order
N_CLASSES = [len(world.SHAPES), len(world.COLOURS), 4, 2, len(world.SIZES), len(world.TEXTURES),
             len(world.POSITIONS) + 1, len(world.BACKGROUNDS)]  # demo_world.ATTRIBUTES order


# ---------------------------------------------------------------- data

def group_scenes(n_groups: int, seed: int) -> list[world.Scene]:
    """``4 * n_groups`` scenes: each random scene followed by its shape, count and colour siblings
    (each drawn with its own layout seed)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n_groups):
        s = world.random_scene(rng)
        out.append(s)
        for kind in GROUP[1:]:
            out.append(dataclasses.replace(cap.changed(s, kind, rng), seed=rng.randrange(1 << 30)))
    return out


def _render_job(args):
    scene, size = args
    return render.training_image(scene, scene.seed, size)


def render_set(scenes, size: int, procs: int, cache: str | None, tag: str) -> np.ndarray:
    """uint8 [n, size, size, 3] images of ``scenes``, cached under ``cache`` (keyed by the scenes,
    the size and the renderer's source) as a memory-mapped .npy."""
    path = None
    if cache:
        h = hashlib.sha256()
        h.update(repr([dataclasses.astuple(s) for s in scenes]).encode())
        h.update(str(size).encode())
        for mod in (render, world):
            with open(mod.__file__, "rb") as f:
                h.update(f.read())
        path = os.path.join(cache, f"{tag}-{len(scenes)}-{size}-{h.hexdigest()[:16]}.npy")
        if os.path.exists(path):
            return np.load(path, mmap_mode="r")
        os.makedirs(cache, exist_ok=True)
    out = np.lib.format.open_memmap(path + ".part", mode="w+", dtype=np.uint8, shape=(len(scenes), size, size, 3)) \
        if path else np.empty((len(scenes), size, size, 3), dtype=np.uint8)
    jobs = [(s, size) for s in scenes]
    chunk = 2048
    with Pool(procs) as pool:
        for i in range(0, len(jobs), chunk):
            out[i:i + chunk] = np.stack(pool.map(_render_job, jobs[i:i + chunk], chunksize=64))
    if path:
        out.flush()
        del out
        os.replace(path + ".part", path)
        return np.load(path, mmap_mode="r")
    return out


def normalize(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 [B, H, W, 3] -> normalized float [B, 3, H, W] (CLIP mean/std)."""
    x = images_u8.permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)


def match_matrix(codes: torch.Tensor, constraints: torch.Tensor) -> torch.Tensor:
    """[images, texts] float: 1 where the text's constraint holds for the image's attributes."""
    c = constraints[None, :, :]
    return ((c == world.ANY) | (c == codes[:, None, :])).all(-1).float()


# ---------------------------------------------------------------- model and tokenizer

def build_model(args):
    from transformers import ChineseCLIPConfig, ChineseCLIPModel
    text = dict(vocab_size=args.vocab_size, hidden_size=args.text_width, intermediate_size=args.text_width * 4,
                num_hidden_layers=args.text_layers, num_attention_heads=args.text_heads, max_position_embeddings=64,
                type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=0,
                hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    vision = dict(hidden_size=args.vision_width, intermediate_size=args.vision_width * 4,
                  num_hidden_layers=args.vision_layers, num_attention_heads=args.vision_heads,
                  image_size=args.image_size, patch_size=args.patch_size, num_channels=3,
                  hidden_act="quick_gelu", layer_norm_eps=1e-5)
    config = ChineseCLIPConfig(text_config=text, vision_config=vision, projection_dim=args.projection_dim,
                               logit_scale_init_value=2.6592)
    torch.manual_seed(args.seed)
    return ChineseCLIPModel(config)


def write_tokenizer(vocab: str, out: str):
    """vocab.txt and the tokenizer configs (BertTokenizer, lower case, context 52)."""
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(vocab, os.path.join(out, "vocab.txt"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "tokenize_chinese_chars": True,
                   "model_max_length": CONTEXT, "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                   "unk_token": "[UNK]", "mask_token": "[MASK]"}, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump({"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
                   "mask_token": "[MASK]"}, f, indent=2)
        f.write("\n")


def load_tokenizer(out: str):
    from transformers import BertTokenizerFast
    tok = BertTokenizerFast.from_pretrained(out)
    assert tok("一只猫")["input_ids"] == [101, 671, 1372, 4344, 102], "not the Chinese-CLIP vocabulary"
    return tok


def tokenize(tok, texts):
    t = tok(list(texts), padding=True, truncation=True, max_length=CONTEXT, return_tensors="pt")
    return t["input_ids"], t["attention_mask"]


EXPLICIT_KEYS = {
    "text_config": ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                    "max_position_embeddings", "type_vocab_size", "hidden_act", "layer_norm_eps", "pad_token_id",
                    "position_embedding_type"],
    "vision_config": ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_channels",
                      "image_size", "patch_size", "hidden_act", "layer_norm_eps"],
}


def save(model, out: str, image_size: int):
    """float16 safetensors, config.json with every tower value written out, the image processor."""
    import copy
    from transformers import ChineseCLIPConfig, CLIPImageProcessor
    copy.deepcopy(model).half().save_pretrained(out, safe_serialization=True)
    path = os.path.join(out, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    full = ChineseCLIPConfig.from_pretrained(out).to_dict()
    for section, keys in EXPLICIT_KEYS.items():
        for k in keys:
            cfg[section][k] = full[section][k]
    cfg["projection_dim"] = full["projection_dim"]
    cfg.pop("_name_or_path", None)  # a path on the training machine
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    # Shortest side to image_size, centre crop (the world keeps its shapes in the centred square).
    # CLIPImageProcessor, because transformers 4.40's ChineseCLIPImageProcessor only resizes to an
    # exact height x width; AutoImageProcessor and vdb read either from preprocessor_config.json.
    CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size},
                              do_resize=True, do_center_crop=True, resample=3, do_rescale=True, do_normalize=True,
                              image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD), do_convert_rgb=True).save_pretrained(out)


# ---------------------------------------------------------------- in-domain evaluation

def encode_texts(model, tok, texts, batch=512):
    out = []
    for i in range(0, len(texts), batch):
        ids, mask = tokenize(tok, texts[i:i + batch])
        out.append(F.normalize(model.get_text_features(input_ids=ids, attention_mask=mask), dim=-1))
    return torch.cat(out)


def encode_images(model, pixels, batch=256):
    return torch.cat([F.normalize(model.get_image_features(pixel_values=pixels[i:i + batch]), dim=-1)
                      for i in range(0, len(pixels), batch)])


ZS_PROMPTS = {  # one attribute named, in the training captions' own words
    "colour": (1, world.COLOURS, {"en": "a photo of {a} {v} shape", "zh": "一个{v}的图形"},
               {"zh": {c: cap.ZH_COLOUR[c][0] for c in world.COLOURS}}),
    "shape": (0, world.SHAPES, {"en": "a photo of {a} {v}", "zh": "一个{v}"},
              {"zh": {s: cap.ZH_NOUN[s][1] for s in world.SHAPES}}),
    "size": (4, world.SIZES, {"en": "a photo of a {v} shape", "zh": "一个{v}图形"}, {"zh": {"small": "小", "large": "大"}}),
}


@torch.no_grad()
def evaluate(model, tok, scenes, pixels, seed: int) -> dict:
    """Full-caption text -> image recall and zero-shot colour/shape/size/count on held-out scenes
    of the training renderer (a quick in-domain check; the real test is demo_eval.py)."""
    model.eval()
    n = len(scenes)
    codes = torch.tensor([s.codes() for s in scenes])
    img = encode_images(model, pixels)
    res = {"gallery": n}
    rng = random.Random(seed)
    single = codes[:, 3] == 0
    for lang in cap.LANGS:
        caps, cons, _, _ = zip(*[cap.describe(s, rng, lang, full=True) for s in scenes])
        sim = encode_texts(model, tok, list(caps)) @ img.T
        ok = match_matrix(codes, torch.tensor(cons)).T.bool()  # [texts, images]
        better = ((sim > sim.diag()[:, None]) & ~ok).sum(1)  # non-matching images ranked above
        res[f"{lang}.t2i_R@1"] = (better < 1).float().mean().item()
        res[f"{lang}.t2i_R@5"] = (better < 5).float().mean().item()
        for name, (k, values, tmpl, words) in ZS_PROMPTS.items():
            w = words.get(lang, {})
            prompts = [tmpl[lang].format(v=w.get(v, v), a=cap._article(w.get(v, v))) for v in values]
            pred = (img[single] @ encode_texts(model, tok, prompts).T).argmax(1)
            res[f"{lang}.zs_{name}_single"] = (pred == codes[single, k]).float().mean().item()
        prompts = {"en": ["a photo of two shapes", "a photo of three shapes", "a photo of four shapes"],
                   "zh": ["两个图形", "三个图形", "四个图形"]}[lang]
        pred = (img[~single] @ encode_texts(model, tok, prompts).T).argmax(1) + 1
        res[f"{lang}.zs_count_multi"] = (pred == codes[~single, 2]).float().mean().item()
    model.train()
    return res


# ---------------------------------------------------------------- training

def lr_at(step: int, args) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    prog = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
    return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * prog)))


def batch_indices(step: int, n_groups: int, args) -> list[int]:
    """The batch of ``step`` (a function of the seed and the step only, so a resumed run sees the
    same batches): whole groups of four for ``--group-frac`` of it, random scenes for the rest."""
    rng = random.Random(args.seed * 1_000_003 + step)
    k = int(args.batch * args.group_frac) // len(GROUP)
    idx = [g * len(GROUP) + j for g in rng.sample(range(n_groups), k) for j in range(len(GROUP))]
    taken = set(idx)
    while len(idx) < args.batch:
        i = rng.randrange(n_groups * len(GROUP))
        if i not in taken:
            taken.add(i)
            idx.append(i)
    return idx


def batch_texts(scenes, step: int, args):
    """Captions of a batch: an English and a Chinese one per image, hard negatives for a share of
    the images. Returns texts, constraints [T, 8] and, per text, 1 for a caption and 0 for a
    hard negative."""
    rng = random.Random(args.seed * 1_000_003 + step + 7919)
    texts, cons, positive = [], [], []
    for s in scenes:
        for lang in cap.LANGS:
            t, c, mask, style = cap.describe(s, rng, lang, full=rng.random() < args.full_frac)
            texts.append(t)
            cons.append(c)
            positive.append(1)
            if rng.random() < args.hard_frac / len(cap.LANGS):
                neg = cap.hard_negative(s, mask, style, lang, rng)
                if neg:
                    texts.append(neg[0])
                    cons.append(neg[1])
                    positive.append(0)
    return texts, torch.tensor(cons), positive


def train(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    write_tokenizer(args.vocab, args.out)
    tok = load_tokenizer(args.out)
    args.vocab_size = len(tok)

    t0 = time.time()
    scenes = group_scenes(args.train_groups, args.seed)
    images = render_set(scenes, args.image_size, args.procs, args.cache, "train")  # memory-mapped when cached
    codes = torch.tensor([s.codes() for s in scenes])
    ev_rng = random.Random(args.seed + 1000)
    ev_scenes = [world.random_scene(ev_rng) for _ in range(args.eval_size)]
    ev_pixels = normalize(torch.from_numpy(np.array(
        render_set(ev_scenes, args.image_size, args.procs, args.cache, "heldout"))))
    print(f"data: {len(scenes)} train / {len(ev_scenes)} held-out images in {time.time() - t0:.0f}s", flush=True)

    state_path = args.state
    model = build_model(args)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"model: {nparams / 1e6:.2f}M parameters ({nparams * 2 / 1e6:.2f} MB in float16)", flush=True)
    vw, tw = model.config.vision_config.hidden_size, model.config.text_config.hidden_size
    aux_img = torch.nn.ModuleList([torch.nn.Linear(vw, n) for n in N_CLASSES])
    aux_txt = torch.nn.ModuleList([torch.nn.Linear(tw, n) for n in N_CLASSES])
    named = list(model.named_parameters()) + [("aux_img." + n, p) for n, p in aux_img.named_parameters()] \
        + [("aux_txt." + n, p) for n, p in aux_txt.named_parameters()]
    decay = [p for n, p in named if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in named if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    start, log, resumed_ema = 0, [], None
    if args.resume:
        st = torch.load(state_path)
        model.load_state_dict(st["model"])
        aux_img.load_state_dict(st["aux_img"])
        aux_txt.load_state_dict(st["aux_txt"])
        opt.load_state_dict(st["opt"])
        start, log, resumed_ema = st["step"], st["log"], st.get("ema")
        print(f"resumed at step {start}", flush=True)
    aux_weight = [args.shape_weight, 1.0, args.count_weight, 1.0, 1.0, 1.0, 1.0, 1.0]

    t_start, c_start, ema = time.time(), time.process_time(), resumed_ema
    model.train()
    for step in range(start, args.steps):
        lr = lr_at(step, args)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = batch_indices(step, args.train_groups, args)
        texts, cons, positive = batch_texts([scenes[i] for i in idx], step, args)
        bc = codes[idx]
        match = match_matrix(bc, cons)  # [B images, T texts]
        ids, mask = tokenize(tok, texts)

        pixels = normalize(torch.from_numpy(np.array(images[np.array(idx)])))
        v_pooled = model.vision_model(pixel_values=pixels).pooler_output
        t_cls = model.text_model(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0, :]
        img_e = F.normalize(model.visual_projection(v_pooled), dim=-1)
        txt_e = F.normalize(model.text_projection(t_cls), dim=-1)
        logits = model.logit_scale.exp() * img_e @ txt_e.T
        # image -> text over every caption and hard negative; text -> image for texts that describe
        # at least one image of the batch
        tgt_i = match / match.sum(1, keepdim=True)
        loss_i = -(tgt_i * F.log_softmax(logits, 1)).sum(1).mean()
        has = match.sum(0) > 0
        tgt_t = match.T[has] / match.T[has].sum(1, keepdim=True)
        loss_t = -(tgt_t * F.log_softmax(logits.T[has], 1)).sum(1).mean()
        clip_loss = 0.5 * (loss_i + loss_t)
        aux = 0.0
        pos = torch.tensor(positive, dtype=torch.bool)
        head_acc = []
        for k, (hi, ht) in enumerate(zip(aux_img, aux_txt)):
            logits_k = hi(v_pooled)
            aux = aux + aux_weight[k] * F.cross_entropy(logits_k, bc[:, k])
            head_acc.append((logits_k.argmax(1) == bc[:, k]).float().mean().item())
            tk = cons[pos, k]
            if (tk != world.ANY).any():
                aux = aux + F.cross_entropy(ht(t_cls[pos]), tk, ignore_index=world.ANY)
        aux = aux / len(N_CLASSES)
        loss = clip_loss + args.aux * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        ema = clip_loss.item() if ema is None else 0.98 * ema + 0.02 * clip_loss.item()
        done = step + 1
        if done % args.log_every == 0 or done == args.steps:
            el, cpu = time.time() - t_start, time.process_time() - c_start
            print(f"step {done}/{args.steps} lr {lr:.2e} clip {clip_loss.item():.4f} ema {ema:.4f} aux {float(aux):.3f} "
                  f"scale {model.logit_scale.exp().item():.1f} texts {len(texts)} {el:.0f}s "
                  f"({el / (done - start):.2f} s/step, {cpu / (done - start):.2f} CPU s/step) "
                  f"image heads shape/colour/count {head_acc[0]:.2f}/{head_acc[1]:.2f}/{head_acc[2]:.2f}", flush=True)
        stopping = done == args.stop_after
        if (args.eval_every and done % args.eval_every == 0) or done == args.steps or stopping:
            r = evaluate(model, tok, ev_scenes, ev_pixels, seed=args.seed + 2000)
            log.append({"step": done, "seconds": time.time() - t_start, **r})
            print("eval", json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}), flush=True)
            save(model, args.out, args.image_size)
            torch.save({"model": model.state_dict(), "aux_img": aux_img.state_dict(), "aux_txt": aux_txt.state_dict(),
                        "opt": opt.state_dict(), "step": done, "log": log, "ema": ema, "args": vars(args)}, state_path + ".part")
            os.replace(state_path + ".part", state_path)
        if stopping:
            print(f"stopped after step {done} (--stop-after); continue with the same arguments and --resume", flush=True)
            return
    train_time = time.time() - t_start
    save(model, args.out, args.image_size)
    meta = {"args": {k: v for k, v in vars(args).items()}, "steps": args.steps, "train_seconds": train_time,
            "final_clip_loss_ema": ema, "parameters": nparams, "eval_log": log}
    with open(args.metrics, "w") as f:
        json.dump(meta, f, indent=2)
    size = os.path.getsize(os.path.join(args.out, "model.safetensors"))
    print(f"trained steps {start}..{args.steps} in {train_time:.0f}s; model.safetensors {size / 1e6:.2f} MB; "
          f"wrote {args.out} and {args.metrics}", flush=True)


def eval_only(args):
    """In-domain check: held-out scenes of the training renderer (seed + 1000)."""
    from transformers import ChineseCLIPModel
    torch.set_num_threads(args.threads)
    model = ChineseCLIPModel.from_pretrained(args.out).float()
    tok = load_tokenizer(args.out)
    rng = random.Random(args.seed + 1000)
    scenes = [world.random_scene(rng) for _ in range(args.eval_size)]
    pixels = normalize(torch.from_numpy(np.array(
        render_set(scenes, model.config.vision_config.image_size, args.procs, args.cache, "heldout"))))
    print(json.dumps(evaluate(model, tok, scenes, pixels, seed=args.seed + 2000), indent=2))


# ---------------------------------------------------------------- sample photos and demo queries

# Scenes made on purpose so that each demo query has exactly one matching photo.
DEMO_SCENES = [
    dict(shape="circle", colour="red", count=1, size="large", texture="solid", position="centre", background="white"),
    dict(shape="square", colour="blue", count=2, size="large", texture="solid", background="yellow"),
    dict(shape="star", colour="yellow", count=1, size="large", texture="solid", position="centre", background="black"),
    dict(shape="triangle", colour="green", count=3, size="small", texture="solid", background="white"),
    dict(shape="heart", colour="pink", count=1, size="large", texture="striped", position="centre", background="purple"),
    dict(shape="cross", colour="orange", count=4, size="large", texture="solid", background="blue"),
    dict(shape="circle", colour="purple", count=1, size="small", texture="solid", position="left", background="yellow"),
    dict(shape="square", colour="brown", count=1, size="large", texture="dotted", position="right", background="grey"),
    dict(shape="star", colour="white", count=2, size="small", texture="solid", background="blue"),
    dict(shape="heart", colour="red", count=3, size="small", texture="solid", background="pink"),
    dict(shape="triangle", colour="black", count=1, size="large", texture="striped", position="top", background="orange"),
    dict(shape="circle", colour="green", count=4, size="small", texture="dotted", background="brown"),
]

# Candidate queries: English, Chinese, and the constraint both express (attribute -> value).
DEMO_QUERIES = [
    ("a red circle", "一个红色的圆", dict(shape="circle", colour="red", multi=0)),
    ("two blue squares", "两个蓝色的正方形", dict(shape="square", colour="blue", count=2)),
    ("a yellow star on a black background", "黑色背景上的一颗黄色星星",
     dict(shape="star", colour="yellow", multi=0, background="black")),
    ("three green triangles", "三个绿色三角形", dict(shape="triangle", colour="green", count=3)),
    ("a striped pink heart", "一个带条纹的粉色爱心", dict(shape="heart", colour="pink", multi=0, texture="striped")),
    ("four orange crosses", "四个橙色的十字", dict(shape="cross", colour="orange", count=4)),
    ("a small purple circle on the left", "左边的一个紫色小圆",
     dict(shape="circle", colour="purple", multi=0, size="small", position="left")),
    ("a dotted brown square", "一个带圆点的棕色正方形", dict(shape="square", colour="brown", multi=0, texture="dotted")),
    ("two white stars on blue", "蓝色背景上的两颗白色星星", dict(shape="star", colour="white", count=2, background="blue")),
    ("red hearts on a pink background", "粉色背景上的几个红色爱心", dict(shape="heart", colour="red", multi=1, background="pink")),
    ("a black triangle at the top", "上方的一个黑色三角形", dict(shape="triangle", colour="black", multi=0, position="top")),
    ("four green dotted circles", "四个带圆点的绿色圆形", dict(shape="circle", colour="green", count=4, texture="dotted")),
]


def query_constraint(q: dict) -> list[int]:
    names = {"shape": world.SHAPES, "colour": world.COLOURS, "size": world.SIZES, "texture": world.TEXTURES,
             "position": world.POSITIONS, "background": world.BACKGROUNDS}
    c = [world.ANY] * len(world.ATTRIBUTES)
    for k, v in q.items():
        i = world.ATTRIBUTES.index(k)
        if k == "count":
            c[i] = v - 1
            c[world.ATTRIBUTES.index("multi")] = int(v > 1)
        elif k == "multi":
            c[i] = v
        else:
            c[i] = names[k].index(v)
    return c


def make_samples(out_root: str, n_random: int = 28, seed: int = 12345):
    """Write ``photos/`` (JPEG and PNG, 256x192, drawn by ``demo_world.render``), its sidecar
    captions and captions.csv, and ``photos.jsonl`` (true caption and attributes of every photo)
    under ``out_root``. Returns the rows and the candidate queries in both languages with the
    one photo each describes."""
    import csv
    rng = random.Random(seed)
    photos = os.path.join(out_root, "photos")
    os.makedirs(photos, exist_ok=True)
    qcons = [query_constraint(q) for _, _, q in DEMO_QUERIES]
    scenes = [world.random_scene(rng, **d) for d in DEMO_SCENES]
    while len(scenes) < len(DEMO_SCENES) + n_random:
        s = world.random_scene(rng)
        if any(world.matches(c, s.codes()) for c in qcons):
            continue  # keep every demo query's answer unique
        scenes.append(s)
    order = list(range(len(scenes)))
    rng.shuffle(order)
    scenes = [scenes[i] for i in order]
    rows, counters = [], {}
    for k, s in enumerate(scenes):
        stem = f"{s.colour}-{s.shape if s.count == 1 else world.PLURAL[s.shape]}"
        counters[stem] = counters.get(stem, 0) + 1
        png = k % 6 == 5
        name = f"{stem}-{counters[stem]:02d}." + ("png" if png else "jpg")
        img = world.render(s, 256, 192, noise=not png)
        if png:
            img.quantize(colors=64, method=2).save(os.path.join(photos, name), optimize=True)
        else:
            img.save(os.path.join(photos, name), quality=82, optimize=True)
        caption, _ = world.caption(s, rng, full=True)
        source = "sidecar" if k % 7 == 0 else ("csv" if k % 3 == 1 else "none")
        rows.append({"file": name, "caption": caption, "caption_source": source, **s.to_dict()})
    for r in rows:
        if r["caption_source"] == "sidecar":
            with open(os.path.join(photos, os.path.splitext(r["file"])[0] + ".txt"), "w") as f:
                f.write(r["caption"] + "\n")
    with open(os.path.join(photos, "captions.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "caption"])
        for r in rows:
            if r["caption_source"] == "csv":
                w.writerow([r["file"], r["caption"]])
    with open(os.path.join(out_root, "photos.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    queries = []
    for (en, zh, _), c in zip(DEMO_QUERIES, qcons):
        hits = [r["file"] for r, s in zip(rows, scenes) if world.matches(c, s.codes())]
        assert len(hits) == 1, (en, hits)
        queries.append({"en": en, "zh": zh, "expected": hits[0]})
    print(f"wrote {len(rows)} photos to {photos}")
    return rows, queries


def is_bilingual(model_dir: str) -> bool:
    """Whether the checkpoint reads Chinese (a Chinese-CLIP model with its WordPiece vocabulary)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        return json.load(f).get("model_type") == "chinese_clip"


@torch.no_grad()
def rank_queries(model_dir: str, photos_dir: str, queries: list[dict], threads: int = 1) -> list[dict]:
    """Rank the photos in ``photos_dir`` for each query ({"query", "expected"}) with the saved
    checkpoint, loaded as transformers loads any checkpoint (model, fast tokenizer, processor)."""
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer
    torch.set_num_threads(threads)
    model = AutoModel.from_pretrained(model_dir).float().eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    proc = AutoImageProcessor.from_pretrained(model_dir)
    files = sorted(f for f in os.listdir(photos_dir) if f.endswith((".jpg", ".png")))
    images = [Image.open(os.path.join(photos_dir, f)).convert("RGB") for f in files]
    img = F.normalize(model.get_image_features(pixel_values=proc(images=images, return_tensors="pt")["pixel_values"]), dim=-1)
    t = tok([q["query"] for q in queries], padding=True, truncation=True,
            max_length=min(tok.model_max_length, model.config.text_config.max_position_embeddings), return_tensors="pt")
    sim = F.normalize(model.get_text_features(input_ids=t["input_ids"], attention_mask=t["attention_mask"]), dim=-1) @ img.T
    out = []
    for q, row in zip(queries, sim):
        order = row.argsort(descending=True).tolist()
        ranked = [files[i] for i in order]
        out.append({**q, "rank": ranked.index(q["expected"]) + 1 if q.get("expected") in ranked else None,
                    "top3": [(files[i], round(row[i].item(), 4)) for i in order[:3]]})
    return out


QUERY_FILES = {"en": "demo-queries.jsonl", "zh": "demo-queries-zh.jsonl"}


def write_queries(samples: str, model_dir: str, threads: int):
    """Write the sample photos, then keep the candidate queries the model ranks first:
    ``demo-queries.jsonl`` (English) and ``demo-queries-zh.jsonl`` (Chinese). With a bilingual
    model a candidate is kept in both files only if both languages rank its photo first; with the
    English-only model the Chinese file lists the translations of the kept English queries,
    unchecked until a bilingual model is bundled (vdb's DemoModelTests checks them then)."""
    _, cands = make_samples(samples)
    photos = os.path.join(samples, "photos")
    bilingual = is_bilingual(model_dir)
    ranked = {lang: rank_queries(model_dir, photos, [{"query": c[lang], "expected": c["expected"]} for c in cands], threads)
              for lang in (cap.LANGS if bilingual else ("en",))}
    for lang, res in ranked.items():
        for r in res:
            print(lang, json.dumps(r, ensure_ascii=False))
    keep = [i for i in range(len(cands)) if all(ranked[lang][i]["rank"] == 1 for lang in ranked)]
    for lang, name in QUERY_FILES.items():
        with open(os.path.join(samples, name), "w") as f:
            for i in keep:
                f.write(json.dumps({"query": cands[i][lang], "expected": cands[i]["expected"], "lang": lang},
                                   ensure_ascii=False) + "\n")
    print(f"{len(keep)}/{len(cands)} candidate queries rank their photo first "
          f"({'both languages' if bilingual else 'English; Chinese unchecked: the model is English-only'})")


def check_queries(samples: str, model_dir: str, threads: int) -> bool:
    """Every demo query ranks its photo first (the Chinese file only with a bilingual model)."""
    langs = cap.LANGS if is_bilingual(model_dir) else ("en",)
    bad, total = [], 0
    for lang in langs:
        with open(os.path.join(samples, QUERY_FILES[lang])) as f:
            queries = [json.loads(line) for line in f if line.strip()]
        for r in rank_queries(model_dir, os.path.join(samples, "photos"), queries, threads):
            print(json.dumps(r, ensure_ascii=False))
            total += 1
            if r["rank"] != 1:
                bad.append(r)
    print(f"{total - len(bad)}/{total} demo queries ({', '.join(langs)}) rank their photo first")
    return not bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", default=DEFAULT_VOCAB, help="the Chinese-CLIP vocab.txt (21,128 tokens)")
    ap.add_argument("--out", default="Models/demo-clip")
    ap.add_argument("--metrics", default="/tmp/demo-clip-metrics.json")
    ap.add_argument("--cache", default="/tmp/demo-clip-cache", help="rendered images are kept here ('' for none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--procs", type=int, default=2, help="processes that render the data")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--train-groups", type=int, default=32000, help="groups of four scenes (a scene, its shape, count and colour siblings)")
    ap.add_argument("--eval-size", type=int, default=500)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--group-frac", type=float, default=0.5, help="share of a batch made of whole groups")
    ap.add_argument("--hard-frac", type=float, default=0.5, help="hard-negative captions per image")
    ap.add_argument("--full-frac", type=float, default=0.35, help="share of captions that name every attribute")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--aux", type=float, default=1.0, help="weight of the auxiliary attribute losses")
    ap.add_argument("--shape-weight", type=float, default=3.0, help="weight of the image tower's shape head")
    ap.add_argument("--count-weight", type=float, default=2.0, help="weight of the image tower's count head")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--state", default="/tmp/demo-clip-training-state.pt",
                    help="model, optimizer and step, written at every evaluation (for --resume)")
    ap.add_argument("--resume", action="store_true", help="continue from --state (same arguments)")
    ap.add_argument("--stop-after", type=int, default=0, help="save --state and stop after this step (to run in parts)")
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--patch-size", type=int, default=12)
    ap.add_argument("--vision-width", type=int, default=160)
    ap.add_argument("--vision-layers", type=int, default=6)
    ap.add_argument("--vision-heads", type=int, default=5)
    ap.add_argument("--text-width", type=int, default=96)
    ap.add_argument("--text-layers", type=int, default=4)
    ap.add_argument("--text-heads", type=int, default=4)
    ap.add_argument("--projection-dim", type=int, default=128)
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--samples", help="write the sample photos and demo queries under this folder (e.g. Samples), ranked with --out")
    ap.add_argument("--check", help="check that every demo query of this Samples folder ranks its photo first with --out")
    args = ap.parse_args()
    args.cache = args.cache or None
    if args.samples:
        write_queries(args.samples, args.out, args.threads)
    elif args.check:
        sys.exit(0 if check_queries(args.check, args.out, args.threads) else 1)
    elif args.eval_only:
        eval_only(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
