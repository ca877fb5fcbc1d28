"""Reproducible synthetic digits that look like what people draw and photograph.

MNIST is centred, medium-stroke, white-on-black digits written by a few hundred
Americans; the app gets sketchpad drawings, phone photos and PNG scans. This module
makes such inputs from known labels, so the whole chain (normalization + model) can be
measured on them and trained with them:

* :func:`find_fonts` lists installed TTF/OTF fonts that draw all ten digits, marks the
  handwriting-like ones and splits them, by a stable hash of the family name, into
  training and held-out families (see ``bench/FONTS.md`` for the packages to install).
* :func:`render_font_digit` renders a digit from a font, dark on white, at a random size,
  position and slight rotation.
* :func:`stroke_variant` / :func:`render_stroke_variant` draw digits as pen strokes from
  templates, including shapes MNIST under-represents (crossed sevens, nines with a curved
  tail, open fours, ones with a base, looped twos), with random jitter.
* :func:`mnist_strokes` turns a 28x28 MNIST digit into pen strokes (skeleton traced into
  smoothed polylines), and :func:`sketch_canvas` redraws any strokes with a round brush on
  a large transparent canvas like Gradio's Sketchpad composite (RGBA, background
  (0, 0, 0, 0), opaque black ink), at a chosen or random size, position and brush width.
* :func:`phone_photo` makes a simulated phone photo (paper, lighting, shadow, perspective,
  blur, noise, JPEG) of dark ink; :func:`white_on_black` the inverted PNG version.
* :func:`compose_number` writes a number from single digit images side by side, with
  chosen gaps (touching and overlapping included), sizes and baselines, and says which
  digit each pixel of ink belongs to; :func:`pen_digit` redraws a digit for it as if with
  the sketchpad's round pen; :data:`NUMBER_STYLES` names the ways numbers are written.

Every generator takes a :class:`numpy.random.Generator` or an integer seed and is
deterministic for it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
import sysconfig
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from scipy import ndimage
from skimage.morphology import skeletonize

RngLike = Union[np.random.Generator, int, np.random.SeedSequence, None]
Strokes = list  # list of (n, 2) float arrays of (x, y) points, y pointing down

#: Default fraction of font families held out from training (by a stable hash).
HELD_OUT_FRACTION = 0.3
#: Salt of the family hash: changing it reshuffles the train / held-out split.
SPLIT_SALT = "digitrec-fonts-1"
#: Where fonts are looked for, besides Python packages that bundle fonts.
FONT_DIRS = (
    "/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts",
)
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
#: Family/file-name fragments of fonts whose digits are not digits (symbols, dingbats)
#: or are shaped unlike anything drawn by hand with a pen.
EXCLUDED_FONTS = ("dingbat", "d050000l", "symbol", "math", "emoji", "icon", "awesome", "braille",
                  # outline, hatched, pixel-block or secretary-hand digits: nobody draws these
                  "femkeklaver", "cabinsketch", "cabin sketch", "f500", "joscelyn")
#: Family/file-name fragments of handwriting-like fonts (script, marker, comic, ...).
HANDWRITING_HINTS = (
    "hand", "script", "comic", "humor", "sketch", "breip", "because we", "dancing",
    "ecolier", "femke", "kaushan", "kristi", "leckerli", "lobster", "delphine", "steve",
    "purisa", "tomson", "yusei", "kiloji", "seto", "havana", "joscelyn", "isabella",
    "amatic", "intuitive", "z003", "chancery", "dkg", "marker", "chalk", "felt", "brush",
)
#: Style words stripped from a family name to group variants of one design together.
_STYLE_WORDS = (
    "condensed", "cond", "narrow", "light", "medium", "demi", "bold", "minus", "mac",
    "oblique", "italic", "regular", "extra", "std", "pro", "no2", "no3", "gs", "ex",
    "b", "d", "p", "sans", "serif", "mono",
)

#: Gradio-like sketchpad canvas sizes (width, height).
CANVAS_SIZES = ((600, 600), (800, 450), (800, 600), (512, 512))


def as_rng(rng: RngLike) -> np.random.Generator:
    """A Generator from a Generator (returned as is), a seed or a SeedSequence."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


# --------------------------------------------------------------------------- fonts


@dataclass(frozen=True)
class FontInfo:
    """One installed font file that draws all ten digits."""

    path: str
    family: str
    style: str
    group: str  # family with style words removed: variants of one design share it
    handwriting: bool
    held_out: bool


@dataclass(frozen=True)
class FontCatalog:
    """Installed digit fonts split into training and held-out families."""

    fonts: tuple[FontInfo, ...] = ()
    rejected: tuple[str, ...] = field(default=(), repr=False)

    @property
    def train(self) -> list[FontInfo]:
        return [f for f in self.fonts if not f.held_out]

    @property
    def held_out(self) -> list[FontInfo]:
        return [f for f in self.fonts if f.held_out]

    def summary(self) -> dict:
        def groups(fonts: Iterable[FontInfo], hand: bool) -> list[str]:
            return sorted({f.group for f in fonts if f.handwriting == hand})

        return {
            "files": len(self.fonts),
            "train_handwriting_families": groups(self.train, True),
            "held_out_handwriting_families": groups(self.held_out, True),
            "train_typeset_families": len(groups(self.train, False)),
            "held_out_typeset_families": groups(self.held_out, False),
        }


def find_fonts(dirs: Sequence[str | os.PathLike] | None = None, *,
               held_out_fraction: float = HELD_OUT_FRACTION, salt: str = SPLIT_SALT) -> FontCatalog:
    """Installed TTF/OTF fonts that draw the ten digits, split into train / held-out.

    ``dirs`` defaults to the system font folders (:data:`FONT_DIRS`, plus those in the
    ``DIGITREC_FONT_DIRS`` environment variable, ``os.pathsep``-separated) and the fonts
    bundled by Python packages (``font_*/files`` as in ``font-amatic-sc``). A font is
    held out when the stable hash of its family group (family name without style words,
    so Bold and Italic variants stay on the same side) falls below ``held_out_fraction``;
    the split of a family does not depend on which other fonts are installed.
    """
    if dirs is None:
        extra = [d for d in os.environ.get("DIGITREC_FONT_DIRS", "").split(os.pathsep) if d]
        dirs = [*FONT_DIRS, *extra, *_package_font_dirs()]
    key = tuple(sorted(str(Path(d).expanduser()) for d in dirs))
    return _find_fonts_cached(key, float(held_out_fraction), salt)


