#!/usr/bin/env python3
"""Train vdb's demo CLIP on the procedural shapes world and save it in Hugging Face format.

The model is a small ``transformers.CLIPModel`` (ViT image tower, causal text
tower with the real 49408-token CLIP BPE vocabulary, ``quick_gelu``), trained
from scratch on CPU with a contrastive loss on scenes from ``demo_world.py``.
Captions often mention only some attributes ("a red circle" matches every
scene with one red circle), so the loss uses multi-positive targets: a
caption's target distribution is uniform over the batch images it describes,
and an image's over the captions that describe it.

Environment (what this was run with): Python 3.11, torch 1.13 (CPU),
transformers 4.40.2, tokenizers, safetensors, Pillow 9.4, NumPy 1.24::

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch transformers safetensors pillow numpy
    pip download open_clip_torch --no-deps -d /tmp/oc
    unzip -o /tmp/oc/open_clip_torch-*.whl 'open_clip/bpe_simple_vocab_16e6.txt.gz' -d /tmp/oc

Train, evaluate and write ``Models/demo-clip`` (see Docs/demo-model.md for
the exact command and results)::

    python Scripts/train_demo_clip.py --bpe /tmp/oc/open_clip/bpe_simple_vocab_16e6.txt.gz \
        --out Models/demo-clip --minutes 40

``--eval-only`` re-evaluates a saved model; ``--samples DIR`` writes the
bundled sample photos (see ``make_samples``).
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import sys
import time
from multiprocessing import Pool

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_world as world  # noqa: E402
import clip_bpe  # noqa: E402

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


# ---------------------------------------------------------------- data

def _render_one(args):
    """Render one scene at ``render_size`` and bring it to ``image_size`` the way
    CLIPImageProcessor does (bicubic resize, centre crop); optionally JPEG round trip."""
    scene, render_size, image_size, jpeg_q = args
    from PIL import Image
    img = world.render(scene, render_size)
    if render_size != image_size:
        img = img.resize((image_size, image_size), Image.BICUBIC)
    if jpeg_q:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=jpeg_q)
        buf.seek(0)
        img = Image.open(buf).convert("RGB")
    return np.asarray(img, dtype=np.uint8)


def make_set(n: int, seed: int, image_size: int, render_size: int, jpeg_frac: float, procs: int = 2):
    """``n`` random scenes (seeded) and their images as uint8 [n, H, W, 3]."""
    rng = random.Random(seed)
    scenes = [world.random_scene(rng) for _ in range(n)]
    jobs = []
    for s in scenes:
        q = rng.randint(55, 95) if rng.random() < jpeg_frac else 0
        jobs.append((s, render_size, image_size, q))
    if procs > 1:
        with Pool(procs) as pool:
            imgs = pool.map(_render_one, jobs, chunksize=256)
    else:
        imgs = [_render_one(j) for j in jobs]
    return scenes, np.stack(imgs)


def normalize(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 [B, H, W, 3] -> normalized float [B, 3, H, W] (CLIP mean/std)."""
    x = images_u8.permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (x - mean) / std


# ---------------------------------------------------------------- model

def build_model(args):
    from transformers import CLIPConfig, CLIPModel
    text_config = dict(
        vocab_size=49408,
        hidden_size=args.text_width,
        intermediate_size=args.text_width * 4,
        num_hidden_layers=args.text_layers,
        num_attention_heads=args.text_heads,
        max_position_embeddings=77,
        hidden_act="quick_gelu",
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
    )
    vision_config = dict(
        hidden_size=args.vision_width,
        intermediate_size=args.vision_width * 4,
        num_hidden_layers=args.vision_layers,
        num_attention_heads=args.vision_heads,
        image_size=args.image_size,
        patch_size=args.patch_size,
        hidden_act="quick_gelu",
    )
    config = CLIPConfig(text_config=text_config, vision_config=vision_config,
                        projection_dim=args.projection_dim, logit_scale_init_value=2.6592)
    torch.manual_seed(args.seed)
    return CLIPModel(config)


