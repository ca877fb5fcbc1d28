"""The correction store: real files, real threads and processes writing at once."""

from __future__ import annotations

import errno
import io
import json
import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitrec.corrections import (
    LOG_FILE,
    CorrectionError,
    CorrectionStore,
    CorrectionStoreFull,
    CorruptCorrectionWarning,
    load,
)
from digitrec.normalize import FORMATS


def sample(seed: int) -> tuple[Image.Image, np.ndarray, str]:
    """A distinct image, normalized array and label for each seed."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(40 + seed % 7, 30 + seed % 5), dtype=np.uint8)
    normalized = rng.random((28, 28), dtype=np.float32)
    return Image.fromarray(pixels, "L"), normalized, str(seed % 10)


def submit(directory: str, seeds: list[int], start: threading.Barrier | None = None) -> dict[str, int]:
    """Add one correction per seed; returns id -> seed."""
    store = CorrectionStore(directory)
    if start is not None:
        start.wait()
    ids = {}
    for seed in seeds:
        image, normalized, label = sample(seed)
        ids[store.add(image, normalized, predicted=str((seed + 1) % 10), corrected=label,
                      model_revision=f"test@{seed}")] = seed
    return ids


def _process_worker(directory: str, seeds: list[int], start, queue) -> None:  # runs in a child process
    start.wait()
    queue.put(submit(directory, seeds))


def assert_stored_exactly(directory: Path, ids: dict[str, int]) -> None:
    images, labels, records = load(directory)
    assert len(records) == len(ids) == len(images) == len(labels)
    assert images.dtype == np.float32 and images.shape == (len(ids), 28, 28)
    by_id = {r["id"]: (r, image, label) for r, image, label in zip(records, images, labels)}
    assert set(by_id) == set(ids)
    for correction_id, seed in ids.items():
        record, image, label = by_id[correction_id]
        original, normalized, expected = sample(seed)
        assert record["corrected"] == expected and label == int(expected)
        assert record["predicted"] == str((seed + 1) % 10)
        assert record["model_revision"] == f"test@{seed}"
        np.testing.assert_array_equal(image, normalized)
        with Image.open(directory / record["image"]) as stored:
            np.testing.assert_array_equal(np.asarray(stored), np.asarray(original))
    raw = (directory / LOG_FILE).read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    assert len(lines) == len(ids)
    assert all(isinstance(json.loads(line), dict) for line in lines)  # no partial or interleaved line
    assert not list(directory.glob(".tmp-*"))  # no temporary file left behind


def test_concurrent_threads_lose_nothing(tmp_path):
    start = threading.Barrier(20)
    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(submit, str(tmp_path), [seed], start) for seed in range(20)]
        ids = {k: v for f in futures for k, v in f.result().items()}
    assert len(ids) == 20
    assert_stored_exactly(tmp_path, ids)


def test_concurrent_processes_and_threads_lose_nothing(tmp_path):
    # fork where available (fast: no re-import in the children); spawn elsewhere
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    start = context.Barrier(4 + 1)
    queue = context.Queue()
    processes = [
        context.Process(target=_process_worker, args=(str(tmp_path), [100 + 10 * p + k for k in range(3)], start, queue))
        for p in range(4)
    ]
    for process in processes:
        process.start()
    start.wait(timeout=60)  # all children are ready: threads and processes write at once
    with ThreadPoolExecutor(max_workers=10) as pool:
        thread_ids = [pool.submit(submit, str(tmp_path), [seed, seed + 50]) for seed in range(10)]
        ids = {k: v for f in thread_ids for k, v in f.result().items()}
    for _ in processes:
        ids.update(queue.get(timeout=60))
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert len(ids) == 20 + 12
    assert_stored_exactly(tmp_path, ids)


def test_corrupt_trailing_line_is_reported_not_fatal(tmp_path):
    ids = submit(str(tmp_path), [1, 2, 3])
    with open(tmp_path / LOG_FILE, "ab") as handle:
        handle.write(b'{"id": "0123", "image": "0123.png", "normali')  # a crash mid-write
    with pytest.warns(CorruptCorrectionWarning, match=r"line 4: not valid JSON"):
        _, _, records = load(tmp_path)
    assert [r["id"] for r in records] == list(ids)
    with pytest.raises(CorrectionError, match="line 4"):
        load(tmp_path, strict=True)
    # the next correction closes the partial line instead of being glued to it
    ids.update(submit(str(tmp_path), [4]))
    with pytest.warns(CorruptCorrectionWarning, match="line 4"):
        _, labels, records = load(tmp_path)
    assert [r["id"] for r in records] == list(ids)
    assert labels.tolist() == [1, 2, 3, 4]


def test_line_naming_a_missing_file_is_reported(tmp_path):
    ids = submit(str(tmp_path), [5, 6])
    first = next(iter(ids))
    (tmp_path / f"{first}.npy").unlink()
    with pytest.warns(CorruptCorrectionWarning, match="line 1: normalized file .* is missing"):
        _, labels, records = load(tmp_path)
    assert labels.tolist() == [6] and len(records) == 1


@pytest.mark.parametrize("label", ["10", "a", "", " 7", 7, None, "٣"])
def test_invalid_label_is_refused(tmp_path, label):
    image, normalized, _ = sample(0)
    store = CorrectionStore(tmp_path)
    with pytest.raises(CorrectionError, match="must be one of"):
        store.add(image, normalized, predicted="3", corrected=label, model_revision="bundled")
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("normalized", [
    np.zeros((28, 27)), np.full((28, 28), np.nan), "pixels",
    np.full((28, 28), "0.5"), np.zeros((28, 28), dtype=complex),  # load() would refuse these files
])
def test_invalid_normalized_image_is_refused(tmp_path, normalized):
    with pytest.raises(CorrectionError):
        CorrectionStore(tmp_path).add(sample(0)[0], normalized, predicted="3", corrected="8", model_revision="x")
    assert list(tmp_path.iterdir()) == []


def test_uploaded_bytes_are_kept_as_they_are(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 10, 10)).save(buffer, format="JPEG")
    store = CorrectionStore(tmp_path)
    correction_id = store.add(buffer.getvalue(), np.zeros((28, 28)), predicted="1", corrected="7",
                              model_revision="owner/name@abc")
    assert (tmp_path / f"{correction_id}.jpg").read_bytes() == buffer.getvalue()
    _, labels, records = load(tmp_path)
    assert labels.tolist() == [7] and records[0]["image"] == f"{correction_id}.jpg"
    with pytest.raises(CorrectionError, match="not a readable image"):
        store.add(b"hello", np.zeros((28, 28)), predicted="1", corrected="7", model_revision="x")


@pytest.mark.parametrize("fmt", sorted(set(FORMATS) | {"MPO"}))
def test_every_format_normalize_opens_is_kept_as_uploaded(tmp_path, fmt):
    """Phone JPEGs (Pillow's "MPO") and DIBs included: what can be predicted can be corrected."""
    buffer = io.BytesIO()
    red, green = Image.new("RGB", (32, 24), (200, 10, 10)), Image.new("RGB", (32, 24), (10, 200, 10))
    extra = {"save_all": True, "append_images": [green]} if fmt == "MPO" else {}
    red.save(buffer, format=fmt, **extra)
    with Image.open(io.BytesIO(buffer.getvalue()), formats=FORMATS) as opened:
        assert opened.format == fmt  # MPO: a multi-picture JPEG, as phones write them
    store = CorrectionStore(tmp_path)
    correction_id = store.add(buffer.getvalue(), np.zeros((28, 28)), predicted="1", corrected="7", model_revision="x")
    _, labels, records = load(tmp_path)
    stored = tmp_path / records[0]["image"]
    assert labels.tolist() == [7] and stored.read_bytes() == buffer.getvalue()
    assert stored.name == f"{correction_id}.{'jpg' if fmt in ('JPEG', 'MPO') else fmt.lower()}"


@pytest.mark.parametrize("contents", [np.full((28, 28), "0.5"), np.zeros((28, 28), dtype=complex)],
                         ids=["strings", "complex"])
def test_npy_holding_no_real_numbers_is_reported(tmp_path, contents):
    ids = submit(str(tmp_path), [5, 6])
    np.save(tmp_path / f"{next(iter(ids))}.npy", contents, allow_pickle=False)
    with pytest.warns(CorruptCorrectionWarning, match=r"line 1: .*\.npy holds .* not real numbers"):
        _, labels, records = load(tmp_path)
    assert labels.tolist() == [6] and len(records) == 1
    with pytest.raises(CorrectionError, match="line 1"):
        load(tmp_path, strict=True)


def test_failed_write_leaves_no_file_behind(tmp_path, monkeypatch):
    """The disk fills while the .npy is written: the image's temp file goes too, nothing is logged."""
    real_fsync, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the first fsync is the image's temp file, the second the .npy's
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    image, normalized, _ = sample(0)
    store = CorrectionStore(tmp_path)
    with pytest.raises(OSError) as raised:
        store.add(image, normalized, predicted="3", corrected="8", model_revision="x")
    assert raised.value.errno == errno.ENOSPC and len(calls) == 2
    assert list(tmp_path.iterdir()) == [tmp_path / LOG_FILE] and not (tmp_path / LOG_FILE).read_bytes()
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert_stored_exactly(tmp_path, submit(str(tmp_path), [7]))  # the store works on


def test_failed_append_leaves_no_file_behind(tmp_path):
    """The log cannot be opened (a directory stands at its path): the moved files go, nothing is orphaned."""
    image, normalized, _ = sample(0)
    store = CorrectionStore(tmp_path)
    store.log_path.mkdir()
    with pytest.raises(IsADirectoryError):
        store.add(image, normalized, predicted="3", corrected="8", model_revision="x")
    assert list(tmp_path.iterdir()) == [store.log_path]  # no image, .npy or temporary file
    store.log_path.rmdir()
    assert_stored_exactly(tmp_path, submit(str(tmp_path), [7]))  # the store works on


def test_empty_store_loads_empty(tmp_path):
    images, labels, records = load(tmp_path / "nothing-yet")
    assert images.shape == (0, 28, 28) and labels.shape == (0,) and records == []


def test_the_same_correction_saved_twice_is_stored_once(tmp_path):
    """A second click on "Save correction", from this store or another one on the directory
    (another process), stores nothing and returns the first id. The same image with another
    label is another sample."""
    image, normalized, _ = sample(3)
    first = CorrectionStore(tmp_path).add(image, normalized, predicted="5", corrected="8", model_revision="x")
    store = CorrectionStore(tmp_path)
    assert store.add(image, normalized, predicted="5", corrected="8", model_revision="x") == first
    other = store.add(image, normalized, predicted="5", corrected="3", model_revision="x")
    assert store.add(image.copy(), normalized, predicted="5", corrected="3", model_revision="y") == other != first
    assert len((tmp_path / LOG_FILE).read_bytes().splitlines()) == 2
    assert len(list(tmp_path.glob("*.png"))) == len(list(tmp_path.glob("*.npy"))) == 2
    _, labels, records = load(tmp_path, strict=True)
    assert labels.tolist() == [8, 3] and [r["id"] for r in records] == [first, other]


def test_a_repeat_logged_twice_by_an_older_store_is_one_sample(tmp_path):
    """Stores written before repeats were refused may log one image and label twice: training sees it once."""
    image, normalized, _ = sample(3)
    CorrectionStore(tmp_path).add(image, normalized, predicted="5", corrected="8", model_revision="x")
    line = (tmp_path / LOG_FILE).read_bytes()
    (tmp_path / LOG_FILE).write_bytes(line + line.replace(b'"x"', b'"y"'))
    _, labels, records = load(tmp_path, strict=True)
    assert labels.tolist() == [8] and records[0]["model_revision"] == "x"


def test_a_full_store_refuses_corrections_and_keeps_what_it_holds(tmp_path):
    """The size limit counts every file the log names, those other stores on the directory
    wrote too; past it nothing is written and the caller is told."""
    ids = submit(str(tmp_path), [0, 1])
    held = sum(path.stat().st_size for path in tmp_path.iterdir() if path.name != LOG_FILE)
    image, normalized, label = sample(2)
    full = CorrectionStore(tmp_path, max_bytes=held + 100)
    with pytest.raises(CorrectionStoreFull, match="paused"):
        full.add(image, normalized, predicted="1", corrected=label, model_revision="x")
    assert_stored_exactly(tmp_path, ids)
    roomy = CorrectionStore(tmp_path, max_bytes=3 * held)
    ids[roomy.add(image, normalized, predicted="3", corrected=label, model_revision="test@2")] = 2
    assert_stored_exactly(tmp_path, ids)
