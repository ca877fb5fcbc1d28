"""The artifacts directory: the files one training run produces and the app consumes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from digitrec.errors import DigitrecError

MODEL_FILE = "model.skops"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
CARD_FILE = "README.md"
#: Optional: the piece verifier that helps read whole numbers (see digitrec.piece_verifier).
PIECE_VERIFIER_FILE = "piece_verifier.skops"
#: Files a consumer needs to load and describe the model (plots are optional extras).
REQUIRED_FILES = (MODEL_FILE, CONFIG_FILE, METRICS_FILE)
#: The model committed to the repository, served when nothing else is configured.
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "models" / "digitrec-mnist"


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from ``path``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented, key-sorted JSON."""
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def missing_required(directory: Path, source: str | None = None) -> str | None:
    """What ``directory`` (named ``source`` in the message) lacks to be an artifacts
    directory a model loads from, or None."""
    missing = [name for name in REQUIRED_FILES if not (Path(directory) / name).is_file()]
    if not missing:
        return None
    return f"{source or directory} is not a digitrec artifacts directory: missing {', '.join(missing)}"


def writable_output(directory: Path) -> Path:
    """``directory`` if a training run may write its artifacts there, checked before the run.

    It must be new, empty, or an artifacts directory already (it holds ``config.json``:
    a rerun replaces its files), and writable. So a run neither mixes its files into an
    unrelated directory (everything there would be published with them) nor trains for
    half an hour to fail on the first write. Raises :class:`DigitrecError` saying why not.
    """
    directory = Path(directory)
    if directory.exists():
        if not directory.is_dir():
            raise DigitrecError(f"--out {directory} is a file, not a directory")
        if any(directory.iterdir()) and not (directory / CONFIG_FILE).is_file():
            raise DigitrecError(f"--out {directory} holds files that are not a digitrec artifacts directory "
                                f"(no {CONFIG_FILE}); choose a new or empty directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()
    except OSError as exc:
        raise DigitrecError(f"--out {directory} cannot be written: {exc.strerror or exc}") from None
    return directory
