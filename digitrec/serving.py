"""The app's logic: Gradio inputs in, predictions, previews and user-facing errors out.

``app.py`` only lays out components and wires events to the handlers of :class:`Predictor`.
The events run with ``preprocess=False``: handlers get the raw payloads and decode them
here (:func:`image_file`, :func:`sketch_value`), so that a file that is not an image gets
the :class:`InvalidImageError` message instead of Gradio's generic processing error.
Handlers come in two kinds:

* API handlers (``predict``, ``predict_sketch``, ``predict_batch``) return the value of a
  ``gr.Label`` (or a list of them) and raise :class:`gradio.Error` for anything a client
  must fix, including an empty payload (:func:`required_file`, :func:`required_sketch`);
* UI handlers (``show_upload``, ``show_sketch``) also return the 28x28 preview, the
  heatmap and a note (the model is unsure; the image holds several digits), and treat an
  empty input (a cleared image, a cleared or fully erased canvas) as "nothing to show"
  rather than an error: the user did not ask for a prediction.

Bad input becomes a :class:`gradio.Error` carrying the :class:`InvalidImageError` message;
any other exception is logged with its traceback and reported with a generic message.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

import gradio as gr
import numpy as np
from gradio.context import LocalContext
from PIL import Image

from digitrec import normalize
from digitrec.artifacts import CARD_FILE
from digitrec.batch_input import BatchImage, batch_images
from digitrec.classifier import DigitClassifier
from digitrec.data import describe_source
from digitrec.errors import InvalidImageError, NotADigitError
from digitrec.explain import heatmap_image, occlusion_heatmap
from digitrec.hub import hub_url
from digitrec.segment import several_digits
from digitrec.settings import Settings

log = logging.getLogger(__name__)

#: Below this top probability the UI says it is unsure.
LOW_CONFIDENCE = 0.5
#: Classes shown (and returned to API clients) per prediction.
TOP_K = 3
#: Side, in pixels, of the enlarged preview of the 28x28 model input.
PREVIEW_SIZE = 140
#: Name of the confusion-matrix plot in an artifacts directory (optional).
CONFUSION_MATRIX_FILE = "confusion_matrix.png"
#: Pixels one ``/predict_batch`` call may send, all its images together, in per-image limits
#: (:func:`digitrec.normalize.max_image_pixels`, so ``DIGITREC_MAX_IMAGE_PIXELS`` scales it):
#: decoding is most of a call's cost, paid while it holds one of the shared model slots.
#: 4 x 40,000,000 by default: 64 sketchpad drawings (800x800, 41 megapixels together) or a
#: dozen 12-megapixel photos fit; 64 copies of the largest image (2,560 megapixels) do not.
BATCH_PIXEL_FACTOR = 4

UNSURE_MESSAGE = "Not sure — is this a digit?"
NOT_A_DIGIT_MESSAGE = "**This does not look like a digit.** Draw or upload one digit, 0 to 9."
#: The page's name for what the digits' probabilities leave, shown from this much on.
NOT_A_DIGIT_LABEL, SHOWN_NOT_A_DIGIT = "not a digit", 0.01
KEEP_DRAWING_MESSAGE = "**Keep drawing:** a dot or a dash is not a digit yet."
NUMBER_MESSAGE = "**This looks like several digits, not one.** The Number tab reads it as {number}."
GENERIC_ERROR = "Something went wrong while classifying this image. Please try again, or try another image."
NO_IMAGE_MESSAGE = "No image received: send a PNG, JPEG, GIF, BMP, WebP or TIFF file."
NO_SKETCH_MESSAGE = (
    "No drawing received: the canvas is empty. API clients: send "
    '{"background": None, "layers": [], "composite": handle_file(path)}.'
)

T = TypeVar("T")


@dataclass(frozen=True)
class Prediction:
    """Class probabilities for one image, and the (28, 28) image the model saw."""

    probabilities: dict[str, float]
    image: np.ndarray

    @property
    def top(self) -> list[tuple[str, float]]:
        """The ``TOP_K`` most likely classes with their probabilities, most likely first."""
        ranked = sorted(self.probabilities.items(), key=lambda item: item[1], reverse=True)
        return ranked[:TOP_K]

    @property
    def label(self) -> str:
        return self.top[0][0]

    @property
    def confidence(self) -> float:
        return self.top[0][1]

    @property
    def unsure(self) -> bool:
        return self.confidence < LOW_CONFIDENCE

    def label_value(self) -> dict[str, float]:
        """The value to give a ``gr.Label``: the top classes and their probabilities."""
        return dict(self.top)

    def page_label_value(self) -> dict[str, float]:
        """The page's ``gr.Label`` value: the top classes, "not a digit" among them when the
        digits leave it at least ``SHOWN_NOT_A_DIGIT`` (their probabilities sum to less than 1
        for non-digits), so that a scribble shows as "not a digit 97%", not as three digits
        at 2%, 0% and 0%. API clients get the digits only (:meth:`label_data`)."""
        rest = 1.0 - sum(self.probabilities.values())
        if rest < SHOWN_NOT_A_DIGIT:
            return self.label_value()
        ranked = sorted([*self.probabilities.items(), (NOT_A_DIGIT_LABEL, rest)], key=lambda item: item[1],
                        reverse=True)
        return dict(ranked[:TOP_K])

    @property
    def page_label(self) -> str:
        """The label the page shows first: the top digit, or "not a digit"."""
        shown = self.page_label_value()
        return max(shown, key=shown.get)

    def label_data(self) -> dict[str, Any]:
        """What API clients receive from a ``gr.Label``: the label and the top confidences."""
        return {
            "label": self.label,
            "confidences": [{"label": label, "confidence": p} for label, p in self.top],
        }

    def note(self) -> str:
        """Markdown shown under the label: empty unless the model is unsure; when the page
        shows "not a digit" first, it says so, offering no digit at a few percent as a guess."""
        if not self.unsure:
            return ""
        if self.page_label == NOT_A_DIGIT_LABEL:
            return NOT_A_DIGIT_MESSAGE
        return f"**{UNSURE_MESSAGE}** Best guess: {self.label} ({self.confidence:.0%})."

    def preview(self) -> np.ndarray:
        """The model input as dark ink on white, enlarged to ``PREVIEW_SIZE`` with visible pixels."""
        gray = (255.0 * (1.0 - np.clip(self.image, 0.0, 1.0))).round().astype(np.uint8)
        return np.asarray(Image.fromarray(gray).resize((PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.NEAREST))


def user_facing(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn errors into :class:`gradio.Error`: the message for bad input, a generic one for bugs."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except InvalidImageError as exc:
            log.info("rejected input: %s", exc)
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(GENERIC_ERROR, print_exception=False) from None

    return wrapper


class Predictor:
    """The handlers the app wires to its events, around one loaded classifier."""

    def __init__(self, classifier: DigitClassifier, sketchpad: gr.ImageEditor, max_batch: int = Settings.max_batch,
                 max_file_size: int = Settings.max_file_size):
        self.classifier = classifier
        self.sketchpad = sketchpad
        self.max_batch = max_batch
        self.max_file_size = max_file_size  # bounds each image in a zip archive sent to predict_batch

    # -- core ---------------------------------------------------------------------------

    def classify(self, image: Any) -> Prediction:
        """Normalize ``image`` and classify it; raises :class:`InvalidImageError` for bad input."""
        return self.classify_many([image])[0]

    def classify_many(self, images: Sequence[Any], origins: Sequence[str | None] | None = None) -> list[Prediction]:
        """Classify several images with one model call, keeping their order.

        An error about one of several images says which one ("Image 2 of 3: ..."), and
        where it came from when ``origins`` names it ("Image 2 of 3 (b.png in digits.zip): ...").
        """
        normalized = []
        for position, image in enumerate(images, start=1):
            with which_image(position, len(images), origins[position - 1] if origins else None):
                normalized.append(self.classifier.normalize(image))
        batch = np.stack(normalized)
        probabilities = self.classifier.predict_proba_normalized(batch)
        classes = self.classifier.classes
        return [
            Prediction({c: float(p) for c, p in zip(classes, row)}, image)
            for row, image in zip(probabilities, batch)
        ]

    # -- API handlers ---------------------------------------------------------------------

    @user_facing
    def predict(self, image: dict[str, Any] | None) -> dict[str, float]:
        """Classify an image file. Returns the predicted label and the top-3 confidences."""
        return self.classify(required_file(image)).label_value()

    @user_facing
    def predict_sketch(self, sketch: dict[str, Any] | None) -> dict[str, float]:
        """Classify a drawing: a sketchpad value whose `composite` is the image.

        Returns the predicted label and the top-3 confidences.
        """
        return self.classify(required_sketch(self.sketchpad, sketch)).label_value()

    @user_facing
    def predict_batch(self, files: Sequence[str] | None) -> list[dict[str, Any]]:
        """Classify several image files, or the images in zip archives (one upload for many images).

        At most ``max_batch`` images, with at most :func:`batch_pixel_budget` pixels together
        (``BATCH_PIXEL_FACTOR`` = 4 times the per-image limit: 160,000,000 by default), read
        from their headers before any is decoded; send more in several calls.
        Returns one {label, confidences} per image, in order (an archive's in archive order).
        """
        images = batch_images(list(files or []), self.max_batch, self.max_file_size)
        check_batch_pixels(images)
        predictions = self.classify_many([i.source for i in images], [i.origin for i in images])
        return [prediction.label_data() for prediction in predictions]

    # -- UI handlers ----------------------------------------------------------------------

    def _shown(self, image: Any) -> tuple[dict[str, float], np.ndarray, str, Image.Image]:
        """Label, preview, note, and the occlusion heatmap of the predicted class for an image.

        The note also says when the image holds a whole number, and how the Number tab reads it.
        """
        image = normalize.open_image(image)  # decoded once, for the digit and for the number check
        prediction = self.classify(image)
        heat = occlusion_heatmap(self.classifier, prediction.image, self.classifier.classes.index(prediction.label))
        number = several_digits(self.classifier, image)
        note = prediction.note() if number is None else NUMBER_MESSAGE.format(number=number.number)
        return (prediction.page_label_value(), prediction.preview(), note,
                heatmap_image(prediction.image, heat, PREVIEW_SIZE))

    @user_facing
    def show_upload(self, image: dict[str, Any] | None) -> tuple[Any, Any, str, Any]:
        """Label, preview, note and heatmap for the Upload tab; all empty when the image is cleared."""
        path = image_file(image)
        if path is None:
            return None, None, "", None
        return self._shown(path)

    @user_facing
    def show_sketch(self, sketch: dict[str, Any] | None) -> tuple[Any, Any, str, Any]:
        """Label, preview, note and heatmap for the Draw tab; all empty when the canvas is cleared,
        and only a "keep drawing" note while the ink is a dot or a dash (a 7 begun with its bar)."""
        image = sketch_image(sketch_value(self.sketchpad, sketch))
        if image is None or is_blank(image):  # cleared, or every stroke erased
            return None, None, "", None
        try:
            return self._shown(image)
        except NotADigitError:
            return None, None, KEEP_DRAWING_MESSAGE, None


@contextlib.contextmanager
def which_image(position: int, count: int, origin: str | None) -> Iterator[None]:
    """Say which image an :class:`InvalidImageError` raised inside is about, when there are several.

    "Image 2 of 3: ...", with where it came from when ``origin`` names it
    ("Image 2 of 3 (b.png in digits.zip): ..."); a lone plain file's error names the file already.
    """
    try:
        yield
    except InvalidImageError as exc:
        if count == 1 and origin is None:
            raise
        where = f" ({origin})" if origin else ""
        raise InvalidImageError(f"Image {position} of {count}{where}: {exc}") from None


def batch_pixel_budget() -> int:
    """Most pixels one ``/predict_batch`` call may send: ``BATCH_PIXEL_FACTOR`` per-image limits, read on use."""
    return BATCH_PIXEL_FACTOR * normalize.max_image_pixels()


def check_batch_pixels(images: Sequence[BatchImage]) -> None:
    """Refuse a batch whose images have more than :func:`batch_pixel_budget` pixels together.

    Each image is within the per-image limit, yet 64 of them could keep a model slot busy
    decoding for many seconds: the total is read from the headers (:func:`check_image_file`),
    so such a call is refused before anything is decoded.
    """
    total = 0
    for position, image in enumerate(images, start=1):
        with which_image(position, len(images), image.origin):
            total += check_image_file(image.source)
    budget = batch_pixel_budget()
    if total > budget:
        raise InvalidImageError(
            f"Too many pixels for one call: the {len(images)} images have {total:,} pixels together; "
            f"the limit is {budget:,} pixels per call. Send fewer or smaller images: split them over several calls, "
            "or scale them down (a few hundred pixels a side is plenty for a digit)."
        )


def sketch_image(sketch: dict[str, Any] | None) -> Image.Image | None:
    """The drawing in a sketchpad value: its composite, else background and layers stacked.

    Returns None when the value holds no image at all (a cleared canvas).
    """
    if not sketch:
        return None
    if not isinstance(sketch, dict):
        raise InvalidImageError("Expected a sketchpad value with 'background', 'layers' and 'composite'.")
    if sketch.get("composite") is not None:
        return _as_pil(sketch["composite"])
    parts = [_as_pil(p) for p in [sketch.get("background"), *(sketch.get("layers") or [])] if p is not None]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    width, height = max(p.width for p in parts), max(p.height for p in parts)
    if width * height > normalize.MAX_IMAGE_PIXELS:
        raise InvalidImageError(
            f"The drawing is too large ({width}x{height} pixels); the limit is {normalize.MAX_IMAGE_PIXELS:,} pixels."
        )
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    for part in parts:
        canvas.alpha_composite(part.convert("RGBA"))
    return canvas


def is_blank(image: Image.Image) -> bool:
    """True for a canvas with nothing on it: fully transparent, or a single flat colour."""
    if "A" in image.getbands() and image.getextrema()[image.getbands().index("A")][1] == 0:
        return True
    extrema = image.getextrema()
    bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
    return all(low == high for low, high in bands)


def _as_pil(image: Any) -> Image.Image:
    """A sketchpad part as a PIL image, upright per its EXIF orientation: Gradio opens a
    composite file without turning it (an API client's phone photo), ``open_image`` turns files."""
    return normalize.upright(image) if isinstance(image, Image.Image) else normalize.open_image(image)


# -- components -----------------------------------------------------------------------------


def check_image_file(path: str | Path | bytes) -> int:
    """Raise :class:`InvalidImageError` unless ``path`` (or image bytes) has a readable image header within the pixel limit.

    Reads the header only, so an enormous image is refused before anything is decoded.
    Returns the number of pixels.
    """
    name = "The drawing" if isinstance(path, (bytes, bytearray)) else Path(path).name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            source = io.BytesIO(path) if isinstance(path, (bytes, bytearray)) else path
            with Image.open(source, formats=normalize.FORMATS) as img:
                width, height = img.size
    except Exception:
        normalize.open_image(path)  # raises the user-facing InvalidImageError for this file
        raise InvalidImageError(f"{name}: not a readable image.") from None
    if width * height > normalize.MAX_IMAGE_PIXELS:
        normalize.open_image(path)
        raise InvalidImageError(f"{name}: the image is too large ({width}x{height} pixels).")
    return width * height


def required_file(payload: dict[str, Any] | None) -> str | bytes:
    """The file an API client sent in a raw ``gr.Image`` payload (see :func:`image_file`).

    Raises :class:`InvalidImageError` with ``NO_IMAGE_MESSAGE`` when there is none: Gradio
    hands an endpoint a payload it cannot read as a file (a sketchpad value, say) as an
    empty one.
    """
    path = image_file(payload)
    if path is None:
        raise InvalidImageError(NO_IMAGE_MESSAGE)
    return path


def image_file(payload: dict[str, Any] | None) -> str | bytes | None:
    """The file in a raw ``gr.Image`` payload (an event with ``preprocess=False``), undecoded.

    Gradio's own preprocessing opens the file with PIL and fails with a generic error on
    anything that is not an image; here decoding is left to :func:`digitrec.to_mnist`,
    whose errors are written for the user. Returns a path, the bytes of a data URL (in
    ``url`` or ``path``), or None.
    """
    if payload is None:
        return None
    for field in ("url", "path"):
        value = payload.get(field)
        if isinstance(value, str) and value.startswith("data:"):
            return data_url_bytes(value)
    if not payload.get("path"):
        raise InvalidImageError(NO_IMAGE_MESSAGE)
    return str(payload["path"])


def data_url_bytes(url: str) -> bytes:
    """The bytes of a base64 ``data:`` URL, within the upload limit of the app serving the event.

    Such an image arrives inside the JSON body, not through Gradio's upload route, so the
    upload limit (``launch(max_file_size=...)``) is applied here, from the length of the
    base64 text: an oversized image is refused before any of it is decoded. Whitespace
    (line breaks some encoders insert) is dropped; any other character outside the base64
    alphabet is refused, rather than skipped into a truncated or empty image.
    """
    encoded = "".join(url.partition(",")[2].split())
    size = len(encoded) * 3 // 4 - encoded[-2:].count("=")
    limit = upload_limit()
    if limit is not None and size > limit:
        raise InvalidImageError(f"The upload: the image is too large ({size:,} bytes); the limit is {limit:,} bytes.")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImageError(
            "The upload: the data URL is not valid base64: expected the characters A-Z, a-z, 0-9, + and /, "
            "padded with = to a multiple of 4 (whitespace is ignored)."
        ) from None


def upload_limit() -> int | None:
    """The upload limit in bytes of the app running the current event; None outside an event or without a limit."""
    return getattr(LocalContext.blocks.get(None), "max_file_size", None)


def required_sketch(component: gr.ImageEditor, payload: dict[str, Any] | None) -> Image.Image:
    """The drawing an API client sent in a raw sketchpad payload (see :func:`sketch_value`).

    Raises :class:`InvalidImageError` with ``NO_SKETCH_MESSAGE``, which says how to send a
    drawing, when there is none: Gradio hands an endpoint a bare file, or a value missing
    every field, as an empty sketchpad value, and a canvas id it does not hold as no image.
    """
    image = sketch_image(sketch_value(component, payload))
    if image is None:
        raise InvalidImageError(NO_SKETCH_MESSAGE)
    return image


def sketch_value(component: gr.ImageEditor, payload: dict[str, Any] | None) -> dict[str, Any] | None:
    """Decode a raw sketchpad payload (an event with ``preprocess=False``) with ``component``.

    Files sent by API clients are checked (header only) first, so a text file or an
    enormous image gets the :class:`InvalidImageError` message rather than Gradio's generic
    processing error, and nothing enormous is decoded. The browser sends canvas blobs
    (``id`` set), which the component's own preprocessing looks up.
    """
    if payload is None:
        return None
    data = component.data_model.model_validate(payload)
    files: list[str] = []
    if data.id is None:
        parts = [data.background, data.composite, *data.layers]
        files = [str(part.path) for part in parts if part is not None and part.path is not None]
        _check_drawing_parts(files)
    else:  # canvas blobs, uploaded before the event: check them too, before Gradio decodes them
        blobs = component.blob_storage.get(data.id)
        try:
            _check_drawing_parts([b for b in [blobs.background, blobs.composite, *blobs.layers] if b is not None]
                                 if blobs is not None else [])
        except InvalidImageError:
            component.blob_storage.pop(data.id, None)  # Gradio frees blobs only when it decodes them
            raise
    try:
        return component.preprocess(data)
    except Exception:
        message = _explain_unreadable(files)
        if message is None:
            raise
        raise InvalidImageError(message) from None


def _check_drawing_parts(parts: Sequence[str | bytes]) -> None:
    """Check each part's header, and their pixels together: Gradio decodes every layer at once."""
    total = sum(check_image_file(part) for part in parts)
    limit = normalize.MAX_IMAGE_PIXELS
    if total > limit:
        raise InvalidImageError(
            f"The drawing is too large: its {len(parts)} images have {total:,} pixels together; "
            f"the limit is {limit:,} pixels."
        )


def _explain_unreadable(files: Sequence[str]) -> str | None:
    """The :class:`InvalidImageError` message for the first of ``files`` that cannot be decoded."""
    for path in files:
        try:
            normalize.open_image(path)
        except InvalidImageError as exc:
            return str(exc)
    return None


# -- about the model --------------------------------------------------------------------------


def model_summary(classifier: DigitClassifier) -> str:
    """Markdown: which model is serving, its test accuracy (on which data), and any notes from loading it."""
    accuracy = classifier.metrics.get("test_accuracy")
    source = (classifier.metrics.get("data") or {}).get("source")
    dataset = f"{describe_source(source).name} " if isinstance(source, str) else ""
    accuracy_text = f" — {dataset}test accuracy **{accuracy:.2%}**" if isinstance(accuracy, (int, float)) else ""
    notes = "".join(f"  \n⚠️ {note}" for note in classifier.notes)  # e.g. the Hub was unreachable
    return f"Serving {describe_origin(classifier.origin)}{accuracy_text}.{notes}"


def describe_origin(origin: str) -> str:
    """Markdown naming where the model came from."""
    if origin == "bundled":
        return "the **bundled model** (`models/digitrec-mnist`)"
    if origin.startswith("local:"):
        return f"a **local model** from `{origin[len('local:'):]}`"
    repo, _, revision = origin.partition("@")
    revision_text = f" at revision `{revision[:12]}`" if revision else ""
    return f"**[{repo}]({hub_url(repo)})**{revision_text} from the Hugging Face Hub"


def model_card_url(classifier: DigitClassifier) -> str | None:
    """The Hub URL of the served model's card, when it came from a Hub repo."""
    if classifier.origin == "bundled" or classifier.origin.startswith("local:"):
        return None
    repo, _, revision = classifier.origin.partition("@")
    return hub_url(f"{repo}/blob/{revision or 'main'}/{CARD_FILE}")


def model_card_path(classifier: DigitClassifier) -> Path | None:
    """The local model card file, if the artifacts directory has one."""
    path = Path(classifier.directory) / CARD_FILE
    return path if path.is_file() else None


def confusion_matrix_path(classifier: DigitClassifier) -> Path | None:
    """The confusion-matrix plot, if the artifacts directory has one."""
    path = Path(classifier.directory) / CONFUSION_MATRIX_FILE
    return path if path.is_file() else None


def about_markdown(classifier: DigitClassifier) -> str:
    """The "About the model" text: origin, accuracy, notes and where the model card is."""
    lines = [model_summary(classifier), ""]
    url = model_card_url(classifier)
    card = model_card_path(classifier)
    if url:
        lines.append(f"Model card: [{url}]({url})")
    elif card:
        lines.append(f"Model card: `{_display_path(card)}` (download it below).")
    else:
        lines.append(f"No model card in `{_display_path(Path(classifier.directory))}`.")
    if confusion_matrix_path(classifier) is None:
        lines += ["", "No confusion matrix plot in this model's artifacts."]
    lines += [
        "",
        f"The preview shows the 28×28 image the model sees after normalization. "
        f"Below {LOW_CONFIDENCE:.0%} confidence the app says it is unsure.",
    ]
    return "\n".join(lines)


def _display_path(path: Path) -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)
