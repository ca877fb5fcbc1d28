"""The artifacts directory: the files one training run produces and the app consumes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