def encode_texts(model, tok, texts, batch=512):
    out = []
    for i in range(0, len(texts), batch):
        t = tok(texts[i:i + batch], padding=True, return_tensors="pt")
        out.append(F.normalize(model.get_text_features(input_ids=t["input_ids"], attention_mask=t["attention_mask"]), dim=-1))
    return torch.cat(out)


def encode_images(model, pixels, batch=512):
    out = []
    for i in range(0, len(pixels), batch):
        out.append(F.normalize(model.get_image_features(pixel_values=pixels[i:i + batch]), dim=-1))
    return torch.cat(out)


# ---------------------------------------------------------------- evaluation

@torch.no_grad()
def evaluate(model, tok, scenes, pixels, seed: int, gallery: int = 1000) -> dict:
    """Retrieval and zero-shot metrics on a held-out set (``pixels`` normalized)."""
    model.eval()
    scenes, pixels = scenes[:gallery], pixels[:gallery]
    n = len(scenes)
    rng = random.Random(seed)
    codes = torch.tensor([s.codes() for s in scenes])
    img = encode_images(model, pixels)
    res = {"gallery": n}

    # text -> image with full captions (every attribute mentioned)
    caps, cons = zip(*[world.caption(s, rng, full=True) for s in scenes])
    txt = encode_texts(model, tok, list(caps))
    sim = txt @ img.T
    order = sim.argsort(dim=1, descending=True)
    target = torch.arange(n)
    rank = (order == target[:, None]).float().argmax(dim=1)
    res["t2i_full_R@1"] = (rank < 1).float().mean().item()
    res["t2i_full_R@5"] = (rank < 5).float().mean().item()
    res["t2i_full_R@10"] = (rank < 10).float().mean().item()
    cons_t = torch.tensor(cons)
    ok = ((cons_t[:, None, :] == world.ANY) | (cons_t[:, None, :] == codes[None, :, :])).all(-1)
    res["t2i_full_top1_matches"] = ok[torch.arange(n), order[:, 0]].float().mean().item()
    # image -> text over the same captions
    rank_i = (sim.T.argsort(dim=1, descending=True) == target[:, None]).float().argmax(dim=1)
    res["i2t_full_R@1"] = (rank_i < 1).float().mean().item()
    res["i2t_full_R@5"] = (rank_i < 5).float().mean().item()

    # partial captions: does the top image satisfy the caption?
    caps, cons = zip(*[world.caption(s, rng) for s in scenes])
    txt = encode_texts(model, tok, list(caps))
    top = (txt @ img.T).argmax(dim=1)
    cons_t = torch.tensor(cons)
    ok = ((cons_t[:, None, :] == world.ANY) | (cons_t[:, None, :] == codes[None, :, :])).all(-1)
    res["t2i_partial_top1_matches"] = ok[torch.arange(n), top].float().mean().item()
    res["t2i_partial_chance"] = ok.float().mean().item()

    # zero-shot classification
    single = codes[:, 3] == 0
    def zero_shot(prompts, labels, mask):
        t = encode_texts(model, tok, prompts)
        pred = (img[mask] @ t.T).argmax(dim=1)
        return (pred == labels[mask]).float().mean().item()
    def zero_shot_ensemble(prompt_sets, labels, mask):
        # one class embedding = normalized mean of the embeddings of its prompts
        cls = torch.stack([F.normalize(encode_texts(model, tok, ps).mean(0), dim=-1) for ps in prompt_sets])
        pred = (img[mask] @ cls.T).argmax(dim=1)
        return (pred == labels[mask]).float().mean().item()
    # Prompts that name only a position, size or texture ("a shape on the left") never occur in
    # training (captions always name the shape or the colour), so those are averaged over colours.
    cols = world.COLOURS
    res["zs_shape_single_colour_ensemble"] = zero_shot_ensemble(
        [[f"a photo of {world._article(c)} {c} {s}" for c in cols] for s in world.SHAPES], codes[:, 0], single)
    res["zs_position_single_colour_ensemble"] = zero_shot_ensemble(
        [[f"a {c} shape {world.POSITION_WORDS[p][0]}" for c in cols] for p in world.POSITIONS], codes[:, 6], single)
    res["zs_texture_single_colour_ensemble"] = zero_shot_ensemble(
        [[f"a photo of {world._article(t)} {t} {c} shape" for c in cols] for t in ["solid", "striped", "dotted"]], codes[:, 5], single)
    res["zs_size_single_colour_ensemble"] = zero_shot_ensemble(
        [[f"a photo of a {z} {c} shape" for c in cols] for z in world.SIZES], codes[:, 4], single)
    res["zs_colour_single"] = zero_shot([f"a photo of {world._article(c)} {c} shape" for c in world.COLOURS], codes[:, 1], single)
    res["zs_colour_all"] = zero_shot([f"a photo of {c} shapes" for c in world.COLOURS], codes[:, 1], ~single)
    res["zs_shape_single"] = zero_shot([f"a photo of {world._article(s)} {s}" for s in world.SHAPES], codes[:, 0], single)
    res["zs_shape_all"] = zero_shot([f"a photo of {world.PLURAL[s]}" for s in world.SHAPES], codes[:, 0], ~single)
    res["zs_count_multi"] = zero_shot([f"a photo of {w} shapes" for w in ["two", "three", "four"]], codes[:, 2] - 1, ~single)
    res["zs_background"] = zero_shot([f"a shape on {world._article(b)} {b} background" for b in world.BACKGROUNDS], codes[:, 7], torch.ones(n, dtype=torch.bool))
    res["zs_texture_single"] = zero_shot([f"a photo of {world._article(w)} {w} shape" for w in ["solid", "striped", "dotted"]], codes[:, 5], single)
    res["zs_position_single"] = zero_shot([f"a shape {world.POSITION_WORDS[p][0]}" for p in world.POSITIONS], codes[:, 6], single)
    res["zs_size_single"] = zero_shot([f"a photo of a {s} shape" for s in world.SIZES], codes[:, 4], single)
    res["chance"] = {"colour": 1 / len(world.COLOURS), "shape": 1 / len(world.SHAPES), "count_multi": 1 / 3,
                     "background": 1 / len(world.BACKGROUNDS), "texture": 1 / 3, "position": 1 / 5, "size": 1 / 2,
                     "t2i_R@1": 1 / n, "t2i_R@5": 5 / n}
    model.train()
    return res


