"""Reproducible distortions of MNIST digits, re-normalized like served images.

Each copy gets a random affine map (rotation, scale, shear, translation), an elastic
distortion and a stroke-thickness change, drawn on a 2x canvas and then passed through
:func:`digitrec.normalize.mnist_from_ink`, so augmented digits look exactly like what
the app feeds the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from joblib import Parallel, delayed
from scipy import ndimage

from digitrec.errors import InvalidImageError
from digitrec.normalize import mnist_from_ink

UPSCALE = 2


@dataclass(frozen=True)
class Distortion:
    """Ranges of the random distortions (uniform in +/- range unless stated)."""

    rotation_deg: float = 8.0
    scale: tuple[float, float] = (0.9, 1.1)
    shear: float = 0.15
    translation: float = 0.05  # fraction of the image side
    elastic_alpha: float = 4.0  # smoothed displacement scale, pixels at 28x28
    elastic_sigma: float = 3.0
    thickness: tuple[int, int] = (-1, 1)  # grey erosion (<0) to dilation (>0) steps, 2x canvas

    def as_dict(self) -> dict:
        return asdict(self)


def distort(image: np.ndarray, rng: np.random.Generator, spec: Distortion = Distortion()) -> np.ndarray:
    """One randomly distorted copy of a (28, 28) ink image in [0, 1], MNIST-normalized."""
    big = ndimage.zoom(np.asarray(image, dtype=np.float32), UPSCALE, order=1)
    big = np.pad(big, big.shape[0] // 4)
    size = big.shape[0]
    angle = np.deg2rad(rng.uniform(-spec.rotation_deg, spec.rotation_deg))
    scale = rng.uniform(*spec.scale)
    shear = rng.uniform(-spec.shear, spec.shear)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    forward = rotation @ np.array([[1.0, 0.0], [shear, 1.0]]) * scale
    inverse = np.linalg.inv(forward)
    centre = np.array([size / 2, size / 2])
    shift = rng.uniform(-spec.translation, spec.translation, 2) * 28 * UPSCALE
    offset = centre - inverse @ (centre + shift)
    warped = ndimage.affine_transform(big, inverse, offset=offset, order=1)
    if spec.elastic_alpha > 0:
        sigma = spec.elastic_sigma * UPSCALE
        dy, dx = (
            ndimage.gaussian_filter(rng.uniform(-1, 1, warped.shape), sigma) * spec.elastic_alpha * UPSCALE * sigma
            for _ in range(2)
        )
        r, c = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
        warped = ndimage.map_coordinates(warped, [r + dy, c + dx], order=1)
    steps = int(rng.integers(spec.thickness[0], spec.thickness[1] + 1))
    if steps > 0:
        warped = ndimage.grey_dilation(warped, size=(steps + 1, steps + 1))
    elif steps < 0:
        eroded = ndimage.grey_erosion(warped, size=(2, 2))
        warped = eroded if eroded.max() > 0.3 else warped
    try:
        return mnist_from_ink(np.clip(warped, 0, 1))
    except InvalidImageError:  # distorted out of the frame or eroded away: keep the original
        return np.asarray(image, dtype=np.float32)


def augment(images: np.ndarray, copies: int, seed: int = 0, spec: Distortion = Distortion(),
            n_jobs: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """``copies`` distorted versions of every (28, 28) image, and the index of each one's source.

    Copy-major order: the first ``len(images)`` rows are one copy of every image, and so
    on, so a prefix of the result is a smaller augmentation. Deterministic for a given
    seed, whatever ``n_jobs`` is.
    """
    if copies <= 0 or len(images) == 0:
        return np.empty((0, 28, 28), np.float32), np.empty((0,), np.int64)
    chunks = np.array_split(np.arange(len(images)), max(1, min(len(images), 32)))

    def run(index: np.ndarray, chunk_seed: int) -> np.ndarray:
        rng = np.random.default_rng(chunk_seed)
        return np.stack([np.stack([distort(images[i], rng, spec) for i in index]) for _ in range(copies)])

    seeds = np.random.SeedSequence(seed).generate_state(len(chunks))
    parts = Parallel(n_jobs=n_jobs)(delayed(run)(idx, int(s)) for idx, s in zip(chunks, seeds))
    distorted = np.concatenate(parts, axis=1).reshape(-1, 28, 28)
    return distorted.astype(np.float32), np.tile(np.concatenate(chunks), copies)
