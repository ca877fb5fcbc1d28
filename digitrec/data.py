"""MNIST loading from OpenML, a common-layout ``.npz`` file or a directory of IDX files.

The MNIST loaders return the standard split (60,000 training and 10,000 test digits);
``sklearn-digits`` (scikit-learn's bundled 8x8 digits, for quick runs without MNIST)
1,500 and 297. All as uint8 arrays of shape ``(n, 28, 28)`` with 0 = background and 255 = ink.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitrec.errors import DatasetError

N_TRAIN = 60_000
#: ``--data`` values that name a dataset rather than a path, and the ``source`` of OpenML's MNIST.
OPENML, SKLEARN_DIGITS = "openml", "sklearn-digits"
OPENML_SOURCE = "openml:mnist_784"
IMAGE_SHAPE = (28, 28)
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class DigitDataset:
    """Train and test split of 28x28 uint8 digit images with integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    def subset(self, n_train: int, n_test: int, seed: int = 0) -> "DigitDataset":
        """A stratification-free random subset, for quick runs. Its ``source`` stays the
        dataset's, so that it still says what to load (the sizes tell it is a subset)."""
        rng = np.random.default_rng(seed)
        tr = rng.permutation(len(self.y_train))[:n_train]
        te = rng.permutation(len(self.y_test))[:n_test]
        return DigitDataset(self.x_train[tr], self.y_train[tr], self.x_test[te], self.y_test[te], self.source)


@dataclass(frozen=True)
class SourceInfo:
    """How cards, plots and the app name the data a model was trained on."""

    name: str  #: for people: "MNIST"
    writers: str  #: whose handwriting it is, for the card's limitations
    hub_id: str | None  #: its Hugging Face Hub dataset id, None when it has none
    argument: str  #: the ``--data`` that loads it (a file or folder by its name: its path means nothing elsewhere)


def describe_source(source: str) -> SourceInfo:
    """What to call the dataset whose :attr:`DigitDataset.source` is ``source``: scikit-learn's
    digits, or MNIST (from OpenML, an ``.npz`` file or IDX files)."""
    if source == SKLEARN_DIGITS:
        return SourceInfo(name="scikit-learn digits", hub_id=None, argument=SKLEARN_DIGITS,
                          writers="the writers of scikit-learn's 8x8 digits (a UCI test set)")
    return SourceInfo(name="MNIST", hub_id="mnist", argument=OPENML if source == OPENML_SOURCE else Path(source).name,
                      writers="MNIST's writers (US Census staff and students)")


def load_mnist(source: str | Path, cache_dir: str | Path | None = None) -> DigitDataset:
    """Load MNIST from ``"openml"``, an ``.npz`` file or a directory of IDX files.

    ``"sklearn-digits"`` gives scikit-learn's bundled 8x8 digits upscaled to MNIST's
    format: a small offline stand-in for tests and demos on a fresh clone.
    """
    if str(source) == OPENML:
        return load_openml(cache_dir)
    if str(source) == SKLEARN_DIGITS:
        return load_sklearn_digits()
    path = Path(source)
    if path.is_dir():
        return load_idx_dir(path)
    if path.suffix == ".npz":
        return load_npz(path)
    raise DatasetError(
        f"{path}: not found or not a dataset; expected 'openml', 'sklearn-digits', an .npz file with keys "
        f"{', '.join(NPZ_KEYS)}, or a directory holding the four MNIST IDX files"
    )