# ---------------------------------------------------------------- training

def train(args):
    from transformers import CLIPTokenizerFast
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    clip_bpe.write_tokenizer_files(args.bpe, args.out, configs=True)
    tok = CLIPTokenizerFast(vocab_file=os.path.join(args.out, "vocab.json"),
                            merges_file=os.path.join(args.out, "merges.txt"))
    assert tok("a photo of a cat")["input_ids"] == clip_bpe.EXPECTED_CAT

    t0 = time.time()
    scenes, images = make_set(args.train_size, args.seed, args.image_size, args.render_size, 0.5)
    codes = torch.tensor([s.codes() for s in scenes])
    images = torch.from_numpy(images)
    ev_scenes, ev_images = make_set(args.eval_size, args.seed + 1000, args.image_size, args.render_size, 0.5)
    ev_pixels = normalize(torch.from_numpy(ev_images))
    print(f"data: {len(scenes)} train / {len(ev_scenes)} eval scenes in {time.time() - t0:.0f}s", flush=True)

    if args.init:
        from transformers import CLIPModel
        model = CLIPModel.from_pretrained(args.init).float()  # continue training a saved model
        print(f"continuing from {args.init}", flush=True)
    else:
        model = build_model(args)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"model: {nparams / 1e6:.2f}M parameters", flush=True)
    # Auxiliary attribute heads (training aid only, not saved): one linear classifier per
    # attribute on each tower's pooled output. Without them the image tower learns colour,
    # background and size quickly but shape and position very slowly on a CPU budget.
    n_classes = [len(world.SHAPES), len(world.COLOURS), 4, 2, len(world.SIZES), len(world.TEXTURES),
                 len(world.POSITIONS) + 1, len(world.BACKGROUNDS)]
    vw, tw = model.config.vision_config.hidden_size, model.config.text_config.hidden_size
    aux_img = torch.nn.ModuleList([torch.nn.Linear(vw, n) for n in n_classes])
    aux_txt = torch.nn.ModuleList([torch.nn.Linear(tw, n) for n in n_classes])
    by_colour = [torch.nonzero(codes[:, 1] == c).flatten() for c in range(len(world.COLOURS))]
    decay, no_decay = [], []
    named = list(model.named_parameters()) + [("aux_img." + n, p) for n, p in aux_img.named_parameters()] \
        + [("aux_txt." + n, p) for n, p in aux_txt.named_parameters()]
    for name, p in named:
        (decay if p.ndim >= 2 and "embedding" not in name else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-6)

    budget = args.minutes * 60
    rng = random.Random(args.seed + 7)
    step, epoch, perm, pos = 0, 0, torch.randperm(len(scenes)), 0
    t_start = time.time()
    est_steps = args.steps  # estimated total; refined from measured speed when a time budget is set
    ema = None
    log = []
    while True:
        elapsed = time.time() - t_start
        if args.steps and step >= args.steps:
            break
        if not args.steps and elapsed >= budget:
            break
        if not args.steps and step == 20:
            est_steps = int(budget / (elapsed / 20))
            print(f"estimated {est_steps} steps in {args.minutes} min", flush=True)
        total = est_steps or 1000
        if step < args.warmup:
            lr = args.lr * (step + 1) / args.warmup
        else:
            if args.steps:
                prog = min(1.0, (step - args.warmup) / max(1, total - args.warmup))
            else:  # time budget: follow wall-clock progress (the machine's speed varies)
                prog = min(1.0, elapsed / budget)
            lr = args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * prog)))
        for g in opt.param_groups:
            g["lr"] = lr

        if pos + args.batch > len(perm):
            perm, pos, epoch = torch.randperm(len(scenes)), 0, epoch + 1
        if rng.random() < args.hard_frac:
            # hard batch: scenes of only two colours, so colour alone cannot tell them apart
            pool = torch.cat([by_colour[c] for c in rng.sample(range(len(world.COLOURS)), 2)])
            idx = pool[torch.randint(len(pool), (args.batch,))]
        else:
            idx = perm[pos:pos + args.batch]
            pos += args.batch
        batch_scenes = [scenes[i] for i in idx.tolist()]
        caps, cons = zip(*[world.caption(s, rng, full=rng.random() < args.full_frac) for s in batch_scenes])
        t = tok(list(caps), padding=True, return_tensors="pt")
        pixels = normalize(images[idx])
        bc = codes[idx]
        cons_t = torch.tensor(cons)
        # match[i, j]: caption j describes image i
        match = ((cons_t[None, :, :] == world.ANY) | (cons_t[None, :, :] == bc[:, None, :])).all(-1).float()

        v_pooled = model.vision_model(pixel_values=pixels).pooler_output
        t_pooled = model.text_model(input_ids=t["input_ids"], attention_mask=t["attention_mask"]).pooler_output
        img_e = F.normalize(model.visual_projection(v_pooled), dim=-1)
        txt_e = F.normalize(model.text_projection(t_pooled), dim=-1)
        logits_i = model.logit_scale.exp() * img_e @ txt_e.T  # [B images, B texts]
        tgt_i = match / match.sum(1, keepdim=True)
        tgt_t = match.T / match.T.sum(1, keepdim=True)
        clip_loss = 0.5 * (-(tgt_i * F.log_softmax(logits_i, 1)).sum(1).mean()
                           - (tgt_t * F.log_softmax(logits_i.T, 1)).sum(1).mean())
        aux = 0.0
        if args.aux > 0:
            for k, (hi, ht) in enumerate(zip(aux_img, aux_txt)):
                aux = aux + (args.shape_weight if k == 0 else 1.0) * F.cross_entropy(hi(v_pooled), bc[:, k])
                if (cons_t[:, k] != world.ANY).any():
                    aux = aux + F.cross_entropy(ht(t_pooled), cons_t[:, k], ignore_index=world.ANY)
            aux = aux / len(n_classes)
        loss = clip_loss + args.aux * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        ema = clip_loss.item() if ema is None else 0.98 * ema + 0.02 * clip_loss.item()
        step += 1
        if step % 25 == 0:
            print(f"step {step} epoch {epoch} lr {lr:.2e} clip loss {clip_loss.item():.4f} ema {ema:.4f} "
                  f"aux {float(aux):.3f} "
                  f"scale {model.logit_scale.exp().item():.1f} {time.time() - t_start:.0f}s", flush=True)
        if args.eval_every and step % args.eval_every == 0:
            r = evaluate(model, tok, ev_scenes, ev_pixels, seed=args.seed + 2000, gallery=500)
            log.append({"step": step, "time": time.time() - t_start, **{k: v for k, v in r.items() if k != "chance"}})
            print("eval", json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != "chance"}), flush=True)
            save(model, args)  # keep the latest state on disk

    train_time = time.time() - t_start
    print(f"trained {step} steps ({epoch} epochs + {pos} scenes) in {train_time:.0f}s, final ema loss {ema:.4f}", flush=True)
    res = evaluate(model, tok, ev_scenes, ev_pixels, seed=args.seed + 2000, gallery=1000)
    print("final eval", json.dumps(res), flush=True)
    save(model, args)
    meta = {"args": vars(args), "steps": step, "epochs": epoch + pos / len(scenes), "train_seconds": train_time,
            "final_loss_ema": ema, "last_clip_loss": clip_loss.item(), "parameters": nparams, "eval": res, "eval_log": log}
    with open(args.metrics, "w") as f:
        json.dump(meta, f, indent=2)
    print(f"wrote {args.out} and {args.metrics}", flush=True)


