"""The benchmarks' command lines: a bad argument is one ``error:`` line, not a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from digitrec.synthetic import NUMBER_STYLES

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script, args, message", [
    ("drawing.py", ["--model", "models/digitrec-mnst"], "models/digitrec-mnst: no such artifacts directory"),
    ("drawing.py", ["--model", "README.md"], "README.md: a file, not an artifacts directory"),
    ("read_numbers.py", ["--model", "{empty}"], "missing model.skops, config.json, metrics.json"),
    ("read_numbers.py", ["--conditions", "spaced,nope"],
     f"argument --conditions: unknown condition(s) 'nope'; choose from {', '.join(NUMBER_STYLES)}"),
    ("accuracy.py", ["--data", "{empty}/mnist.npz"], "mnist.npz: file not found"),
    ("latency.py", ["--requests", "0"], "argument --requests: must be at least 1, not '0'"),
], ids=["drawing-missing-model", "drawing-file-as-model", "read-numbers-not-a-model", "read-numbers-unknown-condition",
        "accuracy-missing-data", "latency-no-requests"])
def test_a_bad_argument_is_one_error_line(tmp_path, script, args, message):
    """A model that is not there or not a model, a dataset file that is not there, an unknown
    condition or a number out of range: argparse's usage and one ``error:`` line naming it
    (every valid condition for a wrong one), exit status 2, before any MNIST is loaded."""
    (tmp_path / "empty").mkdir()
    args = [arg.replace("{empty}", str(tmp_path / "empty")) for arg in args]
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert proc.stdout == ""
