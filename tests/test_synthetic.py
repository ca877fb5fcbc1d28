"""Fast checks of the synthetic drawing / photo generators in :mod:`digitrec.synthetic`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digitrec import synthetic as syn
from digitrec.normalize import mnist_from_ink, to_mnist

REPO = Path(__file__).resolve().parents[1]
MNIST_CANDIDATES = [
    Path(os.environ.get("DIGITREC_MNIST", "/nonexistent")),
    REPO.parent / "shared" / "data" / "mnist.npz",
    Path("/work/shared/data/mnist.npz"),
]


@pytest.fixture(scope="module")
def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    path = next((p for p in MNIST_CANDIDATES if p.is_file()), None)
    if path is None:
        pytest.skip("MNIST .npz not found (set DIGITREC_MNIST)")
    with np.load(path) as npz:
        return npz["x_test"][:12].copy(), npz["y_test"][:12].copy()


@pytest.fixture(scope="module")
def catalog() -> syn.FontCatalog:
    fonts = syn.find_fonts()
    if not fonts.fonts:
        pytest.skip("no TTF/OTF fonts with digits installed (see bench/FONTS.md for the apt line)")
    return fonts


def _bytes(img: Image.Image) -> bytes:
    return img.mode.encode() + bytes(str(img.size), "ascii") + img.tobytes()


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of slightly blurred images: shape similarity, tolerant of 1-pixel shifts."""
    a, b = (ndimage.gaussian_filter(np.asarray(x, np.float32), 1.0) for x in (a, b))
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def _a_digit() -> np.ndarray:
    """A 28x28 MNIST-like 3 drawn from the stroke templates (no data set needed)."""
    strokes = syn.stroke_variant(3, 0, "round", jitter=0.0)
    big = syn.rasterize([s * 200 + 20 for s in strokes], (170, 240), 22.0)
    return mnist_from_ink(big)


# ------------------------------------------------------------------ determinism


@pytest.mark.parametrize("make", [
    lambda rng: syn.sketch_canvas(_a_digit(), rng),
    lambda rng: syn.sketch_canvas(syn.stroke_variant(7, rng, "crossed"), rng, "thick"),
    lambda rng: syn.render_stroke_variant(9, rng, "curved_tail"),
    lambda rng: syn.phone_photo(syn.render_stroke_variant(4, rng, "open"), rng),
    lambda rng: syn.white_on_black(syn.sketch_canvas(_a_digit(), rng, "small")),
    lambda rng: Image.fromarray(syn.pen_digit(_a_digit(), rng)),
], ids=["sketch_mnist", "sketch_strokes", "stroke_variant", "phone_photo", "white_on_black", "pen_digit"])
def test_generators_are_deterministic_for_a_seed(make):
    assert _bytes(make(np.random.default_rng(7))) == _bytes(make(np.random.default_rng(7)))
    assert _bytes(make(7)) == _bytes(make(7))  # a seed works as well
    assert _bytes(make(7)) != _bytes(make(8))


def test_a_seed_is_the_same_as_a_generator_from_it():
    assert _bytes(syn.sketch_canvas(_a_digit(), 5)) == _bytes(syn.sketch_canvas(_a_digit(), np.random.default_rng(5)))


# --------------------------------------------------------------- sketch canvas


def test_sketch_canvas_is_like_gradio_sketchpad_composite():
    img = syn.sketch_canvas(_a_digit(), 0)
    assert img.mode == "RGBA" and img.size in syn.CANVAS_SIZES
    a = np.asarray(img)
    assert not a[..., :3].any(), "ink must be black: RGB is 0 everywhere, ink only in alpha"
    alpha = a[..., 3]
    assert alpha.max() == 255 and alpha.min() == 0
    assert (alpha[0] == 0).all() and (alpha[-1] == 0).all(), "background is (0, 0, 0, 0)"
    partial = ((alpha > 0) & (alpha < 255)).sum()
    assert 0 < partial < (alpha == 255).sum(), "anti-aliased edges, opaque strokes"
    assert 0.002 < (alpha > 127).mean() < 0.3


def _ink_box(img: Image.Image) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(np.asarray(img.getchannel("A")) > 127)
    return rows.min(), rows.max(), cols.min(), cols.max()


def _stroke_width(img: Image.Image) -> float:
    from skimage.morphology import skeletonize
    mask = np.asarray(img.getchannel("A")) > 127
    return mask.sum() / max(1, skeletonize(mask).sum())


