"""Turn any digit picture into the 28x28 MNIST format the models expect.

One function chain serves the app (drawings, photos, scans) and training (augmented
MNIST digits are re-normalized the same way), so the model sees the same kind of input
in both places. Steps: open safely (size limits, EXIF orientation) -> ink map (alpha for
transparent images, polarity from the border, local background removal for photos,
colour-aware) -> Otsu mask without small specks -> crop -> uniform stroke width ->
fit in 20x20 keeping aspect ratio -> centre of mass at the centre of 28x28.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.morphology import skeletonize

from digitrec.errors import InvalidImageError

#: Bump whenever the output of :func:`to_mnist` changes for the same input.
NORMALIZATION_VERSION = "2"
#: Largest image accepted, in pixels (width x height), before any decoding happens.
MAX_IMAGE_PIXELS = int(os.environ.get("DIGITREC_MAX_IMAGE_PIXELS", 40_000_000))
#: Working resolution: inputs are downscaled so their longer side is at most this.
WORK_SIZE = 256
#: Range of stroke widths (pixels, in the 20-pixel box) that MNIST digits span (5th-95th
#: percentile); strokes outside it are redrawn at the nearest bound, others kept as drawn.
STROKE_WIDTH_RANGE = (1.9, 4.8)
#: Components smaller than this fraction of the largest one are specks, not ink.
SPECK_FRACTION = 0.06
#: An image whose ink contrast is below this is considered empty.
MIN_CONTRAST = 0.08

ImageInput = Union[Image.Image, np.ndarray, str, Path, bytes]


def to_mnist(image: ImageInput) -> np.ndarray:
    """Normalize one image (PIL, array, path or bytes) to a (28, 28) float32 ink map in [0, 1].

    Raises :class:`InvalidImageError` with a user-facing message when no digit can be found.
    """
    return mnist_from_ink(ink_map(open_image(image)))


def open_image(image: ImageInput) -> Image.Image:
    """Open an input as a PIL image, enforcing the pixel limit and applying EXIF orientation."""
    if isinstance(image, np.ndarray):
        return _image_from_array(image)
    if isinstance(image, Image.Image):
        _check_size(image.size)
        return image
    if isinstance(image, (bytes, bytearray)):
        if not image:
            raise InvalidImageError("The file is empty (0 bytes).")
        stream, name = io.BytesIO(image), "the upload"
    else:
        path = Path(image)
        if not path.is_file():
            raise InvalidImageError(f"{path.name}: file not found.")
        if path.stat().st_size == 0:
            raise InvalidImageError(f"{path.name}: the file is empty (0 bytes).")
        stream, name = path, path.name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(stream)
            _check_size(img.size)
            img.seek(0)  # first frame of animations
            img.load()
    except InvalidImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImageError(f"{name}: the image is too large to process.") from exc
    except Exception as exc:  # PIL raises many types for corrupt or unknown files
        raise InvalidImageError(
            f"{name}: not a readable image (PNG, JPEG, GIF, BMP, WebP or TIFF expected; "
            "the file may be corrupt or truncated)."
        ) from exc
    return ImageOps.exif_transpose(img)


def ink_map(img: Image.Image) -> np.ndarray:
    """Ink intensity in [0, 1] (1 = ink) of an image, at most ``WORK_SIZE`` on its longer side."""
    img = _downscaled(img)
    if _has_transparency(img):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3]
        # Ink is what is opaque; opaque regions that match the background colour are not.
        return alpha
    rgb = np.asarray(_to_rgb(img), dtype=np.float32) / 255.0
    gray = rgb.mean(axis=2)
    dark_ink = float(np.median(_border(gray))) >= 0.5
    size = max(3, int(round(max(gray.shape) / 6)))
    if dark_ink:  # paper is the local maximum: remove shadows and lighting gradients
        background = ndimage.grey_closing(rgb, size=(size, size, 1))
        ink = (background - rgb).max(axis=2)
    else:
        background = ndimage.grey_opening(rgb, size=(size, size, 1))
        ink = (rgb - background).max(axis=2)
    return np.clip(ink, 0.0, 1.0)


def mnist_from_ink(ink: np.ndarray) -> np.ndarray:
    """MNIST-format (28, 28) float32 image from an ink map of any size (1 = ink)."""
    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim != 2 or min(ink.shape) < 1:
        raise InvalidImageError(f"Expected a 2-D ink map, got shape {ink.shape}.")
    if not np.isfinite(ink).all():
        raise InvalidImageError("The image contains invalid (NaN or infinite) values.")
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise InvalidImageError("No digit found: the image is empty or has no visible ink.")
    ink = ink / peak
    mask = _ink_mask(ink)
    rows, cols = np.nonzero(mask)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    kept = ink * ndimage.binary_dilation(mask, iterations=1)
    return _centred(_fit_20(_stroke_normalized(kept[box], mask[box])))


def _ink_mask(ink: np.ndarray) -> np.ndarray:
    """Binary ink: Otsu threshold (never below a quarter of full ink), small specks removed."""
    level = 0.5
    if ink.min() < ink.max():
        level = max(0.25, min(0.6, float(threshold_otsu(ink))))
    mask = ink >= level
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n > 1:
        areas = np.bincount(labels.ravel())[1:]
        keep = np.flatnonzero(areas >= SPECK_FRACTION * areas.max()) + 1
        mask = np.isin(labels, keep)
    return mask


def _stroke_normalized(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Keep strokes whose width is MNIST-like; redraw others from their skeleton.

    The width is measured as ink area over skeleton length on a 4x version of the
    20-pixel box, so it does not depend on the input resolution. Redrawn strokes are
    anti-aliased by the later downscale.
    """
    scale = 80.0 / max(mask.shape)
    shape = tuple(max(1, int(round(s * scale))) for s in mask.shape)
    big = np.asarray(
        Image.fromarray(mask.astype(np.uint8) * 255).resize(shape[::-1], Image.Resampling.BILINEAR)
    ) >= 128
    skeleton = skeletonize(big) if big.any() else big
    width = big.sum() / max(int(skeleton.sum()), 1) / 4.0
    low, high = STROKE_WIDTH_RANGE
    if low <= width <= high or not skeleton.any():
        return ink
    radius = min(max(width, low), high) * 4.0 / 2.0
    pad = int(np.ceil(radius)) + 2
    distance = ndimage.distance_transform_edt(~np.pad(skeleton, pad))
    return np.clip(radius + 0.5 - distance, 0.0, 1.0).astype(np.float32)