EXPLICIT_KEYS = {
    "text_config": ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                    "max_position_embeddings", "hidden_act", "layer_norm_eps", "bos_token_id", "eos_token_id",
                    "pad_token_id"],
    "vision_config": ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_channels",
                      "image_size", "patch_size", "hidden_act", "layer_norm_eps"],
}


def complete_config(out_dir: str) -> None:
    """Spell out in config.json the values transformers leaves implicit when they equal its
    defaults (hidden_act, vocab size, token ids, eps...), so other loaders need no HF defaults."""
    from transformers import CLIPConfig
    path = os.path.join(out_dir, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    full = CLIPConfig.from_pretrained(out_dir).to_dict()
    for section, keys in EXPLICIT_KEYS.items():
        for k in keys:
            cfg[section][k] = full[section][k]
    cfg["projection_dim"] = full["projection_dim"]
    for section in EXPLICIT_KEYS:  # the towers' own (unused) projection_dim would default to 512
        cfg[section]["projection_dim"] = full["projection_dim"]
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def save(model, args):
    from transformers import CLIPImageProcessor
    import copy
    m = copy.deepcopy(model)
    if args.fp16:
        m = m.half()
    m.save_pretrained(args.out, safe_serialization=True)
    complete_config(args.out)
    proc = CLIPImageProcessor(size={"shortest_edge": args.image_size},
                              crop_size={"height": args.image_size, "width": args.image_size},
                              image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD), resample=3,
                              do_resize=True, do_center_crop=True, do_rescale=True, do_normalize=True,
                              do_convert_rgb=True)
    proc.save_pretrained(args.out)