def test_sketch_conditions_control_size_position_and_brush():
    digit = _a_digit()
    for seed in range(3):
        small = syn.sketch_canvas(digit, seed, "small", canvas_size=(600, 600))
        r0, r1, _, _ = _ink_box(small)
        assert r1 - r0 < 0.2 * 600
        large = syn.sketch_canvas(digit, seed, "large", canvas_size=(800, 450))
        r0, r1, c0, c1 = _ink_box(large)
        assert r1 - r0 > 0.75 * 450 and r0 >= 0 and r1 < 450
        off = syn.sketch_canvas(digit, seed, "off_centre", canvas_size=(600, 600))
        r0, r1, c0, c1 = _ink_box(off)
        assert min(r0, c0, 599 - r1, 599 - c1) < 0.1 * 600
        assert _stroke_width(syn.sketch_canvas(digit, seed, "thin", canvas_size=(600, 600))) < 4.5
        thick = syn.sketch_canvas(digit, seed, "thick", canvas_size=(600, 600))
        r0, r1, _, _ = _ink_box(thick)
        assert _stroke_width(thick) > 0.12 * (r1 - r0)
    explicit = syn.sketch_canvas(digit, 0, canvas_size=(600, 600), scale=0.5, centre=(0.5, 0.5), brush=12)
    r0, r1, c0, c1 = _ink_box(explicit)
    assert abs((r0 + r1) / 2 - 300) < 40 and abs((r1 - r0) - 300) < 30
    assert 9 < _stroke_width(explicit) < 15


def test_to_mnist_of_a_sketch_of_an_mnist_digit_is_close_to_the_digit(mnist_digits):
    images, _ = mnist_digits
    corrs = []
    for i, x in enumerate(images):
        for condition in ("normal", "large", "off_centre"):
            canvas = syn.sketch_canvas(x, i, condition)
            corrs.append(_corr(to_mnist(canvas), x / 255.0))
    assert np.median(corrs) > 0.8 and min(corrs) > 0.6, corrs


def test_pen_digit_is_the_digit_redrawn_with_a_round_pen_at_the_asked_height():
    digit = _a_digit()
    pen = syn.pen_digit(digit, 0, height=96, brush=(0.1, 0.1))

    assert pen.dtype == np.uint8 and pen.max() == 255 and pen[0].max() == pen[-1].max() == 0
    rows = np.flatnonzero((pen > 127).any(axis=1))
    assert 96 * 0.85 < rows[-1] - rows[0] + 1 < 96 * 1.3  # the digit's height plus the pen's width
    middle = pen[:, pen.shape[1] // 2] > 127  # crosses the 3's three bars, each about 10 px thick
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, middle.astype(int), 0])))[::2]
    assert len(runs) == 3 and all(6 <= run <= 16 for run in runs), runs
    assert _corr(mnist_from_ink(pen / 255.0), digit) > 0.8


def test_mnist_strokes_are_smooth_polylines_in_the_unit_frame(mnist_digits):
    images, _ = mnist_digits
    for x in images:
        strokes = syn.mnist_strokes(x)
        assert 1 <= len(strokes) <= 12
        pts = np.concatenate(strokes)
        assert pts.min() > 0 and pts.max() < 1
        steps = np.concatenate([np.hypot(*np.diff(s, axis=0).T) for s in strokes if len(s) > 1])
        assert steps.max() < 0.05  # no jumps: consecutive skeleton pixels


def test_sketch_of_stroke_template_normalizes_to_the_template():
    digit = _a_digit()
    canvas = syn.sketch_canvas(syn.stroke_variant(3, 0, "round", jitter=0.0), 1, jitter=0.0,
                               canvas_size=(800, 450), brush=14)
    assert _corr(to_mnist(canvas), digit) > 0.7


# ------------------------------------------------------------------ stroke variants


def test_every_stroke_style_renders_dark_ink_on_white():
    for digit, styles in syn.STROKE_STYLES.items():
        for style in styles:
            img = syn.render_stroke_variant(digit, 3, style, size=64)
            a = np.asarray(img)
            assert img.mode == "L" and img.size == (64, 64)
            assert a[0].min() == 255 and a.min() < 60, (digit, style)


