"""skops round trip in a fresh process, and refusal of types outside the allowlist."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from digitrec.errors import UntrustedModelError
from digitrec.features import Deskew
from digitrec.serialization import is_allowed, load_model_file, save_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data / 16.0, data.target


def test_round_trip_in_fresh_process(tmp_path, digits):
    X, y = digits
    model = make_pipeline(Deskew(), PCA(10, random_state=0), LogisticRegression(max_iter=500)).fit(X, y)
    types = save_model(model, tmp_path / "model.skops")
    assert "digitrec.features.Deskew" in types
    np.save(tmp_path / "X.npy", X[:50])
    code = (
        "import json, sys, numpy as np\n"
        "from digitrec.serialization import load_model_file\n"
        f"m = load_model_file({str(tmp_path / 'model.skops')!r}, json.loads(sys.argv[1]))\n"
        f"np.save({str(tmp_path / 'p.npy')!r}, m.predict_proba(np.load({str(tmp_path / 'X.npy')!r})))\n"
    )
    subprocess.run([sys.executable, "-c", code, json.dumps(types)], check=True, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), model.predict_proba(X[:50]))


def test_refuses_dangerous_callable(tmp_path):
    sio.dump({"model": os.system}, tmp_path / "evil.skops")
    with pytest.raises(UntrustedModelError, match="posix.system|os.system"):
        load_model_file(tmp_path / "evil.skops", declared=["posix.system", "os.system"])


def test_refuses_undeclared_type(tmp_path, digits):
    X, y = digits
    model = make_pipeline(Deskew(), LogisticRegression(max_iter=200)).fit(X, y)
    save_model(model, tmp_path / "model.skops")
    with pytest.raises(UntrustedModelError, match="digitrec.features.Deskew"):
        load_model_file(tmp_path / "model.skops", declared=[])


def test_allowlist():
    assert is_allowed("sklearn.pipeline.Pipeline")
    assert is_allowed("digitrec.features.Deskew")
    assert not is_allowed("builtins.eval")
    assert not is_allowed("os.system")
    assert not is_allowed("numpy.load")  # a function, not a class
    assert not is_allowed("sklearn.no_such_thing.Foo")
    assert is_allowed("digitrec.features.image_shape_for")  # a digitrec function (e.g. in a FunctionTransformer)
    # what a digitrec module merely imports is not digitrec's: names must be where things are defined
    assert not is_allowed("digitrec.hub.HfApi")
    assert not is_allowed("digitrec.hub.snapshot_download")
    assert not is_allowed("digitrec.features.Parallel")
    assert not is_allowed("digitrec.corrections.os")  # a module
    assert not is_allowed("digitrec.features.np")
