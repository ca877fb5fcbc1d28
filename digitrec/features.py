"""Scikit-learn transformers for digit images given as flattened rows of pixels."""

from __future__ import annotations

import math

import numpy as np
from joblib import Parallel, delayed
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data


def image_shape_for(n_features: int) -> tuple[int, int]:
    """Square images when ``n_features`` is a perfect square, else a single row of pixels."""
    side = math.isqrt(n_features)
    return (side, side) if side * side == n_features else (1, n_features)


class _ImageRowsTransformer(TransformerMixin, BaseEstimator):
    """Shared plumbing: rows of ``X`` are flattened images; fitting only records the width."""

    def fit(self, X, y=None):
        validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1)
        return self

    def transform(self, X):
        """One output row per row of ``X``, in ``X``'s float type."""
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.transform_images(X.reshape(-1, *image_shape_for(X.shape[1])))

    def transform_images(self, images: np.ndarray) -> np.ndarray:
        """The transform of (n, h, w) float images, as (n, k) rows, without validating them.

        :mod:`digitrec.inference` calls this directly: input checks cost more than the
        arithmetic for one image.
        """
        raise NotImplementedError


class Deskew(_ImageRowsTransformer):
    """Undo the slant of each digit with the shear that zeroes its second-order moment.

    Each row of ``X`` is a flattened image (square if the feature count is a perfect
    square, otherwise one row of pixels). The shear is estimated from the image moments
    and the image is resampled bilinearly, keeping the centre of mass where it was.
    Stateless apart from remembering the input width.

    Parameters
    ----------
    max_shear : float
        Largest shear (columns per row) applied, so that odd inputs stay recognizable.
    """

    def __init__(self, max_shear: float = 1.0):
        self.max_shear = max_shear

    def transform_images(self, images: np.ndarray) -> np.ndarray:
        n, h, w = images.shape
        rows = np.arange(h, dtype=images.dtype)[None, :, None]
        cols = np.arange(w, dtype=images.dtype)[None, None, :]
        mass = images.sum(axis=(1, 2))
        safe = np.where(mass > 0, mass, 1)
        mean_r = (images * rows).sum(axis=(1, 2)) / safe
        var_r = (images * (rows - mean_r[:, None, None]) ** 2).sum(axis=(1, 2)) / safe
        mean_c = (images * cols).sum(axis=(1, 2)) / safe
        cov = (images * (rows - mean_r[:, None, None]) * (cols - mean_c[:, None, None])).sum(axis=(1, 2)) / safe
        shear = np.where(var_r > 1e-6, cov / np.where(var_r > 1e-6, var_r, 1), 0.0)
        shear = np.clip(shear, -self.max_shear, self.max_shear)
        # Output pixel (r, c) samples input column c + shear * (r - mean_r).
        src = cols + shear[:, None, None] * (rows - mean_r[:, None, None])
        left = np.floor(src)
        frac = (src - left).astype(images.dtype)
        left = left.astype(np.int64)
        row_index = np.broadcast_to(np.arange(h)[None, :, None], src.shape)
        batch_index = np.broadcast_to(np.arange(n)[:, None, None], src.shape)

        def sample(c: np.ndarray) -> np.ndarray:
            inside = (c >= 0) & (c < w)
            return np.where(inside, images[batch_index, row_index, np.clip(c, 0, w - 1)], 0)

        out = sample(left) * (1 - frac) + sample(left + 1) * frac
        return out.reshape(n, h * w).astype(images.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = False
        return tags


class HOG(_ImageRowsTransformer):
    """Histogram-of-oriented-gradients features of each image, as ``skimage.feature.hog`` computes them.

    Rows of ``X`` are flattened images (shape as in :class:`Deskew`); images smaller than
    one block are zero-padded. Output: one HOG descriptor per row, scikit-image's
    (``block_norm="L2-Hys"``, ``feature_vector=True``) up to float32 rounding.

    scikit-image describes one image at a time and normalizes its blocks in a Python loop,
    which for a 28x28 digit costs about 0.4 ms, a sixth of the served model's time; here a
    whole batch goes through the same arithmetic as array operations (about 0.1 ms for one
    image, less per image in a batch). ``tests/test_features.py`` checks it against
    scikit-image.

    Parameters
    ----------
    orientations : int
        Gradient orientation bins.
    pixels_per_cell : int
        Side of a square cell, in pixels.
    cells_per_block : int
        Side of a square normalization block, in cells.
    n_jobs : int or None
        Processes for large inputs (joblib semantics); small batches always run inline.
    """

    #: Images described per array operation: bounds the temporary memory (about 100 MB for 28x28).
    CHUNK = 2048

    def __init__(self, orientations: int = 9, pixels_per_cell: int = 4, cells_per_block: int = 2,
                 n_jobs: int | None = None):
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.n_jobs = n_jobs

    def transform_images(self, images: np.ndarray) -> np.ndarray:
        dtype = images.dtype
        h, w = images.shape[1:]
        least = self.pixels_per_cell * self.cells_per_block
        images = np.pad(images, ((0, 0), (0, max(0, least - h)), (0, max(0, least - w))))
        chunks = [images[i:i + self.CHUNK] for i in range(0, len(images), self.CHUNK)]
        if self.n_jobs in (None, 1) or len(chunks) == 1:
            parts = [self._describe(chunk) for chunk in chunks]
        else:
            parts = Parallel(n_jobs=self.n_jobs)(delayed(self._describe)(chunk) for chunk in chunks)
        return np.concatenate(parts).astype(dtype, copy=False)

    def _describe(self, images: np.ndarray) -> np.ndarray:
        """HOG of (n, h, w) images, step by step as in ``skimage.feature.hog`` (same comparisons, same bins)."""
        n, h, w = images.shape
        cell, bins_n = self.pixels_per_cell, self.orientations
        # Central differences, zero on the border rows/columns, in the image's float type...
        g_row = np.zeros_like(images)
        g_col = np.zeros_like(images)
        g_row[:, 1:-1, :] = images[:, 2:, :] - images[:, :-2, :]
        g_col[:, :, 1:-1] = images[:, :, 2:] - images[:, :, :-2]
        # ...then float64, over whole cells only (the pixels past the last whole cell are left out).
        rows, cols = h // cell, w // cell
        g_row = g_row[:, : rows * cell, : cols * cell].astype(np.float64)
        g_col = g_col[:, : rows * cell, : cols * cell].astype(np.float64)
        magnitude = np.hypot(g_col, g_row)
        orientation = np.rad2deg(np.arctan2(g_row, g_col)) % 180
        # Bin i holds i*180/k <= angle < (i+1)*180/k; an angle that rounded up to 180 is in none (bin k, dropped).
        edges = (180.0 / bins_n) * np.arange(1, bins_n + 1)
        bins = (orientation[..., None] >= edges).sum(axis=-1)
        cell_of_pixel = (np.arange(rows * cell) // cell)[:, None] * cols + np.arange(cols * cell) // cell
        index = ((np.arange(n)[:, None, None] * (rows * cols) + cell_of_pixel) * (bins_n + 1) + bins).ravel()
        histogram = np.bincount(index, weights=magnitude.ravel(), minlength=n * rows * cols * (bins_n + 1))
        histogram = histogram.reshape(n, rows, cols, bins_n + 1)[..., :bins_n] / (cell * cell)
        # Overlapping blocks of cells, each normalized with L2-Hys (L2, clip at 0.2, L2 again).
        size = self.cells_per_block
        blocks = np.moveaxis(sliding_window_view(histogram, (size, size), axis=(1, 2)), 3, -1)
        squared_eps = 1e-5**2
        blocks = blocks / np.sqrt((blocks**2).sum(axis=(3, 4, 5), keepdims=True) + squared_eps)
        blocks = np.minimum(blocks, 0.2)
        blocks = blocks / np.sqrt((blocks**2).sum(axis=(3, 4, 5), keepdims=True) + squared_eps)
        return blocks.astype(images.dtype).reshape(n, -1)
