#!/usr/bin/env python3
"""English and Chinese captions of the shapes world, the constraints they express, and hard
negatives that differ from a caption in exactly one attribute.

A caption is written from three things:

* the scene (``demo_world.Scene``);
* a *mask*: which attributes it mentions (all of them for a "full" caption, a random subset
  otherwise, sometimes a single one: "three shapes", "一个小图形");
* a *style*: a vector of uniform numbers that picks every wording choice (synonyms, word order,
  frame, where the background and position go). The same style and mask on a scene that differs
  in one attribute give a caption that differs only in that attribute's words, which is how
  ``hard_negative`` writes "three red circles" next to "two red circles", or
  "蓝色背景上的两个红色小圆" next to "蓝色背景上的两个红色小三角形".

The *constraint* of a caption lists per attribute (``demo_world.ATTRIBUTES`` order) the code it
requires or ``ANY``; the training loss uses it to know which images of a batch a caption
describes. English always tells one from many (article or plural); Chinese has no plural, so
"红色的圆" leaves the count open unless a count word ("一个", "两个") or "一些"/"几个" says it.

Vocabulary (besides the canonical words): big/huge, little/tiny, plain, stripy/"with stripes",
spotted/polka-dot/"with dots", gray, violet, disc, plus sign, digits ("2 red circles");
小小的/很小的/较小的, 大大的/很大的/较大的, 纯色/实心/单色, 条纹/带条纹的, 圆点/波点/带圆点的,
粉红色, 橘色/橘黄色, 褐色/咖啡色, 圆形/圆圈, 方块/方形, 三角, 星形/五角星, 心形/爱心, 十字形/加号,
classifiers 个/颗, 图形/形状 for an unnamed shape, 左边/左侧/靠左, 上方/顶部, 中间/中央/正中间.
"""
from __future__ import annotations

import dataclasses
import random

from demo_world import ANY, BACKGROUNDS, COLOURS, POSITIONS, SHAPES, SIZES, TEXTURES, Scene

LANGS = ("en", "zh")

# Every wording decision reads one named uniform number of the style.
STYLE_KEYS = [
    "count", "digits", "article", "size", "texture", "colour", "noun", "order", "post_texture",
    "position", "pos_place", "background", "bg_place", "frame", "some", "de_size", "de_texture",
    "de_colour", "classifier", "pos_word", "bg_word", "frame2",
]


class Style:
    """Named uniform numbers in [0, 1) that fix every wording choice of a caption."""

    def __init__(self, rng: random.Random):
        self.u = {k: rng.random() for k in STYLE_KEYS}

    def pick(self, key: str, options: list):
        return options[min(len(options) - 1, int(self.u[key] * len(options)))]

    def chance(self, key: str, p: float) -> bool:
        return self.u[key] < p


# ---------------------------------------------------------------- masks and constraints

MENTION_P = {"shape": 0.85, "colour": 0.85, "count": 0.75, "size": 0.5, "texture": 0.45, "position": 0.55,
             "background": 0.5}


def sample_mask(scene: Scene, rng: random.Random, full: bool = False) -> dict:
    """Which attributes a caption mentions. ``full``: all of them (position only for a single
    shape). Otherwise a random subset with at least the shape or the colour, or (10%) one
    attribute alone."""
    multi = scene.count > 1
    if full:
        m = {k: True for k in MENTION_P}
    elif rng.random() < 0.1:
        options = ["shape", "colour", "size", "texture", "background"] + (["count"] if multi else ["position"])
        only = rng.choice(options)
        m = {k: k == only for k in MENTION_P}
    else:
        m = {k: rng.random() < p for k, p in MENTION_P.items()}
        if scene.texture != "solid" and rng.random() < 0.3:
            m["texture"] = True
        if not m["shape"] and not m["colour"]:
            m[rng.choice(["shape", "colour"])] = True
    if multi:
        m["position"] = False
    return m


def reveals_number(scene: Scene, mask: dict, style: Style, lang: str) -> bool:
    """Whether the caption tells one shape from several."""
    if lang == "en" or mask["count"]:
        return True
    return scene.count > 1 and style.chance("some", 0.5)


