"""Style diversity for training: digits from handwriting fonts and pen-stroke templates,
training digits redrawn as sketchpad strokes, digits as the number reader cuts them out of
a written number, and the things that are not one digit (scribbles, letters, two digits run
together).

MNIST under-represents styles people draw on the Space (crossed sevens, curved-tail
nines, open fours, typeset-looking digits). These digits come from the *training* side of
:func:`digitrec.synthetic.find_fonts` (held-out fonts stay for ``bench/drawing.py``) and
from the stroke templates, and are MNIST-normalized exactly like served images.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np
from joblib import Parallel, delayed

from digitrec import synthetic
from digitrec.errors import InvalidImageError
from digitrec.normalize import ink_map, mnist_from_ink
from digitrec.piece_verifier import ink_owners, main_digits
from digitrec.segment import PIECE_FEATURES, candidate_digits

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

    def make(i: int, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
        if kinds[i] == "stroke":
            image = synthetic.render_stroke_variant(int(labels[i]), rng)
        else:
            image = synthetic.render_font_digit(int(labels[i]), synthetic.sample_font(fonts, rng), rng)
        return [(synthetic.ink_of(image), i)]

    if n == 0:
        return np.empty((0, 28, 28), np.float32), np.empty((0,), np.int64), {"n": 0}
    images, made = _made_in_chunks(n, seed, make, n_jobs)
    description = {
        "n": len(made), "seed": seed, "from_stroke_templates": int((kinds[made] == "stroke").sum()),
        "from_fonts": int((kinds[made] == "font").sum()),
        "font_families": sorted({f.family for f in fonts}),
    }
    return images, labels[made].astype(np.int64), description


def sketched_digits(digits: np.ndarray, labels: np.ndarray, n: int, seed: int = 0,
                    n_jobs: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """``n`` of ``digits`` ((m, 28, 28) uint8, 255 = ink; ``labels`` their digits) redrawn as
    on the Space's sketchpad, MNIST-normalized through the app's ink map; their labels, and the
    index in ``digits`` of the digit each redraws (cross-validation keeps the two in one group).

    Each digit's skeleton is drawn with a round pen on a transparent canvas
    (:func:`digitrec.synthetic.sketch_canvas`) in one of :data:`~digitrec.synthetic.SKETCH_CONDITIONS`
    drawn at random: an even stroke of any width with round ends, not MNIST's scanned pen. The
    same ``n`` digits, each once, for a seed. Pass training digits only, never test digits.
    """
    if n == 0:
        return np.empty((0, 28, 28), np.float32), np.empty((0,), np.int64), np.empty((0,), np.int64), {"n": 0}
    picked = np.random.default_rng([seed, 4]).permutation(len(digits))[:n]
    conditions = sorted(synthetic.SKETCH_CONDITIONS)

    def make(i: int, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
        condition = conditions[int(rng.integers(len(conditions)))]
        return [(ink_map(synthetic.sketch_canvas(digits[picked[i]], rng, condition)), int(picked[i]))]

    images, sources = _made_in_chunks(len(picked), [seed, 4], make, n_jobs)
    return images, np.asarray(labels)[sources].astype(np.int64), sources, {
        "n": len(sources), "seed": seed, "conditions": conditions}


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

    def make(i: int, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
        if fonts and rng.random() < 0.5:
            glyph = NON_DIGIT_GLYPHS[int(rng.integers(len(NON_DIGIT_GLYPHS)))]
            image = synthetic.render_font_digit(glyph, synthetic.sample_font(fonts, rng), rng)
        else:
            image = synthetic.sketch_canvas(scribble(rng), rng, jitter=0.0)
        return [(synthetic.ink_of(image), i)]

    images, _ = _made_in_chunks(n, [seed, NOT_A_DIGIT], make, n_jobs)
    return images, {"n": len(images), "seed": seed, "glyphs": NON_DIGIT_GLYPHS}


#: How :func:`touching_pairs` writes two digits as one mark (MNIST digits are about 20 px
#: tall): 4 px crossing to 1 px apart, each scaled 0.75-1.25x and shifted up to 15% off the baseline.
TOUCHING_PAIR = synthetic.NumberStyle(2, (-4, 1), (0.75, 1.25), 0.15)


def touching_pairs(digits: np.ndarray, n: int, seed: int = 0,
                   n_jobs: int = -1) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``n`` MNIST-format images of two of ``digits`` ((m, 28, 28) uint8, 255 = ink) run
    together as one mark (:data:`TOUCHING_PAIR`): not one digit; and the index in ``digits``
    of each pair's first digit (its source, for cross-validation groups).

    The number reader (:mod:`digitrec.segment`) weighs the ink of two touching digits as
    one digit too; a model that learned such pairs as "not a digit" doubts that reading,
    so the reader cuts them apart. Pass training digits only, never test digits.
    """
    if n == 0:
        return np.empty((0, 28, 28), np.float32), np.empty((0,), np.int64), {"n": 0}

    def make(_: int, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
        picked = rng.choice(len(digits), 2, replace=False)
        return [(ink_map(TOUCHING_PAIR.compose(list(digits[picked]), rng)[0]), int(picked[0]))]

    images, sources = _made_in_chunks(n, [seed, NOT_A_DIGIT, 2], make, n_jobs)
    return images, sources.astype(np.int64), {"n": len(images), "seed": seed, "gap": list(TOUCHING_PAIR.gap),
                                              "scale": list(TOUCHING_PAIR.scale), "shift": TOUCHING_PAIR.shift}


#: How :func:`cut_pieces` writes the numbers it cuts digits out of: three digits spaced, sized
#: and shifted as :data:`TOUCHING_PAIR`'s two (the model card says they are the same).
CUT_NUMBER = replace(TOUCHING_PAIR, digits=3)
#: A cut piece is a digit when at least ``CUT_PURITY`` of its ink is that digit's and it
#: holds at least ``CUT_COVERAGE`` of that digit's ink (the rest: a neighbour's intruding strokes).
CUT_PURITY, CUT_COVERAGE = 0.8, 0.9


class _EveryCut:
    """A stand-in classifier unsure of everything (0.1 for each digit), so the number reader
    weighs every cut of every cluster: the candidates do not depend on any trained model.
    (Its doubt, ``ln 10``, is above :data:`digitrec.segment.ONE_DIGIT_DOUBT`, so no cluster
    is kept whole as one digit.)"""

    classes = [str(d) for d in range(10)]

    def predict_proba_normalized(self, batch: np.ndarray) -> np.ndarray:
        return np.full((len(batch), len(self.classes)), 1.0 / len(self.classes))


def cut_pieces(digits: np.ndarray, labels: np.ndarray, n: int, seed: int = 0,
               n_jobs: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """About ``n`` MNIST-format digits as the number reader cuts them out of numbers written
    with ``digits`` ((m, 28, 28) uint8, 255 = ink; ``labels`` their digits) run together
    (:data:`CUT_NUMBER`), their labels, and the index in ``digits`` of the digit each is
    (a near-copy of it: cross-validation keeps the two in one group).

    Where written digits cross, a cut leaves some of a neighbour's strokes in a digit and
    clips some of its own. A piece counts as a digit when it is mostly one digit's ink and
    holds most of it (``CUT_PURITY``, ``CUT_COVERAGE``); for each digit of a number, one
    such piece is drawn at random. A model trained on them reads overlapping digits cut
    apart. Pass training digits only, never test digits.
    """
    if n == 0:
        return np.empty((0, 28, 28), np.float32), np.empty((0,), np.int64), np.empty((0,), np.int64), {"n": 0}
    cut = PIECE_FEATURES.index("cut")

    def make(_: int, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
        picked = rng.choice(len(digits), CUT_NUMBER.digits, replace=False)
        image, owner, _ = CUT_NUMBER.compose(list(digits[picked]), rng)
        ink, owner = ink_owners(image, owner)
        candidates = [c for c in candidate_digits(_EveryCut(), ink) if c.features[cut]]
        main, purity, coverages = main_digits(candidates, owner)
        fits = (purity >= CUT_PURITY) & (coverages[np.arange(len(main)), main] >= CUT_COVERAGE)
        found = []
        for digit in np.unique(main[fits]):
            choices = np.flatnonzero(fits & (main == digit))
            found.append((candidates[int(rng.choice(choices))].crop, int(picked[digit - 1])))
        return found

    numbers = int(np.ceil(n / CUT_NUMBER.digits * 1.2))  # a few digits have no piece that fits
    images, sources = _made_in_chunks(numbers, [seed, 3], make, n_jobs)
    images, sources = images[:n], sources[:n].astype(np.int64)
    return images, np.asarray(labels)[sources].astype(np.int64), sources, {
        "n": len(sources), "seed": seed, "gap": list(CUT_NUMBER.gap), "scale": list(CUT_NUMBER.scale),
        "shift": CUT_NUMBER.shift, "purity": CUT_PURITY, "coverage": CUT_COVERAGE}


def _made_in_chunks(n: int, entropy: int | list[int],
                    make: Callable[[int, np.random.Generator], list[tuple[np.ndarray, int]]],
                    n_jobs: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-format images normalized from the inks ``make(i, rng)`` gives for ``i`` in
    ``range(n)`` (``n`` at least 1), with the tag ``make`` gives each; inks with no usable
    ink are dropped. Made in parallel chunks, each with its own generator seeded from
    ``entropy``, so the result depends on ``entropy`` only."""
    chunks = np.array_split(np.arange(n), max(1, min(n // 200, 32)))
    seeds = np.random.SeedSequence(entropy).generate_state(len(chunks))

    def run(index: np.ndarray, chunk_seed: int) -> tuple[list[np.ndarray], list[int]]:
        rng = np.random.default_rng(chunk_seed)
        images, tags = [], []
        for i in index:
            try:
                made = make(int(i), rng)
            except InvalidImageError:
                continue
            for ink, tag in made:
                try:
                    images.append(mnist_from_ink(ink))
                    tags.append(tag)
                except InvalidImageError:
                    pass
        return images, tags

    done = Parallel(n_jobs=n_jobs)(delayed(run)(idx, int(s)) for idx, s in zip(chunks, seeds))
    images = [image for chunk_images, _ in done for image in chunk_images]
    tags = np.array([tag for _, chunk_tags in done for tag in chunk_tags], dtype=np.int64)
    return (np.stack(images) if images else np.empty((0, 28, 28), np.float32)), tags


def scribble(rng: np.random.Generator) -> list[np.ndarray]:
    """Two or three random smooth pen strokes in a unit box (never a lone line, which is a 1)."""
    strokes = []
    for _ in range(int(rng.integers(2, 4))):
        points = rng.uniform(0, 1, (int(rng.integers(5, 10)), 2))
        strokes.append(synthetic._spline(*map(tuple, points)))
    return strokes
