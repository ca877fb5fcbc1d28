"""The app's handlers beyond one digit: whole numbers and corrections from users.

Kept apart from :mod:`digitrec.serving` (single digits) but built on its payload helpers
and its :func:`~digitrec.serving.user_facing` error handling.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any, Callable, Iterable

import gradio as gr
from PIL import Image

from digitrec.classifier import DigitClassifier
from digitrec.corrections import CorrectionError, CorrectionStore
from digitrec.errors import InvalidImageError
from digitrec.segment import NumberReading, draw_boxes, read_number
from digitrec.serving import (Predictor, image_file, is_blank, required_file, required_sketch, sketch_image,
                              sketch_value, user_facing)
from digitrec.normalize import open_image

log = logging.getLogger(__name__)

#: What the Number tab keeps for a correction: each digit's part of the input (cropped at
#: once, so a session holds a few small crops rather than a whole photo), the reading, and
#: the SHA-256 of the uploaded file (None for a drawing).
ReadNumber = tuple[list[Image.Image], NumberReading, str | None]
#: Why a correction of one of the page's example images is not stored.
EXAMPLE_MESSAGE = ("That is one of the example images, made from MNIST's test digits: corrections of it are not "
                   "stored (training on them would make the model's test score look better than it is).")


class NumberReader:
    """``/predict_number`` (an image file), ``/predict_number_sketch`` (a sketchpad value) and the Number tab."""

    def __init__(self, classifier: DigitClassifier, sketchpad: gr.ImageEditor):
        self.classifier = classifier
        self.sketchpad = sketchpad

    def _image(self, payload: dict[str, Any] | None) -> Image.Image | str | bytes | None:
        """The image in the tab's sketchpad or upload payload (one page handler serves both); None when empty."""
        if isinstance(payload, dict) and ("composite" in payload or "layers" in payload):
            return sketch_image(sketch_value(self.sketchpad, payload))
        return image_file(payload)

    @user_facing
    def predict_number(self, image: dict[str, Any] | None) -> dict[str, Any]:
        """Read a whole number in an image file.

        Returns {"number": "2026", "digits": [{"label", "confidence", "box"}, ...]}, boxes as
        [left, top, right, bottom] in input pixels, left to right.
        """
        return read_number(self.classifier, required_file(image)).as_dict()

    @user_facing
    def predict_number_sketch(self, sketch: dict[str, Any] | None) -> dict[str, Any]:
        """Read a whole number in a drawing: a sketchpad value whose `composite` is the image.

        Returns the same as ``predict_number``.
        """
        return read_number(self.classifier, required_sketch(self.sketchpad, sketch)).as_dict()

    @user_facing
    def show_number(self, payload: dict[str, Any] | None) -> tuple[Any, Any, ReadNumber | None]:
        """The input with a box and label on each digit, the reading, and what a correction
        needs (:data:`ReadNumber`); all empty when the input is cleared or every stroke erased."""
        image = self._image(payload)
        if image is None or isinstance(image, Image.Image) and is_blank(image):
            return None, None, None
        digest = None
        if not isinstance(image, Image.Image):
            image = upload_bytes(image)
            digest = _sha256(image)
        image = open_image(image)
        reading = read_number(self.classifier, image)
        crops = [image.crop(d.box) for d in reading.digits]
        return draw_boxes(image, reading), reading.as_dict(), (crops, reading, digest)


def with_correction_form(show: Callable[[Any], tuple], answer: Callable[[tuple], str | None]
                         ) -> Callable[[Any, str | None], tuple]:
    """``show`` (a tab's page handler) followed by its correction form:
    ``(*show's outputs, the answer, form entry, form note)``, in the same response.

    ``answer`` picks what the model said out of ``show``'s outputs (None when the input is
    cleared). The form is kept (``gr.skip()``) while that answer is the one ``answered``
    before, and emptied when it changes or the input is cleared: the sketchpad sends a second
    change for one stroke, and the user may go over a stroke again, which must not wipe what
    they chose or typed for the answer they see; a new answer must not keep it. (A new file
    empties its tab's form at once, on the page.)
    """

    def shown_with_form(payload: Any, answered: str | None) -> tuple:
        outputs = show(payload)
        said = answer(outputs)
        form = (gr.skip(), gr.skip()) if said is not None and said == answered else (None, "")
        return *outputs, said, *form

    shown_with_form.__name__ = show.__name__  # the event's name on the page (not functools.wraps:
    return shown_with_form                   # gradio would read show's one-argument signature)


def top_label(outputs: tuple) -> str | None:
    """The predicted digit in a one-digit tab's outputs (its gr.Label value comes first)."""
    label = outputs[0]
    return max(label, key=label.get) if label else None