def constraint(scene: Scene, mask: dict, style: Style, lang: str) -> list[int]:
    """The attribute codes the caption requires (``ANY`` where it says nothing)."""
    c = scene.codes()
    number = reveals_number(scene, mask, style, lang)
    count_said = mask["count"] or (lang == "en" and scene.count == 1)  # "a circle" is one circle
    return [
        c[0] if mask["shape"] else ANY,
        c[1] if mask["colour"] else ANY,
        c[2] if count_said else ANY,
        c[3] if number else ANY,
        c[4] if mask["size"] else ANY,
        c[5] if mask["texture"] else ANY,
        c[6] if mask["position"] and scene.count == 1 else ANY,
        c[7] if mask["background"] else ANY,
    ]


# ---------------------------------------------------------------- English

EN_COUNT = {2: "two", 3: "three", 4: "four"}
EN_SIZE = {"small": ["small", "small", "little", "tiny"], "large": ["large", "large", "big", "huge"]}
EN_TEXTURE = {"solid": ["solid", "plain", "solid"], "striped": ["striped", "striped", "stripy"],
              "dotted": ["dotted", "spotted", "polka-dot"]}
EN_TEXTURE_POST = {"solid": None, "striped": "with stripes", "dotted": "with dots"}
EN_COLOUR = {c: [c] for c in BACKGROUNDS}
EN_COLOUR["grey"] = ["grey", "gray"]
EN_COLOUR["purple"] = ["purple", "purple", "purple", "violet"]
EN_NOUN = {"circle": ["circle", "circle", "circle", "disc"], "square": ["square"], "triangle": ["triangle"],
           "star": ["star"], "heart": ["heart"], "cross": ["cross", "cross", "cross", "plus sign"],
           None: ["shape", "shape", "figure"]}
EN_POSITION = {
    "left": ["on the left", "on the left side", "to the left"],
    "right": ["on the right", "on the right side", "to the right"],
    "top": ["at the top", "near the top", "at the top of the picture"],
    "bottom": ["at the bottom", "near the bottom", "at the bottom of the picture"],
    "centre": ["in the centre", "in the center", "in the middle"],
}


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _plural(noun: str) -> str:
    if noun.endswith("ss"):
        return noun + "es"
    if noun == "plus sign":
        return "plus signs"
    return noun + "s"


def write_en(scene: Scene, mask: dict, style: Style) -> str:
    multi = scene.count > 1
    words = []
    if multi:
        if mask["count"]:
            words.append(str(scene.count) if style.chance("digits", 0.1) else EN_COUNT[scene.count])
        else:
            some = style.pick("some", ["some", "several", "a few", "", ""])
            if some:
                words.append(some)
    size = style.pick("size", EN_SIZE[scene.size]) if mask["size"] else None
    tex = style.pick("texture", EN_TEXTURE[scene.texture]) if mask["texture"] else None
    post_tex = None
    if tex and EN_TEXTURE_POST[scene.texture] and style.chance("post_texture", 0.2):
        tex, post_tex = None, EN_TEXTURE_POST[scene.texture]
    col = style.pick("colour", EN_COLOUR[scene.colour]) if mask["colour"] else None
    order = style.pick("order", ["std", "std", "std", "colour_first", "size_last"])
    mods = {"std": [size, tex, col], "colour_first": [size, col, tex], "size_last": [tex, col, size]}[order]
    words += [w for w in mods if w]
    noun = style.pick("noun", EN_NOUN[scene.shape if mask["shape"] else None])
    words.append(_plural(noun) if multi else noun)
    np_ = " ".join(words)
    if not multi:
        det = style.pick("article", ["a", "a", "a", "a", "one", "a single"])
        np_ = (_article(np_) if det == "a" else det) + " " + np_
    if post_tex:
        np_ += " " + post_tex
    pos = style.pick("pos_word", EN_POSITION[scene.position]) if mask["position"] and not multi else None
    bgw = style.pick("bg_word", EN_COLOUR[scene.background])
    if mask["background"]:
        place = style.pick("bg_place", ["on", "on", "against", "bare", "with", "comma"])
    else:
        place = None
    tail = f" {pos}" if pos else ""
    if place == "with":
        text = f"{_article(bgw)} {bgw} background with {np_}{tail}"
    else:
        bg = {None: "", "on": f" on {_article(bgw)} {bgw} background", "against": f" against {_article(bgw)} {bgw} background",
              "bare": f" on {bgw}", "comma": f", {bgw} background"}[place]
        if pos and bg and style.chance("pos_place", 0.3):
            text = f"{np_}{bg}, {pos}"
        else:
            text = f"{np_}{tail}{bg}"
        frame = style.pick("frame", ["", "", "", "a photo of ", "a picture of ", "an image of ", "a drawing of ", "there"])
        if frame == "there":
            text = ("there are " if multi else "there is ") + text
        else:
            text = frame + text
    return text