def test_targeted_variants_have_their_extra_strokes():
    assert len(syn.stroke_variant(7, 0, "crossed")) == 2 and len(syn.stroke_variant(7, 0, "plain")) == 1
    assert len(syn.stroke_variant(4, 0, "open")) == 2 and len(syn.stroke_variant(4, 0, "closed")) == 1
    tail = syn.stroke_variant(9, 0, "curved_tail", jitter=0.0)[0]
    straight = syn.stroke_variant(9, 0, "straight", jitter=0.0)[0]
    assert tail[:, 0].min() < straight[-1, 0] - 0.3  # the tail curls back to the left
    for digit, style in syn.TARGETED_VARIANTS:
        assert style in syn.STROKE_STYLES[digit]


# ------------------------------------------------------------- photos and PNGs


def test_phone_photo_is_a_jpeg_rgb_photo_of_dark_ink_on_paper():
    src = syn.render_stroke_variant(7, 0, "crossed", size=128)
    photo = syn.phone_photo(src, 0)
    assert photo.mode == "RGB" and photo.format == "JPEG"
    assert 400 <= max(photo.size) <= 900
    gray = np.asarray(photo.convert("L"), np.float32)
    assert np.percentile(gray, 50) > np.percentile(gray, 0.5) + 40  # paper lighter than ink
    assert syn.phone_photo(src, 0, quality=60, long_side=500).size[1] <= 500
    assert _corr(to_mnist(photo), to_mnist(src)) > 0.6


def test_white_on_black_inverts_to_an_opaque_png():
    src = syn.render_stroke_variant(2, 0, "loop", size=100)
    png = syn.white_on_black(src)
    assert png.format == "PNG" and png.mode == "L" and png.size == src.size
    np.testing.assert_array_equal(np.asarray(png), 255 - np.asarray(src))
    canvas = syn.sketch_canvas(_a_digit(), 0)
    flat = syn.white_on_black(canvas)
    np.testing.assert_array_equal(np.asarray(flat), np.asarray(canvas.getchannel("A")))


# ------------------------------------------------------------------------ fonts


def test_font_split_is_stable_and_disjoint_by_family(catalog):
    assert catalog.train, "no training fonts"
    train_groups = {f.group for f in catalog.train}
    held_groups = {f.group for f in catalog.held_out}
    assert not train_groups & held_groups
    for f in catalog.fonts:
        assert f.held_out == (syn._stable_fraction(f.group, syn.SPLIT_SALT) < syn.HELD_OUT_FRACTION)
        assert Path(f.path).suffix.lower() in syn.FONT_SUFFIXES
    assert syn.find_fonts() is catalog or syn.find_fonts().fonts == catalog.fonts


def test_a_font_keeps_its_side_of_the_split_whatever_else_is_installed(catalog, tmp_path):
    font = catalog.fonts[0]
    shutil.copy(font.path, tmp_path / Path(font.path).name)
    alone = syn.find_fonts([tmp_path])
    assert [(f.group, f.held_out) for f in alone.fonts] == [(font.group, font.held_out)]


def test_render_font_digit_is_dark_ink_on_white_and_deterministic(catalog):
    for i, font in enumerate(catalog.fonts[:: max(1, len(catalog.fonts) // 6)]):
        img = syn.render_font_digit(i % 10, font, i)
        assert _bytes(img) == _bytes(syn.render_font_digit(i % 10, font.path, i))
        a = np.asarray(img)
        assert img.mode == "L" and a.max() == 255 and a.min() < 70
        assert (a < 128).mean() < 0.5
    fixed = syn.render_font_digit(8, catalog.fonts[0], 0, canvas_size=(100, 120), height=0.6, rotation=0)
    rows = np.nonzero((np.asarray(fixed) < 128).any(axis=1))[0]
    assert fixed.size == (100, 120) and 0.45 * 120 < rows.max() - rows.min() + 1 < 0.75 * 120


def test_sample_font_prefers_handwriting_and_covers_families(catalog):
    rng = np.random.default_rng(0)
    picks = [syn.sample_font(catalog.fonts, rng) for _ in range(200)]
    if any(f.handwriting for f in catalog.fonts) and not all(f.handwriting for f in catalog.fonts):
        assert 0.45 < np.mean([f.handwriting for f in picks]) < 0.75
    assert len({f.group for f in picks}) >= min(10, len({f.group for f in catalog.fonts}))