def load_openml(cache_dir: str | Path | None = None) -> DigitDataset:
    """Fetch ``mnist_784`` from OpenML (cached in ``cache_dir``); first 60,000 are train."""
    from sklearn.datasets import fetch_openml

    try:
        bunch = fetch_openml(
            "mnist_784", version=1, as_frame=False, parser="liac-arff",
            data_home=None if cache_dir is None else str(cache_dir),
        )
    except OSError as exc:  # urllib's URLError and HTTPError are OSErrors
        raise DatasetError(
            f"cannot download MNIST from OpenML ({exc}): check the network, or pass --data a local copy "
            "(an .npz file with x_train, y_train, x_test, y_test, or a directory of the four IDX files)"
        ) from exc
    x = np.asarray(bunch.data, dtype=np.uint8).reshape(-1, *IMAGE_SHAPE)
    y = np.asarray(bunch.target).astype(np.uint8)
    return _checked(x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:], OPENML_SOURCE)


def load_sklearn_digits(n_train: int = 1500) -> DigitDataset:
    """scikit-learn's 1,797 bundled 8x8 digits, upscaled into 20x20 boxes on 28x28 like MNIST."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    boxes = [
        np.asarray(Image.fromarray((img * 255 / 16).astype(np.uint8)).resize((20, 20), Image.Resampling.BICUBIC))
        for img in digits.images
    ]
    x = np.pad(np.stack(boxes), ((0, 0), (4, 4), (4, 4)))
    y = digits.target.astype(np.uint8)
    return _checked(x[:n_train], y[:n_train], x[n_train:], y[n_train:], SKLEARN_DIGITS)


def load_npz(path: Path) -> DigitDataset:
    """Load the common ``mnist.npz`` layout (``x_train, y_train, x_test, y_test``)."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found; expected an .npz with keys {', '.join(NPZ_KEYS)}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in NPZ_KEYS if k not in npz.files]
            if missing:
                raise DatasetError(f"{path}: missing arrays {missing}; expected keys {', '.join(NPZ_KEYS)}")
            arrays = {k: npz[k] for k in NPZ_KEYS}
    except DatasetError:
        raise
    except Exception as exc:  # zipfile/np errors on truncated or non-npz files
        raise DatasetError(f"{path}: cannot read as .npz ({exc}); the file may be truncated") from exc
    return _checked(*(arrays[k] for k in NPZ_KEYS), source=str(path), where={k: path for k in NPZ_KEYS})


def load_idx_dir(directory: Path) -> DigitDataset:
    """Load the four original IDX files, gzipped (``.gz``) or not, from ``directory``."""
    arrays, where = {}, {}
    for key, stem in IDX_FILES.items():
        candidates = [directory / stem, directory / f"{stem}.gz"]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise DatasetError(f"{candidates[0]}: file not found (nor {candidates[1].name}) in {directory}")
        arrays[key], where[key] = read_idx(found), found
    return _checked(*(arrays[k] for k in NPZ_KEYS), source=str(directory), where=where)


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (unsigned-byte data), checking its header against its length."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc}); the file may be truncated") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DatasetError(f"{path}: not an IDX file (bad magic number)")
    if raw[2] != 0x08:
        raise DatasetError(f"{path}: IDX data type 0x{raw[2]:02x} unsupported; expected unsigned bytes (0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DatasetError(
            f"{path}: truncated or padded; header says shape {shape} ({expected} bytes), "
            f"file holds {len(raw) - header} bytes of data"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _checked(x_train, y_train, x_test, y_test, source: str, where: dict | None = None) -> DigitDataset:
    where = where or {}
    for key, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        name = where.get(f"x_{key}", source)
        if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
            raise DatasetError(f"{name}: x_{key} has shape {x.shape}; expected (n, 28, 28) images")
        if y.ndim != 1 or len(y) != len(x):
            raise DatasetError(
                f"{where.get(f'y_{key}', source)}: y_{key} has shape {y.shape}; expected ({len(x)},) labels"
            )
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise DatasetError(f"{where.get(f'y_{key}', source)}: labels outside 0-9")
    return DigitDataset(
        np.ascontiguousarray(x_train, dtype=np.uint8), np.asarray(y_train, dtype=np.uint8),
        np.ascontiguousarray(x_test, dtype=np.uint8), np.asarray(y_test, dtype=np.uint8), source,
    )
