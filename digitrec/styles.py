"""Style diversity for training: digits from handwriting fonts and pen-stroke templates,
and the things that are not one digit (scribbles, letters, two digits run together).

MNIST under-represents styles people draw on the Space (crossed sevens, curved-tail
nines, open fours, typeset-looking digits). These digits come from the *training* side of
:func:`digitrec.synthetic.find_fonts` (held-out fonts stay for ``bench/drawing.py``) and
from the stroke templates, and are MNIST-normalized exactly like served images.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from joblib import Parallel, delayed

from digitrec import synthetic
from digitrec.errors import InvalidImageError
from digitrec.normalize import ink_map, mnist_from_ink

#: Share of style digits drawn from stroke templates (the rest from fonts, when installed).
STROKE_SHARE = 0.5


def style_digits(n: int, seed: int = 0, n_jobs: int = -1) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``n`` MNIST-format style digits, labels balanced over 0-9, and a description of them.

    Deterministic for a seed and a given set of installed fonts; without fonts, all come
    from stroke templates (the description says so).
    """
    fonts = synthetic.find_fonts().train if n else []
    n_strokes = n if not fonts else int(round(n * STROKE_SHARE))
    labels = np.arange(n) % 10
    kinds = np.array(["stroke"] * n_strokes + ["font"] * (n - n_strokes))

    def ink(i: int, rng: np.random.Generator) -> np.ndarray:
        if kinds[i] == "stroke":
            image = synthetic.render_stroke_variant(int(labels[i]), rng)
        else:
            image = synthetic.render_font_digit(int(labels[i]), synthetic.sample_font(fonts, rng), rng)
        return synthetic.ink_of(image)

    if n == 0:
        return np.empty((0, 28, 28), np.float32), np.empty((0,), np.int64), {"n": 0}
    images = _made_in_chunks(n, seed, ink, n_jobs)
    keep = images.reshape(n, -1).max(axis=1) > 0
    description = {
        "n": int(keep.sum()), "seed": seed, "from_stroke_templates": int((keep & (kinds == "stroke")).sum()),
        "from_fonts": int((keep & (kinds == "font")).sum()),
        "font_families": sorted({f.family for f in fonts}),
    }
    return images[keep], labels[keep].astype(np.int64), description


#: Label given to things that are not digits (scribbles, letters, symbols) in training.
NOT_A_DIGIT = 10
#: Letters and symbols that do not look like any digit (no O, I, l, S, Z, B, g, q...).
NON_DIGIT_GLYPHS = "ACEFHKMNPRUVWXacefhkmnpruvwx#@&%?=*"


def non_digits(n: int, seed: int = 0, n_jobs: int = -1) -> tuple[np.ndarray, dict[str, Any]]:
    """``n`` MNIST-format images that are not digits: random pen scribbles and, when fonts
    are installed, letters and symbols. Teaches the model to give digits low confidence."""
    if n == 0:
        return np.empty((0, 28, 28), np.float32), {"n": 0}
    fonts = synthetic.find_fonts().train

    def ink(_: int, rng: np.random.Generator) -> np.ndarray:
        if fonts and rng.random() < 0.5:
            glyph = NON_DIGIT_GLYPHS[int(rng.integers(len(NON_DIGIT_GLYPHS)))]
            image = synthetic.render_font_digit(glyph, synthetic.sample_font(fonts, rng), rng)
        else:
            image = synthetic.sketch_canvas(_scribble(rng), rng, jitter=0.0)
        return synthetic.ink_of(image)

    images = _made_in_chunks(n, [seed, NOT_A_DIGIT], ink, n_jobs)
    images = images[images.reshape(len(images), -1).max(axis=1) > 0]
    return images, {"n": len(images), "seed": seed, "glyphs": NON_DIGIT_GLYPHS}


#: How :func:`touching_pairs` writes two digits as one mark (MNIST digits are about 20 px
#: tall): 4 px crossing to 1 px apart, each scaled 0.75-1.25x and shifted up to 15% off the baseline.
TOUCHING_PAIR = synthetic.NumberStyle(2, (-4, 1), (0.75, 1.25), 0.15)


def touching_pairs(digits: np.ndarray, n: int, seed: int = 0, n_jobs: int = -1) -> tuple[np.ndarray, dict[str, Any]]:
    """``n`` MNIST-format images of two of ``digits`` ((m, 28, 28) uint8, 255 = ink) run
    together as one mark (:data:`TOUCHING_PAIR`): not one digit.

    The number reader (:mod:`digitrec.segment`) weighs the ink of two touching digits as
    one digit too; a model that learned such pairs as "not a digit" doubts that reading,
    so the reader cuts them apart. Pass training digits only, never test digits.
    """
    if n == 0:
        return np.empty((0, 28, 28), np.float32), {"n": 0}

    def ink(_: int, rng: np.random.Generator) -> np.ndarray:
        pair = digits[rng.choice(len(digits), 2, replace=False)]
        return ink_map(TOUCHING_PAIR.compose(list(pair), rng)[0])

    images = _made_in_chunks(n, [seed, NOT_A_DIGIT, 2], ink, n_jobs)
    return images, {"n": len(images), "seed": seed, "gap": list(TOUCHING_PAIR.gap),
                    "scale": list(TOUCHING_PAIR.scale), "shift": TOUCHING_PAIR.shift}


def _made_in_chunks(n: int, entropy: int | list[int], ink: Callable[[int, np.random.Generator], np.ndarray],
                    n_jobs: int) -> np.ndarray:
    """``n`` (at least 1) MNIST-format images, image ``i`` normalized from ``ink(i, rng)``; all
    zeros when it has no usable ink. Made in parallel chunks, each with its own generator
    seeded from ``entropy``, so the result depends on ``entropy`` only."""
    chunks = np.array_split(np.arange(n), max(1, min(n // 200, 32)))
    seeds = np.random.SeedSequence(entropy).generate_state(len(chunks))

    def run(index: np.ndarray, chunk_seed: int) -> np.ndarray:
        rng = np.random.default_rng(chunk_seed)
        out = []
        for i in index:
            try:
                out.append(mnist_from_ink(ink(int(i), rng)))
            except InvalidImageError:
                out.append(np.zeros((28, 28), np.float32))
        return np.stack(out)

    return np.concatenate(Parallel(n_jobs=n_jobs)(delayed(run)(idx, int(s)) for idx, s in zip(chunks, seeds)))


def _scribble(rng: np.random.Generator) -> list[np.ndarray]:
    """Two or three random smooth pen strokes in a unit box (never a lone line, which is a 1)."""
    strokes = []
    for _ in range(int(rng.integers(2, 4))):
        points = rng.uniform(0, 1, (int(rng.integers(5, 10)), 2))
        strokes.append(synthetic._spline(*map(tuple, points)))
    return strokes