@lru_cache(maxsize=8)
def _find_fonts_cached(dirs: tuple[str, ...], held_out_fraction: float, salt: str) -> FontCatalog:
    paths = sorted({str(p) for d in dirs if Path(d).is_dir() for p in Path(d).rglob("*")
                    if p.suffix.lower() in FONT_SUFFIXES and p.is_file()})
    fonts, rejected, seen = [], [], set()
    for path in paths:
        name = Path(path).name.lower()
        try:
            font = ImageFont.truetype(path, 48)
            family, style = (s or "" for s in font.getname())
        except Exception:  # unreadable or unsupported font file
            rejected.append(path)
            continue
        text = f"{family} {name}".lower()
        if any(word in text for word in EXCLUDED_FONTS) or (family, style) in seen:
            rejected.append(path)
            continue
        if not _draws_digits(font):
            rejected.append(path)
            continue
        seen.add((family, style))
        group = _family_group(family)
        fonts.append(FontInfo(
            path=path, family=family, style=style, group=group,
            handwriting=any(h in text for h in HANDWRITING_HINTS),
            held_out=_stable_fraction(group, salt) < held_out_fraction,
        ))
    return FontCatalog(tuple(fonts), tuple(rejected))


def _package_font_dirs() -> list[str]:
    """Font folders bundled by installed Python packages (``font_*/files``)."""
    out = []
    for site in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *sys.path}:
        if site and Path(site).is_dir():
            out.extend(str(p) for p in Path(site).glob("font_*/files") if p.is_dir())
    return sorted(set(out))


def _family_group(family: str) -> str:
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", re.sub(r"([a-z])([A-Z])", r"\1 \2", family))
    words = re.findall(r"[a-z]+\d*|\d+", spaced.lower())
    kept = [w for w in words if w not in _STYLE_WORDS] or words[:1]
    return " ".join(kept[:2]) if kept else family.lower()


