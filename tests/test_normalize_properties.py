"""Property-based tests of the normalization and the number reader: any image in, a valid
model input (or reading) or InvalidImageError out.

Images of arbitrary size (1..600 pixels a side), mode and pixel values are built from a
small hypothesis-drawn array (so that failures shrink to a few pixels) stretched to the
drawn size, or from seeded noise; some go through an encoded file (PNG or TIFF) first.
"""

from __future__ import annotations

import io
import os
from datetime import timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from digitrec.errors import InvalidImageError
from digitrec.normalize import mnist_from_ink, to_mnist
from digitrec.segment import read_number, several_digits

MODES = ["L", "LA", "RGB", "RGBA", "P", "I;16", "F", "CMYK", "1"]
CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "P": 1, "I;16": 1, "F": 1, "CMYK": 4, "1": 1}
#: Modes PNG can hold; the others (F, CMYK) are encoded as TIFF.
PNG_MODES = {"L", "LA", "RGB", "RGBA", "P", "I;16", "1"}

PROPERTY_SETTINGS = settings(
    # A few seconds and the same examples on every run in CI; DIGITREC_HYPOTHESIS_EXAMPLES=2000
    # for a longer hunt over new random examples (a case found goes into a plain test).
    max_examples=int(os.environ.get("DIGITREC_HYPOTHESIS_EXAMPLES", 120)),
    derandomize="DIGITREC_HYPOTHESIS_EXAMPLES" not in os.environ,
    deadline=timedelta(seconds=5),  # one image takes tens of ms: this only catches hangs
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _elements(mode: str):
    if mode == "F":
        return st.floats(width=32, allow_nan=True, allow_infinity=True)
    if mode == "I;16":
        return st.integers(0, 65535)
    if mode == "1":
        return st.booleans()
    return st.integers(0, 255)


def _dtype(mode: str):
    return {"F": np.float32, "I;16": np.uint16, "1": np.bool_}.get(mode, np.uint8)


def _stretched(base: np.ndarray, height: int, width: int) -> np.ndarray:
    """``base`` (h, w, c) resized to (height, width, c) by repeating its pixels."""
    rows = np.arange(height) * base.shape[0] // height
    cols = np.arange(width) * base.shape[1] // width
    return base[rows][:, cols]


def _noise(mode: str, shape: tuple[int, int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if mode == "F":
        return (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 30)).astype(np.float32)
    if mode == "I;16":
        return rng.integers(0, 65536, shape, dtype=np.uint16)
    if mode == "1":
        return rng.random(shape) < 0.5
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _pil(mode: str, pixels: np.ndarray, palette: bytes, transparency: int | None) -> Image.Image:
    h, w, _ = pixels.shape
    if mode in ("L", "I;16", "F", "1"):
        image = Image.fromarray(np.ascontiguousarray(pixels[..., 0]))
        assert image.mode == mode, image.mode
        return image
    image = Image.frombytes(mode, (w, h), np.ascontiguousarray(pixels).tobytes())
    if mode == "P":
        image.putpalette(palette)
        if transparency is not None:
            image.info["transparency"] = transparency
    return image


@st.composite
def images(draw) -> Image.Image:
    mode = draw(st.sampled_from(MODES))
    width, height = draw(st.integers(1, 600)), draw(st.integers(1, 600))
    channels = CHANNELS[mode]
    if draw(st.booleans()):  # arbitrary values, in blocks
        base_h, base_w = draw(st.integers(1, min(height, 8))), draw(st.integers(1, min(width, 8)))
        base = draw(arrays(_dtype(mode), (base_h, base_w, channels), elements=_elements(mode)))
        pixels = _stretched(base, height, width)
    else:  # per-pixel noise
        pixels = _noise(mode, (height, width, channels), draw(st.integers(0, 2**32 - 1)))
    palette = draw(st.binary(min_size=768, max_size=768)) if mode == "P" else b""
    transparency = draw(st.none() | st.integers(0, 255)) if mode == "P" else None
    return _pil(mode, pixels, palette, transparency)


def _encoded(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG" if image.mode in PNG_MODES else "TIFF")
    return buffer.getvalue()


def _assert_valid_model_input(result: np.ndarray) -> None:
    assert isinstance(result, np.ndarray)
    assert result.shape == (28, 28) and result.dtype == np.float32
    assert np.isfinite(result).all()
    assert result.min() >= 0.0 and result.max() <= 1.0


@PROPERTY_SETTINGS
@given(image=images(), encode=st.booleans())
def test_any_image_gives_a_model_input_or_invalid_image_error(image, encode):
    source = _encoded(image) if encode else image
    try:
        result = to_mnist(source)
    except InvalidImageError as exc:
        assert str(exc)  # a message for the user, never empty
        return
    _assert_valid_model_input(result)


@PROPERTY_SETTINGS
@given(
    array=st.one_of(
        arrays(st.sampled_from([np.uint8, np.uint16, np.int32, np.int64, np.float32, np.float64, np.bool_]),
               st.tuples(st.integers(1, 40), st.integers(1, 40))),
        arrays(st.sampled_from([np.uint8, np.float32]),
               st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 2, 3, 4, 5]))),
        arrays(np.float64, st.integers(0, 5)),  # wrong number of dimensions
    )
)
def test_any_array_gives_a_model_input_or_invalid_image_error(array):
    try:
        result = to_mnist(array)
    except InvalidImageError:
        return
    _assert_valid_model_input(result)


@PROPERTY_SETTINGS
@given(ink=arrays(np.float32, st.tuples(st.integers(1, 60), st.integers(1, 60)),
                  elements=st.floats(-2, 3, width=32)))
def test_any_ink_map_gives_a_model_input_or_invalid_image_error(ink):
    try:
        result = mnist_from_ink(ink)
    except InvalidImageError:
        return
    _assert_valid_model_input(result)


@PROPERTY_SETTINGS
@given(image=images(), encode=st.booleans())
def test_any_image_gives_a_number_reading_or_invalid_image_error(classifier, image, encode):
    """The number reader, and the one-digit tabs' check for a whole number, on the same inputs."""
    source = _encoded(image) if encode else image
    try:
        reading = read_number(classifier, source)
    except InvalidImageError as exc:
        assert str(exc)
        return
    assert reading.number == "".join(d.label for d in reading.digits) and reading.number
    for digit in reading.digits:
        x0, y0, x1, y1 = digit.box
        assert 0 <= x0 <= x1 <= image.width and 0 <= y0 <= y1 <= image.height
        assert 0.0 <= digit.confidence <= 1.0
    several = several_digits(classifier, source)
    assert several is None or len(several.digits) > 1
