"""MNIST loaders on tiny npz and IDX files written by the tests, including broken ones."""

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitrec.data import IDX_FILES, load_mnist, load_sklearn_digits
from digitrec.errors import DatasetError

ROOT = Path(__file__).resolve().parent.parent


def tiny_split(n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }


def idx_bytes(array: np.ndarray) -> bytes:
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx_dir(directory, arrays, gz: bool):
    for key, stem in IDX_FILES.items():
        raw = idx_bytes(arrays[key])
        if gz:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / stem).write_bytes(raw)


def test_npz_round_trip(tmp_path):
    arrays = tiny_split()
    np.savez(tmp_path / "m.npz", **arrays)
    data = load_mnist(tmp_path / "m.npz")
    for key, value in arrays.items():
        np.testing.assert_array_equal(getattr(data, key), value)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_directory(tmp_path, gz):
    arrays = tiny_split()
    write_idx_dir(tmp_path, arrays, gz)
    data = load_mnist(tmp_path)
    np.testing.assert_array_equal(data.x_train, arrays["x_train"])
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])


def test_missing_npz_names_file(tmp_path):
    with pytest.raises(DatasetError, match="nope.npz.*not found"):
        load_mnist(tmp_path / "nope.npz")


def test_truncated_npz_names_file(tmp_path):
    np.savez(tmp_path / "m.npz", **tiny_split())
    raw = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "m.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetError, match=r"m\.npz.*truncated"):
        load_mnist(tmp_path / "m.npz")


def test_npz_missing_key_and_wrong_shape(tmp_path):
    arrays = tiny_split()
    np.savez(tmp_path / "a.npz", **{k: v for k, v in arrays.items() if k != "y_test"})
    with pytest.raises(DatasetError, match=r"a\.npz.*missing.*y_test"):
        load_mnist(tmp_path / "a.npz")
    arrays["x_train"] = arrays["x_train"].reshape(12, 784)
    np.savez(tmp_path / "b.npz", **arrays)
    with pytest.raises(DatasetError, match=r"b\.npz.*x_train.*\(n, 28, 28\)"):
        load_mnist(tmp_path / "b.npz")


def test_idx_truncated_and_missing(tmp_path):
    arrays = tiny_split()
    write_idx_dir(tmp_path, arrays, gz=False)
    images = tmp_path / IDX_FILES["x_test"]
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.*truncated"):
        load_mnist(tmp_path)
    (tmp_path / IDX_FILES["y_train"]).unlink()
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.*not found"):
        load_mnist(tmp_path)


def test_idx_bad_magic_and_label_count(tmp_path):
    arrays = tiny_split()
    write_idx_dir(tmp_path, arrays, gz=True)
    (tmp_path / f"{IDX_FILES['y_test']}.gz").write_bytes(gzip.compress(idx_bytes(arrays["y_test"][:3])))
    with pytest.raises(DatasetError, match="t10k-labels.*expected \\(5,\\)"):
        load_mnist(tmp_path)
    (tmp_path / f"{IDX_FILES['x_train']}.gz").write_bytes(gzip.compress(b"hello world, not idx"))
    with pytest.raises(DatasetError, match="train-images.*not an IDX"):
        load_mnist(tmp_path)


def test_unknown_source():
    with pytest.raises(DatasetError, match="expected 'openml'"):
        load_mnist("no/such/thing.csv")


def test_sklearn_digits_look_like_mnist():
    data = load_sklearn_digits()
    assert data.x_train.shape[1:] == (28, 28) and data.x_train.dtype == np.uint8
    assert data.x_train[:, :4].max() == 0  # 4-pixel empty margin, as in MNIST
    assert set(np.unique(data.y_test)) == set(range(10))


@pytest.mark.parametrize("command", ["training.evaluate", "training.train"])
def test_openml_out_of_reach_is_one_line_saying_what_to_do(tmp_path, command):
    """Without a way to OpenML (here a proxy that refuses, so the test does not depend on the
    network), loading 'openml' says so and how to use a local copy, not a URLError traceback."""
    env = {**os.environ, "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    args = ["--data", "openml", "--cache-dir", str(tmp_path / "cache")]
    if command == "training.train":
        args += ["--out", str(tmp_path / "out"), "--quick"]
    done = subprocess.run([sys.executable, "-m", command, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "cannot download MNIST from OpenML" in done.stderr and "--data a local copy" in done.stderr