# ---------------------------------------------------------------- Chinese

ZH_NUM = {1: "一", 2: "两", 3: "三", 4: "四"}
ZH_SIZE = {"small": [("小", "小的"), ("小", "小小的"), ("小", "很小的"), ("小", "较小的")],
           "large": [("大", "大的"), ("大", "大大的"), ("大", "很大的"), ("大", "较大的")]}
ZH_TEXTURE = {"solid": [("纯色", "纯色的"), ("实心", "实心的"), ("单色", "单色的")],
              "striped": [("条纹", "带条纹的"), ("条纹", "有条纹的"), ("条纹", "条纹状的")],
              "dotted": [("圆点", "带圆点的"), ("波点", "有圆点的"), ("圆点", "带点点的")]}
ZH_COLOUR = {"red": ["红色"], "green": ["绿色"], "blue": ["蓝色"], "yellow": ["黄色"],
             "orange": ["橙色", "橙色", "橘色", "橘黄色"], "purple": ["紫色"], "white": ["白色"], "black": ["黑色"],
             "pink": ["粉色", "粉红色"], "brown": ["棕色", "棕色", "褐色", "咖啡色"], "grey": ["灰色"]}
ZH_NOUN = {"circle": ["圆", "圆形", "圆形", "圆圈"], "square": ["正方形", "正方形", "方块", "方形"],
           "triangle": ["三角形", "三角形", "三角"], "star": ["星星", "星形", "五角星"],
           "heart": ["爱心", "心形", "心"], "cross": ["十字", "十字形", "加号"], None: ["图形", "图形", "形状"]}
ZH_POSITION = {"left": ["左边", "左侧", "左边"], "right": ["右边", "右侧", "右边"], "top": ["上方", "顶部", "上面"],
               "bottom": ["下方", "底部", "下面"], "centre": ["中间", "中央", "正中间"]}


def write_zh(scene: Scene, mask: dict, style: Style) -> str:
    multi = scene.count > 1
    # number: 一个 / 两颗 / 3个 / 一些 / (nothing)
    num = ""
    if mask["count"]:
        cls = "颗" if scene.shape in ("star", "heart") and mask["shape"] and style.chance("classifier", 0.4) else "个"
        num = (str(scene.count) if style.chance("digits", 0.1) else ZH_NUM[scene.count]) + cls
    elif multi and reveals_number(scene, mask, style, "zh"):
        num = style.pick("count", ["一些", "几个", "多个", "好几个"])
    # modifiers, each bare ("红色") or with 的 ("红色的"), in a style-chosen order; a bare size
    # goes right before the noun ("红色小三角形")
    mods = []
    if mask["texture"]:
        bare, de = style.pick("texture", ZH_TEXTURE[scene.texture])
        mods.append(("texture", de if style.chance("de_texture", 0.6) else bare))
    if mask["colour"]:
        c = style.pick("colour", ZH_COLOUR[scene.colour])
        mods.append(("colour", c + "的" if style.chance("de_colour", 0.35) else c))
    size = None
    if mask["size"]:
        bare, de = style.pick("size", ZH_SIZE[scene.size])
        if style.chance("de_size", 0.5):
            size = bare  # attached to the noun below
        else:
            mods.append(("size", de))
    order = style.pick("order", [("texture", "colour", "size"), ("size", "texture", "colour"),
                                 ("colour", "texture", "size"), ("size", "colour", "texture")])
    mods.sort(key=lambda m: order.index(m[0]))
    noun = style.pick("noun", ZH_NOUN[scene.shape if mask["shape"] else None])
    np_ = num + "".join(m[1] for m in mods) + (size or "") + noun

    pos = style.pick("pos_word", ZH_POSITION[scene.position]) if mask["position"] and not multi else None
    bg = style.pick("bg_word", ZH_COLOUR[scene.background]) if mask["background"] else None
    if pos and bg:
        text = style.pick("pos_place", [f"{bg}背景上{pos}的{np_}", f"{bg}背景上的{np_}，在{pos}",
                                        f"{np_}在{bg}背景的{pos}", f"{pos}有{np_}，{bg}背景"])
    elif pos:
        text = style.pick("pos_place", [f"{pos}的{np_}", f"{np_}在{pos}", f"在{pos}的{np_}", f"{pos}有{np_}"])
    elif bg:
        text = style.pick("bg_place", [f"{bg}背景上的{np_}", f"在{bg}背景上的{np_}", f"{np_}，{bg}背景",
                                       f"{np_}在{bg}背景上", f"{bg}的背景上有{np_}"])
    else:
        text = np_
    if "有" in text or "在" in text[len(np_):]:  # already a clause: no frame around it
        frame = style.pick("frame", ["", "", "", "照片：{}", "图片：{}"])
    else:
        frame = style.pick("frame", ["", "", "", "一张{}的照片", "照片里有{}", "图片上是{}", "画着{}的图片", "{}的图片"])
    return frame.replace("{}", text) if frame else text


