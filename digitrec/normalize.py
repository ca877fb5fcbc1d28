"""Turn any digit picture into the 28x28 MNIST format the models expect.

One function chain serves the app (drawings, photos, scans) and training (augmented
MNIST digits are re-normalized the same way), so the model sees the same kind of input
in both places. Steps: open safely (size limits, EXIF orientation) -> ink map (alpha for
transparent images, polarity from the border, local background removal for photos,
colour-aware) -> rules of ruled or squared paper erased, strokes crossing them kept ->
Otsu mask without small specks -> crop -> uniform stroke width -> fit in 20x20 keeping
aspect ratio -> centre of mass at the centre of 28x28.

Hostile input is refused with :class:`InvalidImageError` before it costs much: the
pixel limit is checked on the header, before anything is decoded; only the formats in
``FORMATS`` are opened; 16-bit and float images are rescaled row block by row block.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.morphology import skeletonize

from digitrec.errors import InvalidImageError, NotADigitError

#: Bump whenever the output of :func:`to_mnist` changes for the same input.
NORMALIZATION_VERSION = "13"
#: Ink that is a dot or a dash, not a digit (see :func:`_dot_or_dash`): sizes in thicknesses
#: of its thickest stroke, and a dash's least width-to-height ratio.
DOT_SIZE, DASH_HEIGHT, DASH_LENGTH = 1.3, 1.7, 3.0
DOT_OR_DASH_MESSAGE = ("No digit found: the ink is only a dot or a dash. Draw or upload a whole digit "
                       "(the first stroke of a 7 or a 5 is not one yet).")
#: Largest image accepted by default, in pixels (width x height); the environment variable
#: ``DIGITREC_MAX_IMAGE_PIXELS`` overrides it (read on use, see :func:`max_image_pixels`).
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
MAX_PIXELS_VARIABLE = "DIGITREC_MAX_IMAGE_PIXELS"
#: Image formats opened (PIL format names); others are refused before decoding.
#: EPS in particular is never opened: PIL decodes it by running Ghostscript.
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "DIB", "WEBP", "TIFF")
#: Working resolution: inputs are downscaled so their longer side is at most this.
WORK_SIZE = 256
#: Range of stroke widths (pixels, in the 20-pixel box) that MNIST digits span (5th-95th
#: percentile); strokes outside it are redrawn at the nearest bound, others kept as drawn.
STROKE_WIDTH_RANGE = (1.9, 4.8)
#: Components smaller than this fraction of the largest one are specks, not ink.
SPECK_FRACTION = 0.06
#: Served single digits: marks farther than this fraction of the main mark's larger side
#: from its box are not part of the digit (see :func:`_stray_marks`).
STRAY_GAP = 0.35
#: Marks touching the image's edge count with this share of their area when choosing
#: the main mark (see :func:`_stray_marks`).
EDGE_MARK_WEIGHT = 0.5
#: Border gray-level spread (95th - 5th percentile) under which the background is taken as
#: one flat colour rather than removed locally (which suits photos with uneven lighting).
FLAT_BORDER = 0.1
#: Border pixels farther than this from the border's median gray are ink that reaches the
#: edge (a large or cropped digit), left out when judging whether the paper is flat.
INK_FROM_PAPER = 0.25
#: Photos: ink is dark when the border (paper) is lighter than mid-gray by at least this,
#: light when darker by as much; in between (dim paper, a gray board) the pixels decide.
POLARITY_MARGIN = 0.1
#: Ink differing from an even border by less than ``UNEVEN_PAPER_CONTRAST`` (0-1) and
#: covering more than ``MAX_INK_SHARE`` of the image is the paper itself, lit unevenly
#: (its middle differs from its border): such images are read as photos. Bold digits
#: filling the image are dark enough to stay on the even-paper path.
MAX_INK_SHARE = 0.25
UNEVEN_PAPER_CONTRAST = 0.5
#: An image whose ink contrast is below this is considered empty.
MIN_CONTRAST = 0.08
#: Ink values spanning less than this (of the ink map's [0, 1]) are flat: no threshold to find.
FLAT_RANGE = 1e-3
#: Transparent images: opaque pixels differing from the colour at the opaque region's rim
#: by more than this (any channel, 0-1) are marks drawn *on* an opaque card...
MARK_CONTRAST = 0.1
#: ...and when at least this fraction of the opaque pixels are such marks, the opaque region
#: is a card (sticker, cut-out photo) to read the digit from, not the strokes themselves.
MIN_MARK_FRACTION = 0.005
#: ...unless the marks and the rim are intertwined: at least ``HALO_SHARE`` of the rim lies
#: within ``HALO`` pixels of a mark, or of the marks within ``HALO`` pixels of the transparent
#: area. Then the opaque pixels are strokes with anti-aliased edges cut out with binary alpha
#: (a glyph in a GIF): a light halo round a dark glyph, or grey pixels along the edges of one
#: drawn in a single colour. A card's marks lie inside it, away from most of its rim.
HALO, HALO_SHARE = 2, 0.5
#: Ruled and squared paper: a rule is a straight line of ink across at least ``RULE_SPAN`` of
#: the image's width (or height), at most ``RULE_THICKNESS`` times as thick as the strokes
#: (a digit's own bars are drawn with the pen that drew the rest of it) and ``RULE_WIDTH`` of
#: the image's shorter side (printed rules are fine lines).
RULE_SPAN, RULE_THICKNESS, RULE_WIDTH = 0.9, 0.5, 0.03
#: Steepest rules looked for, in rows per column (about 5 degrees): paper photographed a little
#: askew. Rules are searched along slopes this far either way (see :func:`_rule_slope`).
MAX_RULE_SLOPE = 0.0875
#: Columns a rule's slope is measured on, about (every so many of a wider image's).
RULE_COLUMNS = 128
#: Rows per block when rescaling 16-bit, 32-bit or float images (bounds the float64 copy).
_ROWS_PER_BLOCK = 256

ImageInput = Union[Image.Image, np.ndarray, str, Path, bytes]


def max_image_pixels() -> int:
    """The pixel limit in force: ``DIGITREC_MAX_IMAGE_PIXELS`` if set, else the default.

    Read on each use, parsed like :mod:`digitrec.settings` does, so a bad value raises
    :class:`~digitrec.settings.SettingsError` naming the variable (and importing digitrec
    never fails because of it). Assigning ``normalize.MAX_IMAGE_PIXELS`` overrides both.
    """
    override = globals().get("MAX_IMAGE_PIXELS")
    if override is not None:
        return int(override)
    from digitrec.settings import _int  # same parsing and messages as Settings.from_env

    raw = os.environ.get(MAX_PIXELS_VARIABLE, "").strip()
    env = {MAX_PIXELS_VARIABLE: raw} if raw else {}
    return _int(env, MAX_PIXELS_VARIABLE, DEFAULT_MAX_IMAGE_PIXELS, low=1)


def __getattr__(name: str):
    # ``normalize.MAX_IMAGE_PIXELS`` keeps working for readers (serving.py), read lazily.
    if name == "MAX_IMAGE_PIXELS":
        return max_image_pixels()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def to_mnist(image: ImageInput) -> np.ndarray:
    """Normalize one image (PIL, array, path or bytes) to a (28, 28) float32 ink map in [0, 1].

    Raises :class:`InvalidImageError` with a user-facing message when no digit can be found,
    :class:`NotADigitError` when the ink is only a dot or a dash (:func:`_dot_or_dash`).
    """
    ink = scaled_ink(ink_map(open_image(image)))
    mask = _ink_mask(ink)
    if _dot_or_dash(mask):
        raise NotADigitError(DOT_OR_DASH_MESSAGE)
    stray = _stray_marks(mask)
    if stray is None:
        return _mnist_from_mask(ink, mask)
    return mnist_from_ink(np.where(stray, 0, ink))  # thresholded again, without them


def _dot_or_dash(mask: np.ndarray) -> bool:
    """Whether the ink is a dot (at most ``DOT_SIZE`` times its thickest stroke across) or a
    dash (at most ``DASH_HEIGHT`` times it tall, and ``DASH_LENGTH`` times as wide as tall):
    a tap of the pen, a single pixel, the first stroke of a 7. Stretched into the 20x20 box,
    a dot read as a 0 at 98%.

    The thickness is the widest inscribed disc, which junctions and bold strokes only widen.
    No MNIST digit, training or test, is either (the closest are blobs 1.5 times their
    thickness across, and flat ones 1.8 times it tall).
    """
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    height, width = rows[-1] + 1 - rows[0], cols[-1] + 1 - cols[0]
    # no disc wider than the ink's box plus one fits: most digits are neither, and skip the transform
    if max(height, width) > DOT_SIZE * (min(height, width) + 1) and width < DASH_LENGTH * height:
        return False
    box = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]  # the paper around it is only farther
    thickness = 2.0 * float(ndimage.distance_transform_edt(np.pad(box, 1)).max())
    return (max(height, width) <= DOT_SIZE * thickness
            or (height <= DASH_HEIGHT * thickness and width >= DASH_LENGTH * height))


def _stray_marks(mask: np.ndarray) -> np.ndarray | None:
    """Where the marks far from the main one are, with their rims; None if there are none.

    The main mark is the largest, counting marks that touch the image's edge at
    ``EDGE_MARK_WEIGHT`` of their area: a shadow's or vignette's edge ends there, a
    digit rarely does.

    Such marks are a shadow's edge, paper texture, a stray dot. A digit's strokes lie
    close together even when broken (the bar of a 5, the stem of a 4); ink more than
    ``STRAY_GAP`` of the digit's size away from the main mark would otherwise be framed
    with it and shrink the digit. Only served single digits are cleaned so: whole numbers
    (:mod:`digitrec.segment`) need every mark, and training images (:func:`mnist_from_ink`)
    are unchanged.
    """
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n <= 1:
        return None
    boxes = ndimage.find_objects(labels)
    weight = np.bincount(labels.ravel())[1:].astype(float)
    height, width = mask.shape
    weight[[r.start == 0 or c.start == 0 or r.stop == height or c.stop == width for r, c in boxes]] *= EDGE_MARK_WEIGHT
    rows, cols = boxes[int(weight.argmax())]
    reach = STRAY_GAP * max(rows.stop - rows.start, cols.stop - cols.start)
    far = [index for index, (r, c) in enumerate(boxes, start=1)
           if max(r.start - rows.stop, rows.start - r.stop, c.start - cols.stop, cols.start - c.stop) > reach]
    if not far:
        return None
    # Their faint anti-aliased rims go too: the threshold leaves them just outside the mask.
    return ndimage.binary_dilation(np.isin(labels, far), iterations=2)


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
        stream, name = io.BytesIO(image), "The upload"
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
            with Image.open(stream, formats=FORMATS) as opened:
                _check_size(opened.size)  # header only: nothing is decoded yet
                opened.seek(0)  # first frame of animations
                opened.load()
                img = upright(opened)
    except InvalidImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImageError(
            f"{name}: the image is too large; the limit is {max_image_pixels():,} pixels."
        ) from exc
    except Exception as exc:  # PIL raises many types for corrupt or unknown files
        raise InvalidImageError(
            f"{name}: not a readable image (PNG, JPEG, GIF, BMP, WebP or TIFF expected; "
            "the file may be corrupt or truncated)."
        ) from exc
    return img


def upright(img: Image.Image) -> Image.Image:
    """``img`` turned upright per its EXIF orientation; as it is if the EXIF is unreadable.

    Transposes in place (no copy of the decoded pixels when there is nothing to turn).
    """
    try:
        ImageOps.exif_transpose(img, in_place=True)
    except Exception:  # a malformed EXIF block should not make a readable image unreadable
        pass
    return img


def ink_map(img: Image.Image, work_size: int = WORK_SIZE) -> np.ndarray:
    """Ink intensity in [0, 1] (1 = ink) of an image, at most ``work_size`` on its longer side.

    Transparent images: when the opaque pixels are strokes of one colour (the sketchpad:
    black strokes on transparent black), the ink is the alpha channel. When the opaque
    region holds marks of another colour (a white card with a dark digit, a cut-out photo),
    the card is extended under the transparent area and read like an opaque image.
    """
    img = _downscaled(img, work_size)
    if _has_transparency(img):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3]
        opaque = _card_region(rgba)
        if opaque is None:
            return alpha  # strokes: ink is what is opaque
        # Extend the card over the transparent area (each pixel takes the colour of the
        # nearest card pixel), so that its outline and the card's shading leave no edges.
        nearest = ndimage.distance_transform_edt(~opaque, return_distances=False, return_indices=True)
        behind = rgba[..., :3][tuple(nearest)]
        pixels = rgba[..., :3] * alpha[..., None] + behind * (1.0 - alpha[..., None])
    else:
        pixels = np.asarray(img if img.mode == "L" else _to_rgb(img))
    return _without_rules(_colour_ink(pixels))


def _without_rules(ink: np.ndarray) -> np.ndarray:
    """``ink`` without the lines of ruled or squared paper (see ``RULE_SPAN``), strokes kept whole.

    Left in, the rules framed the digit in a box of lines, read as not a digit. They are told
    from a digit's own long bars (a 7's top, a 2's base, in a tight crop) by being thinner than
    its strokes (see :func:`_stroke_width`).
    Where a stroke crosses a rule, its pixels on the rule are kept (see :func:`_erased`).
    Paper photographed askew has sloping rules: each direction's are erased in a frame sheared
    by their slope (:func:`_rule_slope`), where they run straight along the rows.
    Only paper is searched: sketchpad strokes (ink from alpha) have none.
    """
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        return ink
    level = 0.5 * ink_level(ink / peak) * peak  # half the ink threshold: the rules' faint rims too
    row_slope, col_slope = _rule_slope(ink, level), _rule_slope(ink.T, level)
    if row_slope is None and col_slope is None:
        return ink
    limit = min(RULE_THICKNESS * _stroke_width(ink >= 2.0 * level), RULE_WIDTH * min(ink.shape))
    if row_slope is not None:
        ink = _without_row_rules(ink, row_slope, level, limit)
    if col_slope is not None:
        ink = _without_row_rules(ink.T, col_slope, level, limit).T
    return ink


def _rule_slope(ink: np.ndarray, level: float) -> float | None:
    """The slope (rows per column, at most ``MAX_RULE_SLOPE`` either way) of the lines of ink
    (above ``level``) across ``RULE_SPAN`` of the width, or None when there are none.

    Cheap when there are none, the usual case: the ink does not reach across that share of
    the width, or no strip as tall as the steepest line's rise does. Otherwise each slope is
    scored by how much ink lines up along it (the sum of squares of the sheared rows' ink) on
    about ``RULE_COLUMNS`` columns: that of parallel rules peaks at theirs, level rules at
    exactly 0. Lines are found on a three-row band, so slopes a row over the width apart find
    every line.
    """
    band = ndimage.maximum_filter1d(ink, 3, axis=0) >= level
    width = ink.shape[1]
    if np.count_nonzero(band.any(axis=0)) < RULE_SPAN * width:
        return None
    rise = int(np.ceil(MAX_RULE_SLOPE * width)) + 1
    strips = ndimage.maximum_filter1d(band, rise, axis=0)
    if (strips.sum(axis=1) < RULE_SPAN * width).all():
        return None
    stride = max(1, width // RULE_COLUMNS)
    rows, cols = np.nonzero(band[:, ::stride])
    cols *= stride
    span = RULE_SPAN * width / stride - 1  # the columns sampled a line crosses, at least
    steps = int(MAX_RULE_SLOPE * width / 2.0)
    best, best_score = None, 0.0
    for slope in sorted(2.0 * np.arange(-steps, steps + 1) / width, key=abs):
        shifted = rows - np.round(slope * cols).astype(np.intp)
        counts = np.bincount(shifted - shifted.min())
        score = float(np.dot(counts, counts))
        if counts.max() >= span and score > best_score:
            best, best_score = float(slope), score
    return best


def _without_row_rules(ink: np.ndarray, slope: float, level: float, limit: float) -> np.ndarray:
    """``ink`` without its rules running at ``slope`` along the rows, found and erased (see
    :func:`_long_lines`, :func:`_rule_bands`, :func:`_erased`) where a shear makes them level.
    The shear moves whole columns up or down, so strokes crossing a rule still cross it upright."""
    rows = np.arange(ink.shape[0])[:, None] - np.round(slope * np.arange(ink.shape[1])).astype(np.intp)
    rows -= rows.min()
    cols = np.broadcast_to(np.arange(ink.shape[1]), ink.shape)
    sheared = np.zeros((int(rows.max()) + 1, ink.shape[1]), ink.dtype)
    sheared[rows, cols] = ink
    lines = _long_lines(sheared, level)
    return _erased(sheared, _rule_bands(lines, sheared < level, limit), limit)[rows, cols]


def _long_lines(ink: np.ndarray, level: float) -> np.ndarray:
    """Pixels of the straight horizontal lines of ink (above ``level``) across ``RULE_SPAN`` of the width.

    A line is a run that long on one row of a three-row band, so that one sloping by a row or
    two over the width (a staircase of shorter runs) is still one line. The run passes under
    the strokes crossing it, whose ink is at least the line's; a digit's own bars are shorter.
    """
    band = ndimage.maximum_filter1d(ink, 3, axis=0)
    span = max(2, int(np.ceil(RULE_SPAN * ink.shape[1])))
    return np.minimum(ndimage.grey_opening(band, size=(1, span), mode="constant"), ink) >= level


def _stroke_width(mask: np.ndarray) -> float:
    """The width of a mask's strokes, in pixels: twice the 95th percentile of its pixels' distance
    to the paper (a straight stroke's pixels lie up to half its width inside). Rules, thinner,
    only lower the percentile when they outweigh the digit many times over."""
    return 2.0 * float(np.percentile(ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1][mask], 95))


def _rule_bands(lines: np.ndarray, paper: np.ndarray, limit: float) -> np.ndarray:
    """Where the rules among horizontal ``lines`` lie, each as a band of its thickness and a pixel
    of rim each side.

    A rule is alone on the ``paper`` (paper right above and below it) in at least a quarter of its
    columns, where it is at most ``limit`` pixels thick (the median). A straight strip inside a
    slanted stroke, or a digit's bar, is not. The band follows the rule's middle row where it is
    alone, and runs straight across the other columns (strokes crossing it or lying along it):
    their pixels on the rule are erased and bridged (:func:`_erased`), those off it kept.
    """
    bands = np.zeros_like(lines)
    labels, _ = ndimage.label(lines, structure=np.ones((3, 3)))
    for index, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        top, bottom = max(0, rows.start - 2), min(lines.shape[0], rows.stop + 2)
        line = labels[top:bottom, cols] == index
        inked = ~paper[top:bottom, cols]
        ink_above = line[1:] & inked[:-1] & ~line[:-1]  # ink right above the line's top row
        ink_below = line[:-1] & inked[1:] & ~line[1:]  # and right below its bottom row
        alone = np.flatnonzero(~(ink_above | ink_below).any(axis=0))
        counts = line.sum(axis=0)[alone]
        if 4 * alone.size < line.shape[1] or np.median(counts) > limit:
            continue
        thickness = float(np.median(counts))
        below = np.cumsum(line[:, alone], axis=0)  # the median row, not misled by a stray pixel
        middle = (np.argmax(below >= counts / 2.0, axis=0) + np.argmax(below >= counts / 2.0 + 1, axis=0)) / 2.0
        centre = np.interp(np.arange(line.shape[1]), alone, middle)
        y = np.arange(line.shape[0])[:, None]
        bands[top:bottom, cols] |= np.abs(y - centre) <= thickness / 2.0 + 1.0
    return bands


def _erased(ink: np.ndarray, bands: np.ndarray, limit: float) -> np.ndarray:
    """``ink`` with the horizontal rule ``bands`` (at most ``limit`` + 3 pixels tall) erased,
    except where a stroke crosses them: there the ink on both sides bridges the band (a
    vertical closing)."""
    if not bands.any():
        return ink
    bridged = ndimage.grey_closing(ink * ~bands, size=(int(limit) + 4, 1))
    return np.where(bands, bridged, ink)


def _colour_ink(pixels: np.ndarray) -> np.ndarray:
    """Ink of an opaque image: polarity from the border (or the pixels), local background removed.

    ``pixels``: float RGB in [0, 1] (H, W, 3), or 8-bit RGB (H, W, 3) or gray (H, W), which
    give exactly the float result of their RGB (gray: three equal channels), faster: the
    morphology runs on the 8-bit values (min and max commute with dividing by 255) and on
    one channel instead of three for gray.
    """
    exact = pixels.dtype != np.uint8
    rgb = pixels if exact else pixels.astype(np.float32) / 255.0
    rgb3 = rgb if rgb.ndim == 3 else rgb[..., None]
    border_pixels = _border_pixels(rgb3)
    border = border_pixels.mean(axis=1)  # gray level of each border pixel
    paper_gray = float(np.median(border))
    paper_side = border[np.abs(border - paper_gray) < INK_FROM_PAPER]  # ink touching the edge left out
    if (2 * paper_side.size >= border.size
            and float(np.percentile(paper_side, 95) - np.percentile(paper_side, 5)) < FLAT_BORDER):
        # Even paper or screen (scans, PNGs, MNIST itself): the background is one colour, so
        # ink is the distance from it. Local background removal would hollow thick strokes.
        paper = np.median(border_pixels, axis=0)
        ink = np.clip(_channel_max(np.abs(rgb3 - paper)), 0.0, 1.0)
        if float(ink.max()) >= UNEVEN_PAPER_CONTRAST or _ink_share(ink) <= MAX_INK_SHARE:
            return ink
        # Faint "ink" over much of the image: the paper is not one colour after all (lit
        # unevenly, a vignette evening out the border), its middle differs from the border.
    # Photos: sensor and paper grain first. The background below is a local extreme, which
    # would otherwise sit at the top of the grain and turn all of it into faint ink.
    pixels = _median_3x3(pixels)
    rgb = pixels if exact else pixels.astype(np.float32) / 255.0
    size = max(3, int(round(max(rgb.shape[:2]) / 6)))
    footprint = (size, size, 1) if pixels.ndim == 3 else (size, size)
    if abs(paper_gray - 0.5) >= POLARITY_MARGIN:
        dark_ink = paper_gray > 0.5
    else:  # dim paper or a light board: the ink is the longer tail around the local mean
        gray = rgb.mean(axis=2) if rgb.ndim == 3 else rgb
        off_local_mean = gray - ndimage.uniform_filter(gray, size=size, mode="nearest")
        dark_ink = np.percentile(-off_local_mean, 99.5) > np.percentile(off_local_mean, 99.5)
    if dark_ink:  # paper is the local maximum: remove shadows and lighting gradients
        background = ndimage.grey_closing(pixels, size=footprint)
        ink = _channel_max((background if exact else background.astype(np.float32) / 255.0) - rgb)
    else:
        background = ndimage.grey_opening(pixels, size=footprint)
        ink = _channel_max(rgb - (background if exact else background.astype(np.float32) / 255.0))
    return np.clip(ink, 0.0, 1.0)


def _ink_share(ink: np.ndarray) -> float:
    """The fraction of an ink map that is ink at its :func:`ink_level` threshold (0 without ink)."""
    peak = float(ink.max())
    return float((ink >= ink_level(ink / peak) * peak).mean()) if peak > 0 else 0.0


def _median_3x3(a: np.ndarray) -> np.ndarray:
    """Separable 3x3 median (3 rows, then 3 columns; edges repeated) of an image's first two axes.

    Removes grain a pixel or two wide and keeps edges and strokes. The same values as
    ``scipy.ndimage.median_filter`` over 3x1 then 1x3 windows (``mode="nearest"``), in
    about 0.2 ms at the working size instead of about 18 ms (40 ms for the full 3x3 median).
    """
    for _ in range(2):  # rows, then (transposed) columns
        padded = np.concatenate([a[:1], a, a[-1:]])
        before, middle, after = padded[:-2], padded[1:-1], padded[2:]
        a = np.maximum(np.minimum(before, middle), np.minimum(np.maximum(before, middle), after)).swapaxes(0, 1)
    return np.ascontiguousarray(a)


def _border_pixels(rgb: np.ndarray) -> np.ndarray:
    """The (n, channels) pixels of the border strips, ``1/20`` of the shorter side wide."""
    k = max(1, min(rgb.shape[:2]) // 20)
    return np.concatenate([rgb[:k].reshape(-1, rgb.shape[2]), rgb[-k:].reshape(-1, rgb.shape[2]),
                           rgb[:, :k].reshape(-1, rgb.shape[2]), rgb[:, -k:].reshape(-1, rgb.shape[2])])


def _channel_max(a: np.ndarray) -> np.ndarray:
    """``a.max(axis=2)`` for (H, W, C) (the same values, without numpy's slow short-axis reduction); 2-D as is."""
    if a.ndim == 2:
        return a
    out = a[..., 0].copy()
    for c in range(1, a.shape[2]):
        np.maximum(out, a[..., c], out=out)
    return out


def _card_region(rgba: np.ndarray) -> np.ndarray | None:
    """The opaque card of a transparent image (a boolean mask), or None if the opaque pixels are strokes.

    The opaque region is a card when enough of its pixels differ from the median colour of
    its rim (opaque pixels next to transparent ones or to the image edge): marks drawn on
    it, away from most of its rim (see ``HALO``). A flat alpha channel (a uniformly
    translucent image) has no shape: all card.
    """
    alpha = rgba[..., 3]
    peak = float(alpha.max())
    if peak < MIN_CONTRAST:
        return None  # fully transparent: nothing to read
    opaque = alpha >= 0.5 * peak
    if peak - float(alpha.min()) < MIN_CONTRAST:
        return opaque
    rim = opaque & ~ndimage.binary_erosion(opaque, border_value=0)
    colour = np.median(rgba[..., :3][rim], axis=0)
    marks = opaque & (np.abs(rgba[..., :3] - colour).max(axis=2) > MARK_CONTRAST)
    if marks.sum() < MIN_MARK_FRACTION * opaque.sum():
        return None
    edges = ~ndimage.binary_erosion(opaque, iterations=HALO, border_value=0)
    halo = max(ndimage.binary_dilation(marks, iterations=HALO)[rim].mean(), marks[edges].sum() / marks.sum())
    return None if halo >= HALO_SHARE else opaque


def scaled_ink(ink: np.ndarray, empty_message: str = "No digit found: the image is empty or has no visible ink."
               ) -> np.ndarray:
    """A checked 2-D ink map scaled so its strongest ink is 1; ``empty_message`` when there is none."""
    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim != 2 or min(ink.shape) < 1:
        raise InvalidImageError(f"Expected a 2-D ink map, got shape {ink.shape}.")
    if not np.isfinite(ink).all():
        raise InvalidImageError("The image contains invalid (NaN or infinite) values.")
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise InvalidImageError(empty_message)
    return ink / peak


def mnist_from_ink(ink: np.ndarray) -> np.ndarray:
    """MNIST-format (28, 28) float32 image from an ink map of any size (1 = ink)."""
    ink = scaled_ink(ink)
    return _mnist_from_mask(ink, _ink_mask(ink))


def _mnist_from_mask(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """:func:`mnist_from_ink` of a scaled ink map whose :func:`_ink_mask` is ``mask``."""
    box = _bounding_box(mask)
    # The mask is empty outside its bounding box, so dilating the box alone is exact.
    kept = ink[box] * ndimage.binary_dilation(mask[box], iterations=1)
    return _centred(_fit_20(_stroke_normalized(kept, mask[box])))


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns spanned by the true pixels of a 2-D mask (which has some)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def ink_level(ink: np.ndarray) -> float:
    """The ink threshold of an ink map scaled to [0, 1]: Otsu's, kept within 0.25-0.6 (0.5 if
    flat: values within ``FLAT_RANGE`` of each other).

    The histogram is the one ``threshold_otsu(ink)`` makes (256 bins over the ink's range,
    each value in the same bin), computed with numpy's equal-width binning: skimage passes
    numpy the bin edges, which makes it sort the pixels, several times slower.
    """
    low, high = ink.min(), ink.max()
    if float(high) - float(low) < FLAT_RANGE:  # no contrast (and too narrow for 256 float32 bins)
        return 0.5
    counts, edges = np.histogram(ink, bins=256, range=(low, high))
    return max(0.25, min(0.6, float(threshold_otsu(hist=(counts, (edges[:-1] + edges[1:]) / 2.0)))))


def _ink_mask(ink: np.ndarray) -> np.ndarray:
    """Binary ink: :func:`ink_level` threshold, small specks removed."""
    mask = ink >= ink_level(ink)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n > 1:
        areas = np.bincount(labels.ravel())[1:]
        kept = np.concatenate([[False], areas >= SPECK_FRACTION * areas.max()])
        mask = kept[labels]
    return mask


def _stroke_normalized(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Keep strokes whose width is MNIST-like; thin thicker ones, redraw thinner ones.

    The width is measured as ink area over skeleton length on a 4x version of the
    20-pixel box, so it does not depend on the input resolution. Too thick: the ink is
    eroded evenly to the widest MNIST-like width, which keeps the glyph's shape (a
    redraw from the skeleton of a bold glyph distorts it). Too thin: redrawn from the
    skeleton at the narrowest. Both are anti-aliased by the later downscale.
    """
    scale = 80.0 / max(mask.shape)
    shape = tuple(max(1, int(round(s * scale))) for s in mask.shape)
    source = Image.fromarray(mask.astype(np.uint8) * 255)
    if scale >= 1:
        big = np.asarray(source.resize(shape[::-1], Image.Resampling.BILINEAR)) >= 128
    else:  # shrinking: average areas and keep any pixel a stroke crosses, so thin lines survive
        big = np.asarray(source.resize(shape[::-1], Image.Resampling.BOX)) >= max(1.0, 128 * scale)
    skeleton = skeletonize(big) if big.any() else big
    width = big.sum() / max(int(skeleton.sum()), 1) / 4.0
    low, high = STROKE_WIDTH_RANGE
    if low <= width <= high or not skeleton.any():
        return ink
    if width > high:  # distance of each ink pixel to the paper, minus half the excess width
        inside = ndimage.distance_transform_edt(np.pad(big, 2))
        thinned = np.clip(inside - (width - high) * 4.0 / 2.0, 0.0, 1.0).astype(np.float32)
        if thinned.max() >= 0.5:  # else the ink was all hairlines and dots: redraw it instead
            return thinned
    radius = min(max(width, low), high) * 4.0 / 2.0
    pad = int(np.ceil(radius)) + 2
    distance = ndimage.distance_transform_edt(~np.pad(skeleton, pad))
    return np.clip(radius + 0.5 - distance, 0.0, 1.0).astype(np.float32)


def _fit_20(ink: np.ndarray) -> np.ndarray:
    """Crop to the ink and resize (anti-aliased) so the longer side is 20 pixels."""
    ink = ink[_bounding_box(ink > 0.05)]
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
        a = np.clip(a, 0.0, 1.0) * 255.0 if a.max() <= 1.0 else np.clip(a, 0, 255)
    elif a.dtype.kind not in "biu":
        raise InvalidImageError(f"Unsupported image array type {a.dtype}.")
    a = np.clip(a, 0, 255).astype(np.uint8)
    return Image.fromarray(a)


def _check_size(size: tuple[int, int]) -> None:
    w, h = size
    if w < 1 or h < 1:
        raise InvalidImageError("The image has no pixels.")
    limit = max_image_pixels()
    if w * h > limit:
        raise InvalidImageError(f"The image is too large ({w}x{h} pixels); the limit is {limit:,} pixels.")


def _downscaled(img: Image.Image, work_size: int = WORK_SIZE) -> Image.Image:
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        img = _rescaled_to_8_bit(img)
    elif img.mode not in ("L", "LA", "RGB", "RGBA"):
        try:
            if img.mode in ("La", "RGBa"):  # premultiplied alpha
                img = img.convert(img.mode[:-1] + "A")
            img = img.convert("RGBA" if _has_transparency(img) else "RGB")
        except (ValueError, OSError) as exc:  # e.g. LAB or HSV, which PIL cannot convert to RGB
            raise InvalidImageError(f"Unsupported image colour mode {img.mode}.") from exc
    if max(img.size) > work_size:
        # What ``img.copy().thumbnail((work_size, work_size), BOX)`` gives, without the copy.
        img = img.resize(_thumbnail_size(img.size, work_size), Image.Resampling.BOX, reducing_gap=2.0)
    return img


def _thumbnail_size(size: tuple[int, int], work_size: int = WORK_SIZE) -> tuple[int, int]:
    """The size ``Image.thumbnail((work_size, work_size))`` gives an image of ``size`` (Pillow's rounding)."""
    width, height = size
    x = y = work_size
    aspect = width / height
    if x / y >= aspect:
        x = max(min(math.floor(y * aspect), math.ceil(y * aspect), key=lambda n: abs(aspect - n / y)), 1)
    else:
        y = max(min(math.floor(x / aspect), math.ceil(x / aspect),
                    key=lambda n: 0 if n == 0 else abs(aspect - x / n)), 1)
    return x, y


def _rescaled_to_8_bit(img: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float image stretched to 8-bit gray (min -> 0, max -> 255).

    Works on blocks of rows, so a large image never has a full float64 copy.
    """
    a = np.asarray(img)
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise InvalidImageError("The image contains invalid (NaN or infinite) values.")
    lo, hi = float(a.min()), float(a.max())
    out = np.zeros(a.shape, dtype=np.uint8)
    if hi > lo:
        for start in range(0, a.shape[0], _ROWS_PER_BLOCK):
            block = a[start: start + _ROWS_PER_BLOCK].astype(np.float64)
            out[start: start + _ROWS_PER_BLOCK] = ((block - lo) / (hi - lo) * 255).astype(np.uint8)
    return Image.fromarray(out)


def _has_transparency(img: Image.Image) -> bool:
    if img.mode == "P":
        return "transparency" in img.info
    if img.mode not in ("RGBA", "LA", "PA"):
        return False
    alpha = np.asarray(img.getchannel("A"))
    return bool((alpha < 128).mean() > 0.01)


def _to_rgb(img: Image.Image) -> Image.Image:
    return img.convert("RGB")


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