def eval_only(args):
    """Evaluate the model saved in --out on the held-out set (seed + 1000), 1000 scenes."""
    from transformers import CLIPModel, CLIPTokenizerFast
    torch.set_num_threads(args.threads)
    model = CLIPModel.from_pretrained(args.out).float()
    tok = CLIPTokenizerFast.from_pretrained(args.out)
    scenes, images = make_set(args.eval_size, args.seed + 1000, model.config.vision_config.image_size, args.render_size, 0.5)
    res = evaluate(model, tok, scenes, normalize(torch.from_numpy(images)), seed=args.seed + 2000, gallery=1000)
    print(json.dumps(res, indent=2))


# ---------------------------------------------------------------- sample photos

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

# Candidate queries: (text, constraint as a dict of attribute -> value).
DEMO_QUERIES = [
    ("a red circle", dict(shape="circle", colour="red", multi=0)),
    ("two blue squares", dict(shape="square", colour="blue", count=2)),
    ("a yellow star on a black background", dict(shape="star", colour="yellow", multi=0, background="black")),
    ("three green triangles", dict(shape="triangle", colour="green", count=3)),
    ("a striped pink heart", dict(shape="heart", colour="pink", multi=0, texture="striped")),
    ("four orange crosses", dict(shape="cross", colour="orange", count=4)),
    ("a small purple circle on the left", dict(shape="circle", colour="purple", multi=0, size="small", position="left")),
    ("a dotted brown square", dict(shape="square", colour="brown", multi=0, texture="dotted")),
    ("two white stars on blue", dict(shape="star", colour="white", count=2, background="blue")),
    ("red hearts on a pink background", dict(shape="heart", colour="red", multi=1, background="pink")),
    ("a black triangle at the top", dict(shape="triangle", colour="black", multi=0, position="top")),
    ("four green dotted circles", dict(shape="circle", colour="green", count=4, texture="dotted")),
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
    """Write ``Samples/photos`` (JPEG and PNG, 256x192), sidecar captions, captions.csv,
    ``Samples/photos.jsonl`` (true caption and attributes of every photo) and
    ``Samples/demo-queries.jsonl`` (query -> the one photo it describes)."""
    import csv
    rng = random.Random(seed)
    photos = os.path.join(out_root, "photos")
    os.makedirs(photos, exist_ok=True)
    qcons = [query_constraint(q) for _, q in DEMO_QUERIES]
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
        cap, _ = world.caption(s, rng, full=True)
        source = "sidecar" if k % 7 == 0 else ("csv" if k % 3 == 1 else "none")
        rows.append({"file": name, "caption": cap, "caption_source": source, **s.to_dict()})
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
    for (text, q), c in zip(DEMO_QUERIES, qcons):
        hits = [r["file"] for r, s in zip(rows, scenes) if world.matches(c, s.codes())]
        assert len(hits) == 1, (text, hits)
        queries.append({"query": text, "expected": hits[0]})
    print(f"wrote {len(rows)} photos to {photos}")
    return rows, queries


@torch.no_grad()
def rank_queries(model_dir: str, photos_dir: str, queries: list[dict], threads: int = 1) -> list[dict]:
    """Rank the photos in ``photos_dir`` for each query with the saved checkpoint, loaded
    exactly as a Hugging Face CLIP checkpoint (model, fast tokenizer, image processor)."""
    from PIL import Image
    from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizerFast
    torch.set_num_threads(threads)
    model = CLIPModel.from_pretrained(model_dir).float().eval()
    tok = CLIPTokenizerFast.from_pretrained(model_dir)
    proc = CLIPImageProcessor.from_pretrained(model_dir)
    files = sorted(f for f in os.listdir(photos_dir) if f.endswith((".jpg", ".png")))
    images = [Image.open(os.path.join(photos_dir, f)).convert("RGB") for f in files]
    pix = proc(images=images, return_tensors="pt")["pixel_values"]
    img = F.normalize(model.get_image_features(pixel_values=pix), dim=-1)
    txt = encode_texts(model, tok, [q["query"] for q in queries])
    sim = txt @ img.T
    out = []
    for q, row in zip(queries, sim):
        order = row.argsort(descending=True).tolist()
        ranked = [files[i] for i in order]
        out.append({**q, "rank": ranked.index(q["expected"]) + 1 if q.get("expected") in ranked else None,
                    "top3": [(files[i], round(row[i].item(), 4)) for i in order[:3]]})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bpe", help="bpe_simple_vocab_16e6.txt.gz (from the open_clip_torch wheel)")
    ap.add_argument("--out", default="Models/demo-clip")
    ap.add_argument("--metrics", default="/tmp/demo-clip-metrics.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=40.0, help="wall-clock training budget")
    ap.add_argument("--steps", type=int, default=0, help="fixed number of steps instead of a time budget")
    ap.add_argument("--train-size", type=int, default=60000)
    ap.add_argument("--eval-size", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--full-frac", type=float, default=0.35, help="fraction of captions that mention every attribute")
    ap.add_argument("--eval-every", type=int, default=0)
    ap.add_argument("--aux", type=float, default=1.0, help="weight of the auxiliary attribute losses")
    ap.add_argument("--shape-weight", type=float, default=1.0, help="extra weight of the image tower's shape head")
    ap.add_argument("--hard-frac", type=float, default=0.4, help="fraction of batches drawn from two colours only")
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--render-size", type=int, default=96)
    ap.add_argument("--patch-size", type=int, default=8)
    ap.add_argument("--vision-width", type=int, default=128)
    ap.add_argument("--vision-layers", type=int, default=6)
    ap.add_argument("--vision-heads", type=int, default=4)
    ap.add_argument("--text-width", type=int, default=64)
    ap.add_argument("--text-layers", type=int, default=4)
    ap.add_argument("--text-heads", type=int, default=4)
    ap.add_argument("--projection-dim", type=int, default=128)
    ap.add_argument("--fp16", type=int, default=1, help="store weights as float16")
    ap.add_argument("--init", help="start from this saved model instead of a fresh one (architecture flags are ignored)")
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--samples", help="write the sample photos under this folder (e.g. Samples), then rank the demo queries with --out")
    ap.add_argument("--check", help="rank the demo queries of this Samples folder with the model in --out")
    args = ap.parse_args()
    if args.samples:
        rows, queries = make_samples(args.samples)
        res = rank_queries(args.out, os.path.join(args.samples, "photos"), queries, args.threads)
        for r in res:
            print(json.dumps(r))
        good = [{"query": r["query"], "expected": r["expected"]} for r in res if r["rank"] == 1]
        with open(os.path.join(args.samples, "demo-queries.jsonl"), "w") as f:
            for g in good:
                f.write(json.dumps(g) + "\n")
        print(f"{len(good)}/{len(res)} demo queries rank their photo first; kept those in demo-queries.jsonl")
    elif args.check:
        with open(os.path.join(args.check, "demo-queries.jsonl")) as f:
            queries = [json.loads(line) for line in f]
        res = rank_queries(args.out, os.path.join(args.check, "photos"), queries, args.threads)
        for r in res:
            print(json.dumps(r))
        bad = [r for r in res if r["rank"] != 1]
        print(f"{len(res) - len(bad)}/{len(res)} demo queries rank their photo first")
        sys.exit(1 if bad else 0)
    elif args.eval_only:
        eval_only(args)
    else:
        if not args.bpe:
            ap.error("--bpe is required for training")
        train(args)


if __name__ == "__main__":
    main()