# ---------------------------------------------------------------- public API

def write(scene: Scene, mask: dict, style: Style, lang: str) -> str:
    return write_en(scene, mask, style) if lang == "en" else write_zh(scene, mask, style)


def describe(scene: Scene, rng: random.Random, lang: str, full: bool = False):
    """A random caption of ``scene`` in ``lang``: (text, constraint, mask, style)."""
    mask = sample_mask(scene, rng, full)
    style = Style(rng)
    return write(scene, mask, style, lang), constraint(scene, mask, style, lang), mask, style


def changed(scene: Scene, kind: str, rng: random.Random) -> Scene:
    """``scene`` with attribute ``kind`` set to another value (the background never equals
    the shape's colour)."""
    if kind == "shape":
        return dataclasses.replace(scene, shape=rng.choice([s for s in SHAPES if s != scene.shape]))
    if kind == "colour":
        return dataclasses.replace(scene, colour=rng.choice([c for c in COLOURS if c not in (scene.colour, scene.background)]))
    if kind == "background":
        return dataclasses.replace(scene, background=rng.choice([b for b in BACKGROUNDS if b not in (scene.colour, scene.background)]))
    if kind == "size":
        return dataclasses.replace(scene, size=[s for s in SIZES if s != scene.size][0])
    if kind == "texture":
        return dataclasses.replace(scene, texture=rng.choice([t for t in TEXTURES if t != scene.texture]))
    if kind == "position":
        return dataclasses.replace(scene, position=rng.choice([p for p in POSITIONS if p != scene.position]))
    if kind == "count":
        n = rng.choice([k for k in (1, 2, 3, 4) if k != scene.count])
        return dataclasses.replace(scene, count=n, position=(scene.position or rng.choice(POSITIONS)) if n == 1 else "")
    raise ValueError(kind)


HARD_KINDS = {"shape": 3.0, "count": 3.0, "colour": 2.0, "size": 0.7, "texture": 0.7, "background": 0.5, "position": 0.5}


def hard_negative(scene: Scene, mask: dict, style: Style, lang: str, rng: random.Random):
    """A caption written like the given one (same mask and style) of a scene that differs in one
    mentioned attribute, mostly shape, count or colour: (text, constraint, kind), or None when the
    caption mentions nothing that can change."""
    kinds = [k for k in HARD_KINDS if mask.get(k)]
    if lang == "en" and scene.count == 1 and "count" not in kinds:
        kinds.append("count")  # "a red circle" -> "two red circles"
    if scene.count > 1 and "position" in kinds:
        kinds.remove("position")
    if not kinds:
        return None
    kind = rng.choices(kinds, weights=[HARD_KINDS[k] for k in kinds])[0]
    other = changed(scene, kind, rng)
    m = dict(mask)
    if kind == "count" and lang == "en" and not m["count"]:
        m["count"] = True
    text = write(other, m, style, lang)
    return text, constraint(other, m, style, lang), kind


if __name__ == "__main__":
    import sys
    import demo_world as world
    rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    for i in range(10):
        s = world.random_scene(rng)
        for lang in LANGS:
            full = describe(s, rng, lang, full=True)[0]
            text, cons, mask, style = describe(s, rng, lang)
            neg = hard_negative(s, mask, style, lang, rng)
            print(f"{lang} | {full} | {text} | not: {neg[0] if neg else '-'} ({neg[2] if neg else ''})")