def number_shown(outputs: tuple) -> str | None:
    """The number in :meth:`NumberReader.show_number`'s outputs."""
    return outputs[1]["number"] if outputs[1] else None


class CorrectionDesk:
    """Stores "the right digit was ..." from users, with the model's own view of the input."""

    def __init__(self, classifier: DigitClassifier, directory: Path, sketchpad: gr.ImageEditor,
                 examples: Iterable[Path] = (), max_bytes: int | None = None):
        """``examples``: the page's example images, made from MNIST test digits; corrections
        of them are refused, so that no test digit reaches training (``--extra-data``).
        ``max_bytes``: the store's size limit (:class:`~digitrec.corrections.CorrectionStore`)."""
        self.classifier = classifier
        self.predictor = Predictor(classifier, sketchpad)
        self.store = CorrectionStore(directory, max_bytes=max_bytes)
        self.sketchpad = sketchpad
        self.examples = {_sha256(Path(path).read_bytes()) for path in examples}

    @user_facing
    def submit_sketch(self, sketch: dict[str, Any] | None, corrected: str | None) -> str:
        """Save a correction for the drawing on the sketchpad."""
        return self._submit(sketch_image(sketch_value(self.sketchpad, sketch)), corrected)

    @user_facing
    def submit_upload(self, payload: dict[str, Any] | None, corrected: str | None) -> str:
        """Save a correction for the uploaded image."""
        source = image_file(payload)
        if source is not None:
            source = upload_bytes(source)  # not an image: refused by _submit's normalization, before storing
            if _sha256(source) in self.examples:
                raise InvalidImageError(EXAMPLE_MESSAGE)
        return self._submit(source, corrected)

    @user_facing
    def submit_number(self, shown: ReadNumber | None, corrected: str | None) -> str:
        """Save the digits a user corrected in the number the Number tab showed last
        (``shown``: :data:`ReadNumber`, from :meth:`NumberReader.show_number`).

        Each misread digit is stored like a corrected single digit: its part of the input
        (its box), the 28x28 the model saw, and both labels. Only a reading with as many
        digits as the right number can be corrected so, digit by digit.
        """
        if shown is None:
            raise InvalidImageError("Nothing to correct: write or upload a number first.")
        corrected = (corrected or "").strip()
        if not re.fullmatch(r"[0-9]+", corrected):
            raise InvalidImageError("Type the right number in digits 0-9, e.g. 2026.")
        crops, reading, digest = shown
        if digest in self.examples:
            raise InvalidImageError(EXAMPLE_MESSAGE)
        if len(corrected) != len(reading.digits):
            raise InvalidImageError(
                f"The model read {len(reading.digits)} digits ({reading.number}) and you typed {len(corrected)}: "
                "corrections are stored digit by digit, so only for a number read with the right count of digits."
            )
        wrong = [(crop, digit, normalized, right) for crop, digit, normalized, right
                 in zip(crops, reading.digits, reading.normalized, corrected) if digit.label != right]
        if not wrong:
            return f"The model already read {corrected}: nothing to correct."
        try:
            for crop, digit, normalized, right in wrong:
                self.store.add(crop, normalized, digit.label, right, self.classifier.origin)
        except CorrectionError as exc:
            raise InvalidImageError(str(exc)) from None
        log.info("number correction saved: read %s, corrected %s", reading.number, corrected)
        return (f"Thanks! Saved {len(wrong)} corrected digit{'s' if len(wrong) > 1 else ''}: the model read "
                f"{reading.number}, you said {corrected}. It will help the next model.")

    def _submit(self, image: Image.Image | bytes | None, corrected: str | None) -> str:
        """Store the original (PIL image or the uploaded file's bytes) with its 28x28 form."""
        if image is None:
            raise InvalidImageError("Nothing to correct: draw or upload a digit first.")
        if corrected is None:
            raise InvalidImageError("Choose the right digit first.")
        prediction = self.predictor.classify(image)
        predicted = prediction.page_label  # what the page showed, "not a digit" included
        if predicted == str(corrected):
            return f"The model already said {corrected}: nothing to correct."
        try:
            ident = self.store.add(image, prediction.image, predicted, str(corrected), self.classifier.origin)
        except CorrectionError as exc:
            raise InvalidImageError(str(exc)) from None
        log.info("correction %s saved: predicted %s, corrected %s", ident, predicted, corrected)
        return f"Thanks! Saved: the model said {predicted}, you said {corrected}. It will help the next model."


def upload_bytes(source: str | bytes) -> bytes:
    """An uploaded file's bytes (``source``: its path, or its bytes already), read once so
    that the very bytes hashed (to refuse corrections of the examples) are decoded and stored."""
    if isinstance(source, bytes):
        return source
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise InvalidImageError(f"{Path(source).name}: the uploaded file could not be read.") from exc


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
