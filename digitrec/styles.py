"""Style diversity for training: digits from handwriting fonts and pen-stroke templates.

MNIST under-represents styles people draw on the Space (crossed sevens, curved-tail
nines, open fours, typeset-looking digits). These digits come from the *training* side of
:func:`digitrec.synthetic.find_fonts` (held-out fonts stay for ``bench/drawing.py``) and
from the stroke templates, and are MNIST-normalized exactly like served images.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from joblib import Parallel, delayed

from digitrec import synthetic
from digitrec.errors import InvalidImageError
from digitrec.normalize import mnist_from_ink

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
    chunks = np.array_split(np.arange(n), max(1, min(n // 200, 32)))
    seeds = np.random.SeedSequence(seed).generate_state(len(chunks))

    def run(index: np.ndarray, chunk_seed: int) -> np.ndarray:
        rng = np.random.default_rng(chunk_seed)
        out = []
        for i in index:
            if kinds[i] == "stroke":
                image = synthetic.render_stroke_variant(int(labels[i]), rng)
            else:
                image = synthetic.render_font_digit(int(labels[i]), synthetic.sample_font(fonts, rng), rng)
            try:
                out.append(mnist_from_ink(synthetic.ink_of(image)))
            except InvalidImageError:
                out.append(np.zeros((28, 28), np.float32))
        return np.stack(out) if out else np.empty((0, 28, 28), np.float32)

    if n == 0:
        return np.empty((0, 28, 28), np.float32), np.empty((0,), np.int64), {"n": 0}
    parts = Parallel(n_jobs=n_jobs)(delayed(run)(idx, int(s)) for idx, s in zip(chunks, seeds))
    images = np.concatenate(parts)
    keep = images.reshape(n, -1).max(axis=1) > 0
    description = {
        "n": int(keep.sum()), "seed": seed, "from_stroke_templates": int((keep & (kinds == "stroke")).sum()),
        "from_fonts": int((keep & (kinds == "font")).sum()),
        "font_families": sorted({f.family for f in fonts}),
    }
    return images[keep], labels[keep].astype(np.int64), description
