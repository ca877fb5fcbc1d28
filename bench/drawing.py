"""Accuracy and calibration on drawings, photos and PNGs the model never trained on.

Builds test sets from sources kept out of training: digits from held-out font families,
MNIST *test* digits redrawn as sketchpad strokes on large transparent canvases (several
sizes, positions and brush widths; the model trains on *training* digits redrawn the same
way, :func:`digitrec.styles.sketched_digits`: the digits are new to it, the pen is not),
stroke-drawn shapes MNIST under-represents (crossed 7, curved-tail 9, open 4, 1 with a base,
looped 2; drawn in a random sketch condition), simulated phone photos, and white-on-black
PNGs (see :mod:`digitrec.synthetic`). Each image goes through the app's normalization
(:func:`digitrec.normalize.to_mnist`) and, for comparison, through a textbook "plain
MNIST" normalization (grayscale, invert, crop, fit 20x20, centre of mass), both fed to the
same model. Prints one JSON object with the accuracy and expected calibration error (ECE,
15 bins on the top probability) of each, and of the MNIST test split fed directly, through
``mnist_from_ink`` (as in training) and through ``to_mnist`` (as a 28x28 white-on-black upload).

Things that are not digits are scored apart (``not_a_digit``): random pen scribbles drawn
on the sketchpad canvas in every sketch condition, and the letters and symbols the model's
"not a digit" class learns from (:data:`digitrec.styles.NON_DIGIT_GLYPHS`) rendered in the
held-out font families. For each, the share the app calls unsure (top confidence below
:data:`digitrec.serving.LOW_CONFIDENCE`), the share it is confident about (at least 0.9) and
the mean top confidence (the higher the first, the better), and what the confident ones
were (sketch condition, glyph).

    python bench/drawing.py [--n 300] [--seed 0] [--model DIR] [--data mnist.npz] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from PIL import Image
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from digitrec import load_model  # noqa: E402
from digitrec.cli import argument_errors, seed, whole_number  # noqa: E402
from digitrec.data import load_mnist  # noqa: E402
from digitrec.errors import InvalidImageError  # noqa: E402
from digitrec.evaluation import expected_calibration_error as ece  # noqa: E402
from digitrec.normalize import mnist_from_ink, to_mnist  # noqa: E402
from digitrec import synthetic as syn  # noqa: E402
from digitrec.serving import LOW_CONFIDENCE  # noqa: E402
from digitrec.styles import NON_DIGIT_GLYPHS, scribble  # noqa: E402

_REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("DIGITREC_MNIST") or next(
    (p for p in (_REPO.parent / "shared" / "data" / "mnist.npz", Path("/work/shared/data/mnist.npz")) if p.is_file()),
    _REPO.parent / "shared" / "data" / "mnist.npz"))
CHUNK = 25

#: condition -> (kind, argument); kinds are built in :func:`_make`.
CONDITIONS = {
    "font_handwriting": ("font", True),
    "font_typeset": ("font", False),
    **{f"sketch_{name}": ("sketch", name) for name in syn.SKETCH_CONDITIONS},
    "sketch_targeted_variants": ("variant", None),
    "photo_mnist": ("photo", "mnist"),
    "photo_font": ("photo", "font"),
    "white_on_black_mnist": ("inverted", "mnist"),
    "white_on_black_font": ("inverted", "font"),
}
#: Inputs that are not digits, scored by how often the app says it is unsure (label -1).
NOT_A_DIGIT = {
    "scribbles": ("scribble", None),
    "letters_held_out_fonts": ("glyph", None),
}
#: Every condition, in the order that seeds its draws.
EVERY_CONDITION = {**CONDITIONS, **NOT_A_DIGIT}
#: Least top confidence counted as confident.
CONFIDENT = 0.9


def plain_mnist(image: Image.Image) -> np.ndarray:
    """Textbook MNIST preprocessing: grayscale (alpha ignored), invert (dark ink on light
    paper assumed), crop to ink above 50 %, fit the longer side to 20 pixels, paste in
    28x28 and move the centre of mass to the centre."""
    ink = 1.0 - np.asarray(image.convert("L"), np.float32) / 255.0
    rows, cols = np.nonzero(ink > 0.5)
    if len(rows) == 0:
        raise InvalidImageError("no pixel darker than 50 %")
    box = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    h, w = box.shape
    s = 20.0 / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = np.asarray(Image.fromarray(np.round(box * 255).astype(np.uint8)).resize(size, Image.Resampling.LANCZOS),
                       np.float32) / 255.0
    out = np.zeros((28, 28), np.float32)
    top, left = (28 - size[1]) // 2, (28 - size[0]) // 2
    out[top: top + size[1], left: left + size[0]] = small
    if out.sum() > 0:
        cy, cx = ndimage.center_of_mass(out)
        out = np.clip(ndimage.shift(out, (13.5 - cy, 13.5 - cx), order=1), 0, 1)
    return out


def _make(kind: str, arg, rng: np.random.Generator, mnist_x: np.ndarray, mnist_y: int,
          fonts: dict) -> tuple[Image.Image, int, str]:
    """One test image, its label and a tag (font family or stroke style)."""
    def font_digit(hand: bool | None = None):
        digit = int(rng.integers(10))
        pool = fonts["all"] if hand is None else fonts["hand" if hand else "typeset"]
        font = syn.sample_font(pool, rng)
        return syn.render_font_digit(digit, font, rng), digit, font.group

    if kind == "font":
        return font_digit(arg)
    if kind == "sketch":
        return syn.sketch_canvas(mnist_x, rng, arg), mnist_y, "mnist"
    if kind == "variant":
        digit, style = syn.TARGETED_VARIANTS[int(rng.integers(len(syn.TARGETED_VARIANTS)))]
        sketch = sorted(syn.SKETCH_CONDITIONS)[int(rng.integers(len(syn.SKETCH_CONDITIONS)))]
        return syn.sketch_canvas(syn.stroke_variant(digit, rng, style), rng, sketch), digit, f"{digit} {style}"
    if kind in ("photo", "inverted"):
        if arg == "font":
            img, digit, tag = font_digit()
        else:
            img, digit, tag = syn.sketch_canvas(mnist_x, rng, "normal"), mnist_y, "mnist"
        out = syn.phone_photo(img, rng) if kind == "photo" else syn.white_on_black(img)
        return out, digit, tag
    if kind == "scribble":
        sketch = sorted(syn.SKETCH_CONDITIONS)[int(rng.integers(len(syn.SKETCH_CONDITIONS)))]
        return syn.sketch_canvas(scribble(rng), rng, sketch, jitter=0.0), -1, sketch
    if kind == "glyph":
        glyph = NON_DIGIT_GLYPHS[int(rng.integers(len(NON_DIGIT_GLYPHS)))]
        font = syn.sample_font(fonts["all"], rng)
        return syn.render_font_digit(glyph, font, rng), -1, glyph
    raise ValueError(kind)


def _run_chunk(name: str, entropy: tuple[int, ...], xs: np.ndarray, ys: np.ndarray, fonts: dict):
    kind, arg = EVERY_CONDITION[name]
    rng = np.random.default_rng(np.random.SeedSequence(list(entropy)))
    ours, plain, ok_ours, ok_plain, labels, tags = [], [], [], [], [], []
    for x, y in zip(xs, ys):
        img, label, tag = _make(kind, arg, rng, x, int(y), fonts)
        labels.append(label)
        tags.append(tag)
        for fn, out, ok in ((to_mnist, ours, ok_ours), (plain_mnist, plain, ok_plain)):
            try:
                out.append(fn(img))
                ok.append(True)
            except InvalidImageError:
                out.append(np.zeros((28, 28), np.float32))
                ok.append(False)
    return (np.stack(ours), np.stack(plain), np.array(ok_ours), np.array(ok_plain),
            np.array(labels), tags)


def _normalize_many(images: np.ndarray) -> np.ndarray:
    return np.stack([to_mnist(image) for image in images])


def _from_ink_many(images: np.ndarray) -> np.ndarray:
    return np.stack([mnist_from_ink(image) for image in images])


def score(proba: np.ndarray, labels: np.ndarray, ok: np.ndarray) -> dict:
    """Accuracy (a rejected image counts as wrong), ECE and confidence on the accepted ones."""
    pred = np.where(ok, proba.argmax(axis=1), -1)
    return {
        "accuracy": round(float((pred == labels).mean()), 4),
        "ece": round(ece(proba[ok], labels[ok]), 4) if ok.any() else None,
        "mean_confidence": round(float(proba[ok].max(axis=1).mean()), 4) if ok.any() else None,
        "rejected": int((~ok).sum()),
    }


def doubt(proba: np.ndarray, ok: np.ndarray) -> dict:
    """How unsure the model is of things that are not digits (a rejected image counts as unsure)."""
    top = np.where(ok, proba.max(axis=1), 0.0)
    return {
        "unsure_share": round(float((top < LOW_CONFIDENCE).mean()), 4),
        "confident_share": round(float((top >= CONFIDENT).mean()), 4),
        "mean_top_confidence": round(float(top.mean()), 4),
        "rejected": int((~ok).sum()),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=whole_number(1), default=300, help="samples per condition")
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--model", default=None, help="model directory (default: bundled)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="MNIST .npz / IDX dir / 'openml'")
    parser.add_argument("--jobs", type=whole_number(1), default=2, help="joblib workers")
    args = parser.parse_args(argv)
    start = time.time()

    with argument_errors(parser):
        model = load_model(args.model, fallback=False)
        data = load_mnist(args.data)
    catalog = syn.find_fonts()
    held = catalog.held_out
    fonts = {"all": held, "hand": [f for f in held if f.handwriting],
             "typeset": [f for f in held if not f.handwriting]}
    conditions = [c for c in EVERY_CONDITION
                  if not (c.startswith("font_") and not fonts["hand" if CONDITIONS[c][1] else "typeset"])
                  and not (c.endswith(("_font", "_fonts")) and not held)]
    skipped = sorted(set(EVERY_CONDITION) - set(conditions))

    # MNIST test split, as the model was trained (direct) and through to_mnist
    x_test = data.x_test.astype(np.float32) / 255.0
    y_test = data.y_test.astype(int)
    direct = model.predict_proba_normalized(x_test)
    chunks = np.array_split(np.arange(len(x_test)), max(1, len(x_test) // 500))
    normalized = Parallel(n_jobs=args.jobs)(
        delayed(_normalize_many)(data.x_test[idx]) for idx in chunks)
    via_to_mnist = model.predict_proba_normalized(np.concatenate(normalized))
    from_ink = Parallel(n_jobs=args.jobs)(delayed(_from_ink_many)(x_test[idx]) for idx in chunks)
    via_from_ink = model.predict_proba_normalized(np.concatenate(from_ink))
    every = np.ones(len(y_test), bool)
    mnist_report = {"n": int(len(y_test)), "direct": score(direct, y_test, every),
                    "mnist_from_ink": score(via_from_ink, y_test, every),
                    "to_mnist": score(via_to_mnist, y_test, every)}

    # synthetic conditions: MNIST test digits drawn without replacement per condition
    tasks = []
    for name in conditions:
        ci = list(EVERY_CONDITION).index(name)  # the same draws whatever else is skipped
        pick = np.random.default_rng([args.seed, ci]).choice(len(y_test), args.n, replace=args.n > len(y_test))
        for k, start_i in enumerate(range(0, args.n, CHUNK)):
            idx = pick[start_i: start_i + CHUNK]
            tasks.append((name, (args.seed, ci, k), data.x_test[idx], data.y_test[idx]))
    results = Parallel(n_jobs=args.jobs)(delayed(_run_chunk)(name, ent, xs, ys, fonts)
                                         for name, ent, xs, ys in tasks)

    report, not_a_digit = {}, {}
    for name in conditions:
        parts = [r for (n, *_), r in zip(tasks, results) if n == name]
        ours, plain = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        ok_ours, ok_plain = np.concatenate([p[2] for p in parts]), np.concatenate([p[3] for p in parts])
        labels = np.concatenate([p[4] for p in parts]).astype(int)
        tags = [t for p in parts for t in p[5]]
        p_ours, p_plain = model.predict_proba_normalized(ours), model.predict_proba_normalized(plain)
        if name in NOT_A_DIGIT:
            confident = [t for t, top, ok in zip(tags, p_ours.max(axis=1), ok_ours) if ok and top >= CONFIDENT]
            not_a_digit[name] = {"n": int(len(labels)), "to_mnist": doubt(p_ours, ok_ours),
                                 "plain_mnist": doubt(p_plain, ok_plain),
                                 "confident_by_kind": dict(Counter(confident).most_common())}
            continue
        entry = {"n": int(len(labels)), "to_mnist": score(p_ours, labels, ok_ours),
                 "plain_mnist": score(p_plain, labels, ok_plain)}
        if name == "sketch_targeted_variants":
            entry["to_mnist_by_style"] = {
                t: round(float((p_ours.argmax(1)[[x == t for x in tags]] == labels[[x == t for x in tags]]).mean()), 4)
                for t in sorted(set(tags))}
        if name.startswith("font_"):
            entry["families"] = sorted(set(tags))
        report[name] = entry

    def mean(key: str) -> float:
        return round(float(np.mean([report[c][key]["accuracy"] for c in report])), 4)

    result = {
        "benchmark": "drawing",
        "model": model.origin,
        "seed": args.seed,
        "n_per_condition": args.n,
        "fonts": {"held_out_handwriting": sorted({f.group for f in fonts["hand"]}),
                  "held_out_typeset": sorted({f.group for f in fonts["typeset"]}),
                  "train_families": len({f.group for f in catalog.train})},
        "mnist_test": mnist_report,
        "conditions": report,
        "mean_accuracy": {"to_mnist": mean("to_mnist"), "plain_mnist": mean("plain_mnist")},
        "not_a_digit": not_a_digit,
        "skipped": skipped,
        "seconds": round(time.time() - start, 1),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