def _fit_20(ink: np.ndarray) -> np.ndarray:
    """Crop to the ink and resize (anti-aliased) so the longer side is 20 pixels."""
    rows, cols = np.nonzero(ink > 0.05)
    ink = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    h, w = ink.shape
    scale = 20.0 / max(h, w)
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    img = Image.fromarray((ink * 255).astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.float32) / 255.0


def _centred(box: np.ndarray) -> np.ndarray:
    """Place a <=20x20 box in 28x28 with its centre of mass at the centre."""
    out = np.zeros((28, 28), dtype=np.float32)
    h, w = box.shape
    top, left = (28 - h) // 2, (28 - w) // 2
    out[top: top + h, left: left + w] = box
    cy, cx = ndimage.center_of_mass(out)
    shifted = ndimage.shift(out, (13.5 - cy, 13.5 - cx), order=1, mode="constant")
    return np.clip(shifted, 0.0, 1.0).astype(np.float32)


def _image_from_array(array: np.ndarray) -> Image.Image:
    """Arrays: 2-D gray, or HxWx3/4; floats in [0, 1] or integers in [0, 255]."""
    a = np.asarray(array)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)) or a.size == 0:
        raise InvalidImageError(f"Expected an HxW, HxWx3 or HxWx4 image array, got shape {a.shape}.")
    _check_size((a.shape[1], a.shape[0]))
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise InvalidImageError("The image contains invalid (NaN or infinite) values.")
        a = np.clip(a * 255.0 if a.max() <= 1.0 else a, 0, 255)
    elif a.dtype.kind not in "biu":
        raise InvalidImageError(f"Unsupported image array type {a.dtype}.")
    a = np.clip(a, 0, 255).astype(np.uint8)
    return Image.fromarray(a)


def _check_size(size: tuple[int, int]) -> None:
    w, h = size
    if w < 1 or h < 1:
        raise InvalidImageError("The image has no pixels.")
    if w * h > MAX_IMAGE_PIXELS:
        raise InvalidImageError(
            f"The image is too large ({w}x{h} pixels); the limit is {MAX_IMAGE_PIXELS:,} pixels."
        )


def _downscaled(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
        img = Image.fromarray(a.astype(np.uint8))
    elif img.mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGBA" if _has_transparency(img) else "RGB")
    if max(img.size) > WORK_SIZE:
        img = img.copy()
        img.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.BOX)
    return img


def _has_transparency(img: Image.Image) -> bool:
    if img.mode == "P":
        return "transparency" in img.info
    if img.mode not in ("RGBA", "LA", "PA"):
        return False
    alpha = np.asarray(img.getchannel("A"))
    return bool((alpha < 128).mean() > 0.01)


def _to_rgb(img: Image.Image) -> Image.Image:
    return img.convert("RGB")


def _border(a: np.ndarray) -> np.ndarray:
    k = max(1, min(a.shape) // 20)
    return np.concatenate([a[:k].ravel(), a[-k:].ravel(), a[:, :k].ravel(), a[:, -k:].ravel()])


def normalize_many(images: np.ndarray, n_jobs: int = -1) -> np.ndarray:
    """:func:`mnist_from_ink` over a stack of uint8 (255 = ink) or float ([0, 1]) images, in parallel.

    Used to bring dataset images (MNIST's own included) into exactly the served format.
    """
    from joblib import Parallel, delayed

    scale = 255.0 if np.asarray(images).dtype == np.uint8 else 1.0

    def run(chunk: np.ndarray) -> np.ndarray:
        return np.stack([mnist_from_ink(image.astype(np.float32) / scale) for image in chunk])

    if len(images) == 0:
        return np.empty((0, 28, 28), np.float32)
    chunks = np.array_split(np.asarray(images), max(1, min(len(images) // 500, 64)))
    return np.concatenate(Parallel(n_jobs=n_jobs)(delayed(run)(c) for c in chunks if len(c)))