def _stable_fraction(text: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _draws_digits(font: ImageFont.FreeTypeFont) -> bool:
    """All ten digits have ink, differ from each other and from a missing glyph."""
    masks = []
    for ch in "0123456789\ue000\U0010fffd":
        try:
            mask = np.asarray(font.getmask(ch, mode="L"))
        except Exception:
            return False
        masks.append(mask.tobytes() + bytes(str(mask.shape), "ascii") if mask.size else b"")
    digits, missing = masks[:10], set(masks[10:])
    return all(digits) and len(set(digits)) == 10 and not (set(digits) & missing)


def sample_font(fonts: Sequence[FontInfo], rng: RngLike, handwriting_share: float = 0.6) -> FontInfo:
    """A random font: handwriting with probability ``handwriting_share`` (when there are
    both kinds), then a family group uniformly, then one of its files uniformly, so big
    families with many weights do not dominate."""
    rng = as_rng(rng)
    if not fonts:
        raise ValueError("no fonts to sample from")
    hand = [f for f in fonts if f.handwriting]
    typeset = [f for f in fonts if not f.handwriting]
    pool = fonts
    if hand and typeset:
        pool = hand if rng.random() < handwriting_share else typeset
    groups = sorted({f.group for f in pool})
    group = groups[int(rng.integers(len(groups)))]
    members = [f for f in pool if f.group == group]
    return members[int(rng.integers(len(members)))]


@lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def render_font_digit(digit: int, font_path: str | os.PathLike | FontInfo, rng: RngLike, *,
                      canvas_size: tuple[int, int] | None = None, height: float | None = None,
                      rotation: float | None = None, bold: int | None = None) -> Image.Image:
    """A digit from a font as dark ink on a white canvas (mode ``"L"``).

    Random unless given: canvas 64-224 pixels a side, digit height 35-85 % of the
    canvas height (``height``), position anywhere it fits, rotation within +/-8 degrees,
    faux-bold outline of 0-3 pixels (``bold``) and ink darkness.
    """
    rng = as_rng(rng)
    path = str(font_path.path if isinstance(font_path, FontInfo) else font_path)
    if canvas_size is None:
        side = int(rng.integers(64, 225))
        canvas_size = (int(side * rng.uniform(0.75, 1.33)), side)
    w, h = canvas_size
    frac = float(rng.uniform(0.35, 0.85) if height is None else height)
    angle = float(rng.uniform(-8, 8) if rotation is None else rotation)
    ref = _font(path, 100)
    box = ref.getbbox(str(digit))
    size = max(6, int(round(frac * h * 100 / max(1, box[3] - box[1]))))
    if bold is None:
        bold = int(rng.choice([0, 0, 0, 1, 2, 3])) * max(1, size // 60)
    font = _font(path, size)
    left, top, right, bottom = font.getbbox(str(digit), stroke_width=bold)
    pad = bold + 4
    glyph = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(glyph).text((pad - left, pad - top), str(digit), fill=255, font=font,
                               stroke_width=bold, stroke_fill=255)
    glyph = glyph.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    glyph = glyph.crop(glyph.getbbox() or (0, 0, 1, 1))
    if glyph.width > w - 4 or glyph.height > h - 4:  # shrink to fit
        scale = min((w - 4) / glyph.width, (h - 4) / glyph.height)
        glyph = glyph.resize((max(1, int(glyph.width * scale)), max(1, int(glyph.height * scale))),
                             Image.Resampling.LANCZOS)
    x = int(rng.integers(0, max(1, w - glyph.width)))
    y = int(rng.integers(0, max(1, h - glyph.height)))
    ink = np.zeros((h, w), np.float32)
    ink[y: y + glyph.height, x: x + glyph.width] = np.asarray(glyph, np.float32) / 255.0
    darkness = rng.uniform(0.75, 1.0)
    return Image.fromarray(np.round(255 * (1 - darkness * ink)).astype(np.uint8), "L")


# ------------------------------------------------------------------ stroke templates


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 40) -> np.ndarray:
    """Points of an elliptical arc; angles in degrees, 0 = right, 90 = down (y points down)."""
    t = np.deg2rad(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _line(*points: tuple[float, float]) -> np.ndarray:
    return np.asarray(points, dtype=float)


def _join(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(p, float) for p in parts])


def _spline(*points: tuple[float, float], n: int = 60) -> np.ndarray:
    """Catmull-Rom curve through the points."""
    p = np.asarray(points, float)
    p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        t = np.linspace(0, 1, max(2, n // (len(p) - 3)), endpoint=False)[:, None]
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    out.append(p[-2][None])
    return np.concatenate(out)


def _templates() -> dict[int, dict[str, list[np.ndarray]]]:
    """Pen-stroke shapes of each digit in a box about 0.6 wide and 1 high (y down)."""
    return {
        0: {
            "oval": [_arc(0.3, 0.5, 0.28, 0.48, -100, 268)],
            "oval_overlap": [_arc(0.3, 0.5, 0.27, 0.48, -60, 330)],
        },
        1: {
            "stick": [_line((0.32, 0.0), (0.3, 1.0))],
            "flag": [_line((0.12, 0.22), (0.34, 0.0), (0.34, 1.0))],
            "flag_base": [_line((0.1, 0.22), (0.32, 0.0), (0.32, 1.0)), _line((0.08, 1.0), (0.56, 1.0))],
        },
        2: {
            "plain": [_join(_arc(0.3, 0.26, 0.27, 0.25, 195, 385, 30),
                            _spline((0.56, 0.33), (0.35, 0.62), (0.03, 0.99)), _line((0.6, 0.99)))],
            "loop": [_join(_arc(0.3, 0.26, 0.27, 0.25, 195, 385, 30),
                           _spline((0.56, 0.33), (0.3, 0.7), (0.08, 0.93), (0.04, 0.86), (0.15, 0.84),
                                   (0.25, 0.97), (0.4, 1.0), (0.62, 0.97)))],
        },
        3: {
            "round": [_join(_arc(0.3, 0.25, 0.26, 0.24, -160, 90, 30), _arc(0.3, 0.74, 0.29, 0.26, -90, 160, 30))],
            "flat_top": [_join(_line((0.05, 0.0), (0.56, 0.0), (0.22, 0.42)),
                               _arc(0.3, 0.71, 0.29, 0.29, -105, 160, 30))],
        },
        4: {
            "closed": [_line((0.46, 1.0), (0.46, 0.0), (0.0, 0.68), (0.62, 0.68))],
            "open": [_line((0.1, 0.0), (0.03, 0.62), (0.62, 0.62)), _line((0.47, 0.18), (0.45, 1.0))],
        },
        5: {
            "one_stroke": [_join(_line((0.56, 0.0), (0.1, 0.0), (0.07, 0.44)),
                                 _arc(0.3, 0.69, 0.29, 0.3, -130, 150, 30))],
            "two_strokes": [_join(_line((0.1, 0.0), (0.07, 0.44)), _arc(0.3, 0.69, 0.29, 0.3, -130, 150, 30)),
                            _line((0.1, 0.0), (0.58, 0.0))],
        },
        6: {
            "loop": [_join(_spline((0.5, 0.0), (0.22, 0.22), (0.05, 0.6)),
                           _arc(0.3, 0.72, 0.26, 0.27, 175, -185, 40))],
        },
        7: {
            "plain": [_line((0.02, 0.02), (0.6, 0.0), (0.2, 1.0))],
            "crossed": [_line((0.02, 0.02), (0.6, 0.0), (0.2, 1.0)), _line((0.13, 0.5), (0.55, 0.48))],
            "hooked": [_line((0.02, 0.16), (0.02, 0.01), (0.6, 0.0), (0.22, 1.0))],
        },
        8: {
            "two_loops": [_arc(0.3, 0.25, 0.22, 0.24, 90, 450), _arc(0.3, 0.73, 0.28, 0.26, -90, 270)],
            "figure": [_join(_arc(0.3, 0.24, 0.22, 0.24, 20, -200, 30),
                             _spline((0.1, 0.36), (0.5, 0.62), (0.55, 0.85), (0.3, 1.0), (0.05, 0.85),
                                     (0.1, 0.62), (0.5, 0.36), (0.52, 0.24)))],
        },
        9: {
            "straight": [_join(_arc(0.3, 0.27, 0.26, 0.26, -5, -360, 40), _line((0.56, 0.2), (0.52, 1.0)))],
            "curved_tail": [_join(_arc(0.3, 0.27, 0.26, 0.26, -5, -360, 40),
                                  _spline((0.56, 0.22), (0.55, 0.65), (0.46, 0.92), (0.26, 1.0), (0.08, 0.9)))],
        },
    }


#: Stroke styles per digit (names usable as ``style`` in :func:`stroke_variant`).
STROKE_STYLES = {d: tuple(styles) for d, styles in _templates().items()}
#: Shapes people draw that MNIST under-represents.
TARGETED_VARIANTS = ((7, "crossed"), (9, "curved_tail"), (4, "open"), (1, "flag_base"), (2, "loop"))


def stroke_variant(digit: int, rng: RngLike, style: str | None = None, *, jitter: float = 1.0) -> Strokes:
    """Pen strokes of ``digit`` (random ``style`` from :data:`STROKE_STYLES` if None),
    with random slant, rotation, aspect ratio, point jitter and smooth wobble."""
    rng = as_rng(rng)
    styles = _templates()[int(digit)]
    if style is None:
        style = sorted(styles)[int(rng.integers(len(styles)))]
    strokes = [_densify(s) for s in styles[style]]
    return jitter_strokes(strokes, rng, amount=jitter)


def jitter_strokes(strokes: Strokes, rng: RngLike, amount: float = 1.0) -> Strokes:
    """Random affine map (rotation, slant, aspect) and smooth wobble of unit-box strokes."""
    rng = as_rng(rng)
    if amount <= 0:
        return [np.asarray(s, float).copy() for s in strokes]
    angle = np.deg2rad(rng.uniform(-8, 8) * amount)
    slant = rng.uniform(-0.25, 0.25) * amount
    aspect = np.exp(rng.uniform(-0.15, 0.15) * amount)
    a = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.array(
        [[aspect, -slant], [0.0, 1.0]])
    pts = np.concatenate(strokes)
    centre = (pts.min(0) + pts.max(0)) / 2
    # smooth wobble: a low-frequency random displacement field
    k = rng.uniform(1.5, 3.5, size=(2, 2)) * np.pi
    phase = rng.uniform(0, 2 * np.pi, size=(2, 2))
    amp = rng.uniform(0.004, 0.015, size=2) * amount
    out = []
    for s in strokes:
        s = np.asarray(s, float)
        d = np.stack([amp[i] * np.sin(k[i, 0] * s[:, 0] + k[i, 1] * s[:, 1] + phase[i, 0])
                      * np.cos(k[i, 1] * s[:, 1] + phase[i, 1]) for i in range(2)], axis=1)
        s = s + d + rng.normal(0, 0.012 * amount, size=2)  # each stroke slightly displaced
        out.append((s - centre) @ a.T + centre)
    return out


def _densify(points: np.ndarray, step: float = 0.01) -> np.ndarray:
    """Resample a polyline so consecutive points are at most ``step`` apart."""
    p = np.asarray(points, float)
    if len(p) < 2:
        return p
    out = [p[:1]]
    for a, b in zip(p[:-1], p[1:]):
        n = max(1, int(np.ceil(np.hypot(*(b - a)) / step)))
        out.append(a + (b - a) * (np.arange(1, n + 1) / n)[:, None])
    return np.concatenate(out)


def render_stroke_variant(digit: int, rng: RngLike, style: str | None = None, *,
                          size: int | None = None, width: float | None = None) -> Image.Image:
    """A stroke-template digit drawn with a round pen, dark ink on white (mode ``"L"``)."""
    rng = as_rng(rng)
    strokes = stroke_variant(digit, rng, style)
    size = int(rng.integers(96, 257)) if size is None else int(size)
    canvas = sketch_canvas(strokes, rng, canvas_size=(size, size), scale=rng.uniform(0.5, 0.85),
                           brush=width, jitter=0.0)
    alpha = np.asarray(canvas.getchannel("A"), np.float32) / 255.0
    return Image.fromarray(np.round(255 * (1 - alpha)).astype(np.uint8), "L")


# ---------------------------------------------------------------- MNIST to strokes


def mnist_strokes(image: np.ndarray, upscale: int = 4) -> Strokes:
    """Pen strokes (unit coordinates of the 28x28 frame) of an MNIST-like ink image.

    The image is upscaled smoothly, thresholded, skeletonized, and the skeleton traced
    into polylines (short spurs pruned, then smoothed), so redrawing them with a round
    brush looks like a drawing rather than a blurry upscale.
    """
    a = np.asarray(image, dtype=np.float32)
    if a.max() > 1.0:
        a = a / 255.0
    big = np.clip(ndimage.zoom(a, upscale, order=3), 0, 1)
    big = ndimage.gaussian_filter(big, 0.5 * upscale / 4)
    mask = big > 0.4 * max(float(big.max()), 1e-6)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n > 1:
        areas = np.bincount(labels.ravel())[1:]
        mask = np.isin(labels, np.flatnonzero(areas >= 0.05 * areas.max()) + 1)
    if not mask.any():
        return []
    skel = skeletonize(mask)
    paths = _trace(skel)
    rows = np.nonzero(mask.any(axis=1))[0]
    spur = 0.12 * (rows.max() - rows.min() + 1)
    paths = _prune_spurs(paths, skel, spur)
    side = float(mask.shape[0])
    return [(_smooth(p)[:, ::-1] + 0.5) / side for p in paths]


def _neighbours(p: tuple[int, int], pts: set) -> list[tuple[int, int]]:
    """m-adjacency: 4-neighbours, and diagonal ones not already joined through a 4-neighbour."""
    r, c = p
    out = [q for q in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)) if q in pts]
    for dr, dc in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
        q = (r + dr, c + dc)
        if q in pts and (r + dr, c) not in pts and (r, c + dc) not in pts:
            out.append(q)
    return out


def _trace(skel: np.ndarray) -> list[np.ndarray]:
    pts = {(int(r), int(c)) for r, c in zip(*np.nonzero(skel))}
    adj = {p: _neighbours(p, pts) for p in pts}
    nodes = {p for p in pts if len(adj[p]) != 2}
    used: set = set()
    paths = []

    def walk(start, nxt):
        path, prev, cur = [start, nxt], start, nxt
        used.add(frozenset((start, nxt)))
        while cur not in nodes:
            cand = [q for q in adj[cur] if q != prev]
            if not cand or frozenset((cur, cand[0])) in used:
                break
            used.add(frozenset((cur, cand[0])))
            path.append(cand[0])
            prev, cur = cur, cand[0]
        return np.asarray(path, float)

    for p in sorted(nodes):
        if not adj[p]:
            paths.append(np.asarray([p], float))
        for q in adj[p]:
            if frozenset((p, q)) not in used:
                paths.append(walk(p, q))
    for p in sorted(pts - nodes):  # closed loops without junctions
        for q in adj[p]:
            if frozenset((p, q)) not in used:
                paths.append(walk(p, q))
    return paths


def _prune_spurs(paths: list[np.ndarray], skel: np.ndarray, length: float) -> list[np.ndarray]:
    pts = {(int(r), int(c)) for r, c in zip(*np.nonzero(skel))}
    degree = {p: len(_neighbours(p, pts)) for p in pts}
    kept = []
    for path in paths:
        ends = [degree.get((int(path[0][0]), int(path[0][1])), 0),
                degree.get((int(path[-1][0]), int(path[-1][1])), 0)]
        is_spur = sorted(ends)[0] == 1 and sorted(ends)[1] >= 3
        if is_spur and len(path) < length:
            continue
        kept.append(path)
    return kept or paths


def _smooth(path: np.ndarray, window: int = 5, passes: int = 2) -> np.ndarray:
    if len(path) < 3:
        return path
    closed = len(path) > 3 and np.allclose(path[0], path[-1])
    p = path.copy()
    kernel = np.ones(window) / window
    for _ in range(passes):
        if closed:
            body = p[:-1]
            ext = np.concatenate([body[-window:], body, body[:window]])
            sm = np.stack([np.convolve(ext[:, i], kernel, mode="same") for i in range(2)], 1)
            body = sm[window: window + len(body)]
            p = np.vstack([body, body[:1]])
        else:
            ext = np.concatenate([np.repeat(p[:1], window, 0), p, np.repeat(p[-1:], window, 0)])
            sm = np.stack([np.convolve(ext[:, i], kernel, mode="same") for i in range(2)], 1)
            p = np.vstack([p[:1], sm[window + 1: window + len(p) - 1], p[-1:]])
    return p


# ------------------------------------------------------------------ sketch canvas


@dataclass(frozen=True)
class SketchStyle:
    """Ranges of a sketchpad drawing: digit height as a fraction of the canvas height,
    brush width as a fraction of the digit height (never below ``min_brush`` pixels, or
    an absolute pixel range in ``brush_px``), and where the digit's centre is."""

    scale: tuple[float, float] = (0.4, 0.8)
    brush: tuple[float, float] = (0.06, 0.13)
    brush_px: tuple[float, float] | None = None
    min_brush: float = 2.0
    off_centre: bool = False
    centre_jitter: float = 0.12  # fraction of the canvas, around the middle


#: Conditions of the drawing benchmark (and useful training mixes).
SKETCH_CONDITIONS = {
    "normal": SketchStyle(),
    "small": SketchStyle(scale=(0.08, 0.18), brush=(0.08, 0.16), min_brush=2.0, centre_jitter=0.3),
    "large": SketchStyle(scale=(0.85, 0.98), centre_jitter=0.0),
    "off_centre": SketchStyle(scale=(0.2, 0.45), off_centre=True),
    "thin": SketchStyle(brush_px=(1.0, 3.0)),
    "thick": SketchStyle(brush=(0.18, 0.3)),
}


def sketch_canvas(source: np.ndarray | Strokes, rng: RngLike, condition: str | SketchStyle = "normal", *,
                  canvas_size: tuple[int, int] | None = None, scale: float | None = None,
                  centre: tuple[float, float] | None = None, brush: float | None = None,
                  jitter: float = 0.5) -> Image.Image:
    """A digit drawn with a round black brush on a transparent canvas, like the
    composite of Gradio's Sketchpad: mode ``RGBA``, RGB always 0, the ink only in alpha
    (anti-aliased edges), background ``(0, 0, 0, 0)``.

    ``source`` is a (28, 28) MNIST-like ink image (redrawn from its skeleton, see
    :func:`mnist_strokes`) or strokes in any unit coordinates (:func:`stroke_variant`).
    ``condition`` names a :data:`SKETCH_CONDITIONS` entry (or is a :class:`SketchStyle`)
    whose ranges pick what is not given: ``canvas_size`` (w, h), ``scale`` (digit height
    / canvas height), ``centre`` (fractions of the canvas) and ``brush`` (pixels).
    """
    rng = as_rng(rng)
    style = SKETCH_CONDITIONS[condition] if isinstance(condition, str) else condition
    if isinstance(source, np.ndarray) and source.ndim == 2 and min(source.shape) > 2:
        strokes = mnist_strokes(source)
    elif isinstance(source, np.ndarray) and source.ndim == 2:  # one stroke
        strokes = [np.asarray(source, float)]
    else:
        strokes = [np.asarray(s, float) for s in source]
    if not strokes:
        raise ValueError("nothing to draw: no strokes")
    if jitter > 0:
        strokes = jitter_strokes(strokes, rng, amount=jitter)
    if canvas_size is None:
        canvas_size = CANVAS_SIZES[int(rng.integers(len(CANVAS_SIZES)))]
    cw, ch = canvas_size
    scale = float(rng.uniform(*style.scale) if scale is None else scale)
    pts = np.concatenate(strokes)
    lo, hi = pts.min(0), pts.max(0)
    extent = np.maximum(hi - lo, 1e-3)
    digit_h = scale * ch
    k = digit_h / extent[1]
    if extent[0] * k > 0.95 * cw:  # wide digits are limited by the canvas width
        k = 0.95 * cw / extent[0]
        digit_h = extent[1] * k
    if brush is None:
        if style.brush_px is not None:
            brush = rng.uniform(*style.brush_px)
        else:
            brush = max(style.min_brush, rng.uniform(*style.brush) * digit_h)
    margin = brush / 2 + 1
    fit = min((cw - 2 * margin) / (extent[0] * k), (ch - 2 * margin) / (extent[1] * k), 1.0)
    k *= max(fit, 0.05)  # the whole drawing, brush included, stays on the canvas
    size = extent * k
    room = np.maximum(np.array([cw, ch]) - size - 2 * margin, 0)
    if centre is None:
        if style.off_centre:  # hug one or two borders
            pos = np.where(rng.random(2) < 0.5, rng.uniform(0.0, 0.08, 2), rng.uniform(0.92, 1.0, 2))
            if rng.random() < 0.3:  # only one axis off centre
                i = int(rng.integers(2))
                pos[i] = rng.uniform(0.3, 0.7)
        else:
            pos = np.clip(0.5 + rng.uniform(-style.centre_jitter, style.centre_jitter, 2), 0, 1)
    else:
        pos = np.clip((np.asarray(centre, float) * [cw, ch] - size / 2 - margin) / np.maximum(room, 1e-6), 0, 1)
    origin = margin + pos * room
    px = [(s - lo) * k + origin for s in strokes]
    alpha = rasterize(px, (cw, ch), brush)
    rgba = np.zeros((ch, cw, 4), np.uint8)
    rgba[..., 3] = np.round(alpha * 255).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


def rasterize(strokes_px: Strokes, size: tuple[int, int], width: float) -> np.ndarray:
    """Coverage (h, w) in [0, 1] of pixel-coordinate strokes drawn with a round brush,
    anti-aliased by supersampling."""
    w, h = size
    ss = 4 if width < 4 else 2
    img = Image.new("L", (w * ss, h * ss), 0)
    draw = ImageDraw.Draw(img)
    bw = max(1.0, width * ss)
    r = bw / 2
    for s in strokes_px:
        p = np.asarray(s, float) * ss
        if len(p) > 1:
            draw.line([tuple(q) for q in p], fill=255, width=int(round(bw)), joint="curve")
        step = max(1, int(len(p) // 200)) if bw > 3 else max(1, len(p) - 1)
        for q in list(p[::step]) + [p[-1]]:  # round caps (and joints for wide brushes)
            draw.ellipse([q[0] - r, q[1] - r, q[0] + r, q[1] + r], fill=255)
    small = img.resize((w, h), Image.Resampling.BOX)
    return np.asarray(small, np.float32) / 255.0


# ------------------------------------------------------------------- photos and PNGs


def ink_of(image: Image.Image | np.ndarray) -> np.ndarray:
    """Ink map in [0, 1] of a synthetic image: alpha of RGBA, else darkness of gray;
    2-D arrays are taken as ink already (MNIST convention, 255 or 1.0 = ink)."""
    if isinstance(image, np.ndarray):
        a = np.asarray(image, np.float32)
        return a / 255.0 if a.max() > 1.0 else a
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        return np.asarray(image.convert("RGBA").getchannel("A"), np.float32) / 255.0
    return 1.0 - np.asarray(image.convert("L"), np.float32) / 255.0


def phone_photo(image: Image.Image | np.ndarray, rng: RngLike, *, quality: int | None = None,
                long_side: int | None = None) -> Image.Image:
    """A simulated phone photo (mode ``RGB``, decoded from JPEG) of the ink of ``image``
    written on paper: random framing, pen colour (black, blue, pencil gray), paper
    colour and texture (sometimes ruled or squared), slight perspective and rotation,
    lighting gradient, vignetting, a soft shadow, lens blur, sensor noise and JPEG
    compression at quality 60-90."""
    rng = as_rng(rng)
    ink = ink_of(image)
    rows, cols = np.nonzero(ink > 0.1)
    if len(rows) == 0:
        raise ValueError("the image has no ink")
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    dh, dw = r1 - r0, c1 - c0
    m = rng.uniform(0.3, 1.6, 4) * max(dh, dw * 1.2)  # top, bottom, left, right margins
    top, bottom, left, right = (int(x) for x in m)
    crop = np.zeros((dh + top + bottom, dw + left + right), np.float32)
    crop[top: top + dh, left: left + dw] = ink[r0:r1, c0:c1]
    long_side = int(rng.integers(400, 901)) if long_side is None else int(long_side)
    aspect = [1.0, 0.75, 4 / 3][int(rng.integers(3))]
    out_w, out_h = (long_side, int(long_side * aspect)) if aspect <= 1 else (int(long_side / aspect), long_side)
    ink_img = Image.fromarray(np.round(crop * 255).astype(np.uint8), "L")
    # fit the crop in the frame (keep aspect ratio), then perspective + rotation
    s = min(out_w / ink_img.width, out_h / ink_img.height)
    ink_img = ink_img.resize((max(1, int(ink_img.width * s)), max(1, int(ink_img.height * s))),
                             Image.Resampling.LANCZOS)
    frame = Image.new("L", (out_w, out_h), 0)
    frame.paste(ink_img, ((out_w - ink_img.width) // 2, (out_h - ink_img.height) // 2))
    frame = _perspective(frame, rng)
    frame = frame.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))  # pen bleed
    a = np.asarray(frame, np.float32) / 255.0
    f32 = np.float32
    yy, xx = np.ogrid[0:out_h, 0:out_w]
    yy, xx = (yy / out_h).astype(f32), (xx / out_w).astype(f32)
    # paper: off-white, fibre texture, sometimes ruled or squared
    tint = rng.uniform(-1, 1)  # warm (cream paper, tungsten light) to cool (daylight, LED)
    paper = rng.uniform(0.86, 1.0) * (1 + (tint * np.array([0.0, -0.03, -0.1]) if tint > 0
                                           else -tint * np.array([-0.07, -0.03, 0.0])))
    grain = rng.standard_normal((out_h // 2 + 1, out_w // 2 + 1), dtype=f32)
    grain = ndimage.gaussian_filter(grain, rng.uniform(0.4, 1.5))
    texture = np.repeat(np.repeat(grain, 2, 0), 2, 1)[:out_h, :out_w] * f32(rng.uniform(0.005, 0.03))
    rgb = (1 + texture)[..., None] * paper.astype(f32)
    lines = rng.random()
    if lines < 0.35:
        spacing = rng.uniform(0.06, 0.16) * out_h
        offset = rng.uniform(0, spacing)
        line_rgb = np.array([0.55, 0.7, 0.95], f32) if rng.random() < 0.7 else np.full(3, 0.6, f32)
        strength = f32(rng.uniform(0.15, 0.45))

        def grid(coord: np.ndarray, n: int) -> np.ndarray:
            d = np.abs(((coord * n - offset) + spacing / 2) % spacing - spacing / 2)
            return np.clip(1.2 - d, 0, 1).astype(f32)

        g = np.broadcast_to(grid(yy, out_h), (out_h, out_w))
        if lines < 0.12:  # squared paper
            g = np.maximum(g, grid(xx, out_w))
        g = ndimage.gaussian_filter(_warp_like(g, rng), 0.5) * strength
        rgb = rgb * (1 - g[..., None]) + line_rgb * g[..., None]
    pen = rng.random()
    if pen < 0.5:
        colour, strength = rng.uniform(0.02, 0.15, 3), rng.uniform(0.85, 1.0)
    elif pen < 0.8:
        colour, strength = np.array([0.1, 0.15, 0.45]) + rng.uniform(-0.05, 0.1, 3), rng.uniform(0.8, 1.0)
    else:  # pencil: gray and faint
        colour, strength = np.full(3, rng.uniform(0.25, 0.4)), rng.uniform(0.45, 0.8)
    alpha = np.clip(a * f32(strength), 0, 1)[..., None]
    rgb = rgb * (1 - alpha) + colour.astype(f32) * alpha
    # lighting: gradient, vignette, soft shadow, white balance
    theta = rng.uniform(0, 2 * np.pi)
    grad = f32(np.cos(theta)) * (xx - 0.5) + f32(np.sin(theta)) * (yy - 0.5)
    light = f32(rng.uniform(0.75, 1.0)) + f32(rng.uniform(0.0, 0.35)) * grad
    light = light * (1 - f32(rng.uniform(0.0, 0.35)) * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 2)
    if rng.random() < 0.5:
        phi = rng.uniform(0, 2 * np.pi)
        edge = f32(np.cos(phi)) * (xx - 0.5) + f32(np.sin(phi)) * (yy - 0.5) - f32(rng.uniform(0.05, 0.45))
        shade = 1 / (1 + np.exp(-edge / f32(rng.uniform(0.02, 0.12))))
        light = light * (1 - f32(rng.uniform(0.2, 0.55)) * shade)
    rgb = rgb * (light[..., None] * rng.uniform(0.97, 1.03, 3).astype(f32))
    # camera: lens blur, sensor noise (per channel and luminance), JPEG
    blurred = Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8), "RGB").filter(
        ImageFilter.GaussianBlur(rng.uniform(0.3, 1.6) * long_side / 700))
    rgb = np.asarray(blurred, f32) / 255.0
    noise = f32(rng.uniform(0.005, 0.035))
    rgb = rgb + noise * (rng.standard_normal(rgb.shape, dtype=f32)
                         + rng.standard_normal(rgb.shape[:2], dtype=f32)[..., None])
    out = Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=int(rng.integers(60, 91)) if quality is None else int(quality))
    photo = Image.open(io.BytesIO(buf.getvalue()))
    photo.load()
    return photo


def _perspective(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Slight random perspective and rotation (keeping the frame size)."""
    w, h = img.size
    angle = np.deg2rad(rng.uniform(-12, 12))
    c, s = np.cos(angle), np.sin(angle)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    centred = corners - [w / 2, h / 2]
    rotated = centred @ np.array([[c, -s], [s, c]]).T + [w / 2, h / 2]
    moved = rotated + rng.uniform(-0.06, 0.06, (4, 2)) * [w, h]
    coeffs = _perspective_coeffs(moved, corners)  # output pixel -> input pixel
    return img.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC, fillcolor=0)


def _perspective_coeffs(src: np.ndarray, dst: np.ndarray) -> list[float]:
    """Coefficients mapping points of ``src`` (output) to ``dst`` (input) for PIL."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    return list(np.linalg.solve(np.asarray(rows, float), np.asarray(rhs, float)))


def _warp_like(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ruled lines are not perfectly straight in a photo: a gentle vertical bend."""
    h, w = a.shape
    bend = rng.uniform(-0.01, 0.01) * h * np.sin(np.linspace(0, np.pi, w) + rng.uniform(0, 1))
    rows = np.arange(h)[:, None] + bend[None, :]
    return ndimage.map_coordinates(a, [rows, np.broadcast_to(np.arange(w), (h, w))], order=1, mode="nearest")


def white_on_black(image: Image.Image | np.ndarray) -> Image.Image:
    """The same ink as white on an opaque black background, as a decoded PNG (mode
    ``"L"``; alpha is flattened first), like MNIST-style exports and dark-mode apps."""
    ink = ink_of(image)
    out = Image.fromarray(np.round(np.clip(ink, 0, 1) * 255).astype(np.uint8), "L")
    buf = io.BytesIO()
    out.save(buf, "PNG")
    png = Image.open(io.BytesIO(buf.getvalue()))
    png.load()
    return png


#: Blank margin (px) around a composed number.
NUMBER_MARGIN = 8
#: Gaps between MNIST-size digits in everyday handwriting, as :func:`compose_number` takes
#: them: 1-10 px (70%), touching (20%) or overlapping by 2-3 px (10%).
MIXED_GAPS = (((1, 10), 0.7), ((-1, 0), 0.2), ((-3, -2), 0.1))
#: The same for pen-drawn digits (:func:`pen_digit`), about 4.8 times as tall.
PEN_MIXED_GAPS = (((4, 48), 0.7), ((-4, 0), 0.2), ((-14, -10), 0.1))


@dataclass(frozen=True)
class NumberStyle:
    """How a composed number is written: its number of digits and :func:`compose_number`'s
    settings (gap range or weighted ranges, scale range, baseline shift, upscale), and
    whether each digit is first redrawn with a round pen (:func:`pen_digit`)."""

    digits: int
    gap: tuple
    scale: tuple[float, float] = (1.0, 1.0)
    shift: float = 0.0
    upscale: int = 1
    pen: bool = False

    def compose(self, digits: Sequence[np.ndarray], rng: RngLike) -> tuple[Image.Image, np.ndarray, list[np.ndarray]]:
        """The number written with ``digits`` in this style: image and owner map as from
        :func:`compose_number`, and the digit images as drawn (redrawn when ``pen``)."""
        rng = as_rng(rng)
        drawn = [pen_digit(d, rng) for d in digits] if self.pen else list(digits)
        return (*compose_number(drawn, rng, self.gap, self.scale, self.shift, self.upscale), drawn)


#: Number styles the reader is measured on (``bench/read_numbers.py``) and its piece verifier
#: trained on (:mod:`digitrec.piece_verifier`). MNIST digits are about 20 px tall:
#: ``spaced`` gaps of 4-10 px, ``close`` 1-3, ``touching`` -1-0, ``overlap`` -4 to -2 (they
#: cross); ``sizes_baselines`` each digit scaled 0.75-1.25x and shifted up to 15% of its
#: height, gaps -2-8; ``large`` the same 4x larger; ``mixed`` everyday handwriting
#: (:data:`MIXED_GAPS`, scaled 0.9-1.1x, shifted up to 5%); ``len2``-``len6`` the
#: ``sizes_baselines`` mix with 2-6 digits; ``pen_*`` drawn as on the sketchpad, with gaps of
#: 16-40 px, -4-0 px (strokes touch) or the mixed ones at that size.
NUMBER_STYLES = {
    "spaced": NumberStyle(4, (4, 10)),
    "close": NumberStyle(4, (1, 3)),
    "touching": NumberStyle(4, (-1, 0)),
    "overlap": NumberStyle(4, (-4, -2)),
    "sizes_baselines": NumberStyle(4, (-2, 8), (0.75, 1.25), 0.15),
    "large": NumberStyle(4, (-2, 8), (0.75, 1.25), 0.15, upscale=4),
    "mixed": NumberStyle(4, MIXED_GAPS, (0.9, 1.1), 0.05),
    **{f"len{k}": NumberStyle(k, (-2, 8), (0.75, 1.25), 0.15) for k in (2, 3, 5, 6)},
    "pen_spaced": NumberStyle(4, (16, 40), pen=True),
    "pen_touching": NumberStyle(4, (-4, 0), pen=True),
    "pen_mixed": NumberStyle(4, PEN_MIXED_GAPS, (0.9, 1.1), 0.05, pen=True),
}


def pen_digit(image: np.ndarray, rng: RngLike, height: int = 96,
              brush: tuple[float, float] = SKETCH_CONDITIONS["normal"].brush) -> np.ndarray:
    """An MNIST-like digit redrawn with a round pen, about ``height`` pixels tall: uint8,
    255 = ink, for :func:`compose_number` (numbers drawn on a sketchpad).

    The digit's skeleton (:func:`mnist_strokes`) is jittered like :func:`sketch_canvas`'s
    and drawn with a brush width drawn from ``brush`` (fractions of ``height``).
    """
    rng = as_rng(rng)
    strokes = mnist_strokes(image)
    if not strokes:
        raise ValueError("nothing to draw: no strokes")
    strokes = jitter_strokes(strokes, rng, amount=0.5)
    side = height * 28 / 20  # MNIST digits are about 20 px tall in their 28 px frame
    width = float(rng.uniform(*brush)) * height
    points = np.concatenate(strokes)
    low, extent = points.min(axis=0), np.ptp(points, axis=0)
    size = tuple(int(np.ceil(e * side + 2 * width)) for e in extent)
    alpha = rasterize([(s - low) * side + width for s in strokes], size, width)
    return np.round(alpha * 255).astype(np.uint8)


def compose_number(digits: Sequence[np.ndarray], rng: RngLike, gap: tuple | int = (4, 10),
                   scale: tuple[float, float] = (1.0, 1.0), shift: float = 0.0,
                   upscale: int = 1) -> tuple[Image.Image, np.ndarray]:
    """A number written with ``digits`` (uint8 MNIST-style arrays, 255 = ink) left to right.

    Each digit is cropped to its ink, scaled by a factor drawn from ``scale``, shifted
    up or down from the common baseline by up to ``shift`` of its height, and placed
    ``gap`` pixels after the previous one's ink (negative: they overlap). ``gap`` is a
    (low, high) range, or weighted ranges ``(((low, high), p), ...)``. The image is dark
    ink on white (mode ``"L"``), enlarged ``upscale`` times. Also returns, for each pixel
    of the image, which digit's ink it is (1 for the first digit; 0 for paper).
    """
    rng = as_rng(rng)
    pieces = []
    for d in digits:
        rows, cols = np.nonzero(d > 0)
        crop = d[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
        k = rng.uniform(*scale)
        if k != 1.0:
            size = (max(1, round(crop.shape[1] * k)), max(1, round(crop.shape[0] * k)))
            crop = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BILINEAR))
        pieces.append(crop.astype(np.float32) / 255.0)
    height = max(p.shape[0] for p in pieces)
    offsets = [int(round(rng.uniform(-shift, shift) * p.shape[0])) for p in pieces]
    gaps = [_number_gap(gap, rng) for _ in pieces[1:]]
    top_room = max(0, -min(offsets)) + NUMBER_MARGIN
    shape = (height + top_room + max(0, max(offsets)) + NUMBER_MARGIN,
             sum(p.shape[1] for p in pieces) + sum(gaps) + 2 * NUMBER_MARGIN)
    canvas = np.zeros(shape, np.float32)
    owner = np.zeros(shape, np.uint8)
    x = NUMBER_MARGIN
    for index, (p, dy, g) in enumerate(zip(pieces, offsets, [*gaps, 0]), start=1):
        y = top_room + (height - p.shape[0]) + dy  # bottom-aligned on the baseline, then shifted
        region = (slice(y, y + p.shape[0]), slice(x, x + p.shape[1]))
        owner[region][p > canvas[region]] = index  # where strokes cross, the stronger ink's digit
        np.maximum(canvas[region], p, out=canvas[region])
        x += p.shape[1] + g
    owner[canvas < 0.05] = 0
    img = Image.fromarray(np.round(255 * (1 - canvas)).astype(np.uint8), "L")
    if upscale > 1:
        img = img.resize((img.width * upscale, img.height * upscale), Image.Resampling.BICUBIC)
        owner = np.kron(owner, np.ones((upscale, upscale), np.uint8))
    return img, owner


def _number_gap(spec: tuple | int, rng: np.random.Generator) -> int:
    """A gap from an int, a (low, high) range, or weighted ranges ((low, high), p)."""
    if isinstance(spec, (int, np.integer)):
        return int(spec)
    if isinstance(spec[0], tuple):
        ranges, weights = zip(*spec)
        spec = ranges[int(rng.choice(len(ranges), p=np.asarray(weights) / sum(weights)))]
    return int(rng.integers(spec[0], spec[1] + 1))


__all__ = [
    "FontInfo", "FontCatalog", "find_fonts", "sample_font", "render_font_digit",
    "STROKE_STYLES", "TARGETED_VARIANTS", "stroke_variant", "jitter_strokes", "render_stroke_variant",
    "mnist_strokes", "SketchStyle", "SKETCH_CONDITIONS", "sketch_canvas", "rasterize",
    "ink_of", "phone_photo", "white_on_black", "MIXED_GAPS", "PEN_MIXED_GAPS", "NumberStyle", "NUMBER_STYLES",
    "compose_number", "pen_digit", "as_rng",
]
