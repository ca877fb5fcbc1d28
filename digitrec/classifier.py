"""The classifier facade: load a trained model from anywhere and classify images."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from digitrec.artifacts import (BUNDLED_DIR, CONFIG_FILE, METRICS_FILE, MODEL_FILE, PIECE_VERIFIER_FILE,
                                missing_required, read_json)
from digitrec.errors import DigitrecError, HubUnavailableError
from digitrec.fast_svc import with_fast_svc
from digitrec.inference import compile_predict_proba
from digitrec.normalize import NORMALIZATION_VERSION, ImageInput, to_mnist
from digitrec.serialization import load_model_file

log = logging.getLogger(__name__)


@dataclass
class DigitClassifier:
    """A trained model with its config and metrics, and where it came from.

    ``origin`` is ``"bundled"``, ``"local:<dir>"`` or ``"<owner/name>@<commit sha>"``.
    ``piece_verifier``, when the artifacts have one, helps read whole numbers
    (:mod:`digitrec.piece_verifier`). Predictions run ``model.predict_proba`` compiled
    to array operations (:mod:`digitrec.inference`).
    """

    model: Any
    config: dict[str, Any]
    metrics: dict[str, Any]
    origin: str
    directory: Path
    notes: list[str] = field(default_factory=list)
    piece_verifier: Any = None
    _predict_proba_rows: Callable[[np.ndarray], np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._predict_proba_rows = compile_predict_proba(self.model)

    @property
    def classes(self) -> list[str]:
        """Class labels, in the column order of :meth:`predict_proba`."""
        return [str(c) for c in self.config["classes"]]

    def normalize(self, image: ImageInput) -> np.ndarray:
        """The (28, 28) image the model sees for ``image``."""
        return to_mnist(image)

    def predict_proba(self, images: Sequence[ImageInput] | np.ndarray | ImageInput) -> np.ndarray:
        """Class probabilities, shape (n, 10), for PIL images, arrays, paths or bytes.

        A single image (PIL image, 2-D or HxWx3/4 array, path, bytes) gives one row;
        a list, or an array of shape (n, h, w), gives one row per image.
        """
        batch = np.stack([self.normalize(image) for image in _as_batch(images)])
        return self.predict_proba_normalized(batch)

    def predict_proba_normalized(self, batch: np.ndarray) -> np.ndarray:
        """Digit probabilities for already-normalized (n, 28, 28) images.

        Models trained with a "not a digit" class have one more column, dropped here: rows
        then sum to less than 1, by the probability that the input is not a digit at all.
        """
        proba = self._predict_proba_rows(np.asarray(batch, dtype=np.float32).reshape(len(batch), -1))
        return proba[:, : len(self.classes)]

    def predict(self, images: Sequence[ImageInput] | np.ndarray | ImageInput) -> list[str]:
        """Most likely label of each image."""
        return [self.classes[i] for i in self.predict_proba(images).argmax(axis=1)]


def _as_batch(images: Any) -> Iterable[ImageInput]:
    if isinstance(images, (list, tuple)):
        return images
    if isinstance(images, np.ndarray) and (images.ndim == 4 or (images.ndim == 3 and images.shape[2] not in (3, 4))):
        return list(images)
    return [images]


def load_model(source: str | Path | None = None, fallback: bool = True) -> DigitClassifier:
    """Load a model from a local artifacts directory, a Hub repo, or the bundled default.

    ``source`` is a directory path, ``"OWNER/NAME"`` or ``"OWNER/NAME@REVISION"`` (branch,
    tag or commit SHA), or ``None``/``"bundled"`` for the model shipped with the code.
    A Hub source falls back to the local cache, then, with ``fallback`` (the app: it keeps
    serving), to the bundled model when the Hub cannot be reached; ``notes`` on the result
    say what happened. Without ``fallback`` (a command measuring the model it was given)
    that is an error. A path whose parent directory exists here (``models/digitrec-mnst``)
    is a mistyped directory, not a repo; so is a file (``model.skops``).
    """
    if source is None or str(source) == "bundled":
        return load_directory(BUNDLED_DIR, origin="bundled")
    path = Path(source)
    if path.is_dir():
        return load_directory(path, origin=f"local:{path}")
    if path.exists():
        raise DigitrecError(f"{source}: a file, not an artifacts directory")
    if path.is_absolute() or str(source).startswith(".") or (path.parent.is_dir() and path.parent != Path(".")):
        raise DigitrecError(f"{source}: no such artifacts directory")
    from digitrec.hub import fetch_model  # imported here: local use needs no Hub client

    repo_id, _, revision = str(source).partition("@")
    try:
        fetched = fetch_model(repo_id, revision or None)
    except HubUnavailableError as exc:
        if not fallback:
            raise
        note = f"{source} unavailable ({exc}); serving the bundled model"
        log.warning(note)
        classifier = load_directory(BUNDLED_DIR, origin="bundled")
        classifier.notes.append(note)
        return classifier
    classifier = load_directory(fetched.directory, origin=f"{repo_id}@{fetched.commit}")
    classifier.notes.extend(fetched.notes)
    return classifier


def _check_config(directory: Path, config: Any, metrics: Any) -> None:
    """Raise a :class:`DigitrecError` naming what a hand-edited or broken ``config.json`` or
    ``metrics.json`` lacks, instead of failing later with a KeyError."""
    if not isinstance(config, dict) or not isinstance(metrics, dict):
        raise DigitrecError(f"{directory}: {CONFIG_FILE} and {METRICS_FILE} must each hold a JSON object")
    verifier = config.get("piece_verifier")
    lists = {"trusted_types": config.get("trusted_types"), "classes": config.get("classes")}
    if verifier is not None:
        lists["piece_verifier.trusted_types"] = verifier.get("trusted_types") if isinstance(verifier, dict) else None
        if not (directory / PIECE_VERIFIER_FILE).is_file():
            raise DigitrecError(f"{directory}: {CONFIG_FILE} declares a piece verifier but {PIECE_VERIFIER_FILE} "
                                "is missing")
    wrong = [key for key, value in lists.items() if not isinstance(value, list)]
    if wrong:
        raise DigitrecError(f"{directory}: {CONFIG_FILE} has no {', '.join(wrong)} list; the model was not loaded")


def load_directory(directory: Path, origin: str) -> DigitClassifier:
    """Load ``model.skops`` (and the piece verifier, if any) from an artifacts directory,
    trusting the types its config declares.

    RBF SVCs in the model are served as matrix products (:mod:`digitrec.fast_svc`).
    """
    directory = Path(directory)
    problem = missing_required(directory)
    if problem:
        raise DigitrecError(problem)
    try:
        config, metrics = read_json(directory / CONFIG_FILE), read_json(directory / METRICS_FILE)
    except ValueError as exc:
        raise DigitrecError(f"{directory}: {CONFIG_FILE} or {METRICS_FILE} is not valid JSON ({exc})") from None
    _check_config(directory, config, metrics)
    model = with_fast_svc(load_model_file(directory / MODEL_FILE, declared=config["trusted_types"]), copy=False)
    verifier = config.get("piece_verifier")
    if verifier is not None:
        verifier = load_model_file(directory / PIECE_VERIFIER_FILE, declared=verifier["trusted_types"])
    log.info("loaded model from %s", origin)
    classifier = DigitClassifier(model=model, config=config, metrics=metrics, origin=origin, directory=directory,
                                 piece_verifier=verifier)
    version = str(config.get("input", {}).get("normalization_version"))
    if version != NORMALIZATION_VERSION:  # served all the same: most versions change rare inputs only
        classifier.notes.append(
            f"this model was made for normalization v{version}, and this code normalizes with "
            f"v{NORMALIZATION_VERSION}: its accuracy may differ from its card's"
        )
        log.warning(classifier.notes[-1])
    return classifier
