"""Why did the model say that? Occlusion sensitivity on the 28x28 model input.

:func:`occlusion_heatmap` blanks one square patch of the normalized digit at a time and
measures how much the probability of a class drops; all the occluded copies go to the
model in ONE ``predict_proba_normalized`` call, and patches with no ink at all are not
even tried (blanking empty background changes nothing: their drop is exactly zero), so
a heatmap costs one batch of at most 50 predictions (with the default patch and stride a
7x7 grid of patches, plus the digit itself; about 26 for a typical MNIST digit).
:func:`heatmap_image` overlays the heatmap on the digit for display.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

#: Pixels at or below this value count as background (blanking them changes nothing).
INK_LEVEL = 1e-3


def occlusion_heatmap(classifier: Any, normalized28: np.ndarray, label_index: int, patch: int = 5,
                      stride: int = 4, relative: bool = True) -> np.ndarray:
    """Occlusion sensitivity of class ``label_index`` for a (28, 28) model input.

    Each ``patch`` x ``patch`` square (every ``stride`` pixels) is set to 0 (background);
    a pixel's heat is the mean drop of the class probability over the patches covering
    it (increases count as no drop). Returns a (28, 28) float32 array in [0, 1]: with
    ``relative`` (default) scaled so the hottest pixel is 1 (all zeros when no patch
    lowers the probability), otherwise the raw probability drop.
    """
    image = np.asarray(normalized28, dtype=np.float32)
    if image.ndim != 2 or min(image.shape) < 1:
        raise ValueError(f"Expected a 2-D normalized image, got shape {image.shape}.")
    if patch < 1 or stride < 1:
        raise ValueError("patch and stride must be positive.")
    height, width = image.shape
    n_classes = len(classifier.classes)
    if not 0 <= int(label_index) < n_classes:
        raise ValueError(f"label_index {label_index} is not a class index (0..{n_classes - 1}).")
    patch_h, patch_w = min(patch, height), min(patch, width)
    tops = _starts(height, patch_h, stride)
    lefts = _starts(width, patch_w, stride)
    windows = [(t, l) for t in tops for l in lefts]
    inked = [(t, l) for t, l in windows if image[t: t + patch_h, l: l + patch_w].max() > INK_LEVEL]
    batch = np.repeat(image[None], len(inked) + 1, axis=0)
    for k, (t, l) in enumerate(inked, start=1):
        batch[k, t: t + patch_h, l: l + patch_w] = 0.0
    probabilities = np.asarray(classifier.predict_proba_normalized(batch), dtype=np.float64)[:, int(label_index)]
    drops = np.clip(probabilities[0] - probabilities[1:], 0.0, 1.0)
    heat = np.zeros((height, width), dtype=np.float64)
    cover = np.zeros((height, width), dtype=np.float64)
    for t, l in windows:
        cover[t: t + patch_h, l: l + patch_w] += 1.0
    for (t, l), drop in zip(inked, drops):
        heat[t: t + patch_h, l: l + patch_w] += drop
    heat /= np.maximum(cover, 1.0)
    if relative:
        peak = heat.max()
        heat = heat / peak if peak > 0 else heat
    return np.clip(heat, 0.0, 1.0).astype(np.float32)


def _starts(size: int, patch: int, stride: int) -> list[int]:
    """Patch positions covering ``size`` pixels: every ``stride``, the last one flush with the edge."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


def heatmap_image(normalized28: np.ndarray, heatmap: np.ndarray, size: int = 140,
                  colormap: str = "inferno", opacity: float = 0.65) -> Image.Image:
    """The digit (dark ink on white, enlarged to ``size`` px) with the heatmap blended over it (RGB).

    Hot areas are opaque in ``colormap`` (a matplotlib colormap name); cold areas let the
    digit show through. The heatmap is scaled to its own maximum for display.
    """
    digit = np.clip(np.asarray(normalized28, dtype=np.float32), 0.0, 1.0)
    heat = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, None)
    if digit.shape != heat.shape:
        raise ValueError(f"heatmap shape {heat.shape} does not match the image shape {digit.shape}.")
    peak = float(heat.max())
    heat = heat / peak if peak > 0 else heat
    base = Image.fromarray(np.round(255 * (1.0 - digit)).astype(np.uint8)).resize((size, size), Image.Resampling.NEAREST)
    smooth = Image.fromarray(heat.astype(np.float32), mode="F").resize((size, size), Image.Resampling.BILINEAR)
    h = np.clip(np.asarray(smooth, dtype=np.float32), 0.0, 1.0)
    colours = _colormap(colormap, h)
    gray = np.asarray(base, dtype=np.float32)[..., None] / 255.0
    alpha = (opacity * h)[..., None]
    rgb = gray * (1.0 - alpha) + colours * alpha
    return Image.fromarray(np.round(255 * rgb).astype(np.uint8), "RGB")


def _colormap(name: str, values: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] of ``values`` (in [0, 1]) through a matplotlib colormap."""
    from matplotlib import colormaps

    return np.asarray(colormaps[name](values), dtype=np.float32)[..., :3]
