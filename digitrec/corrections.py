"""Learning from corrections: store the digits users correct, durably, for later training.

A correction store is a directory holding, per correction, the original image file
(``<id>.png``, or the uploaded file's own format when given bytes) and the normalized
28x28 model input (``<id>.npy``, float32), plus one JSON line per correction in
``corrections.jsonl``::

    {"id": "...", "time": "2026-01-31T12:00:00.000000+00:00", "image": "<id>.png",
     "normalized": "<id>.npy", "predicted": "7", "corrected": "1",
     "model_revision": "owner/name@<sha>", "image_sha256": "..."}

Writes are durable and atomic, and safe from many threads and processes at once:

* each file is written to a temporary name in the directory, flushed and fsynced, then
  moved into place with :func:`os.replace` (and the directory entry fsynced), so a file
  is either absent or complete;
* the JSON line is appended only after both files are in place, under an exclusive
  :func:`fcntl.flock` on ``corrections.jsonl``, in one ``write`` on an ``O_APPEND``
  descriptor, then fsynced: lines never interleave, and a line only ever refers to files
  already on disk. A partial last line (a crash mid-write) is closed with a newline
  before the next line is appended, so it never swallows a good line;
* when :meth:`CorrectionStore.add` fails (a file or the line cannot be written), it
  removes that correction's files before raising, so no file is left without a line (a
  line written but not fsynced then names missing files, and :func:`load` skips it).

A store holding its size limit (``max_bytes``, the app's ``DIGITREC_CORRECTIONS_MAX_SIZE``)
takes no more corrections: :meth:`CorrectionStore.add` raises :class:`CorrectionStoreFull`,
so that a public app's users (or a script) cannot fill its disk. The same image given the
same label again (a second click on "Save correction") is stored once.

:func:`load` reads the store back for training; corrupt lines (invalid JSON, a bad
label, a missing or malformed ``.npy``) are skipped with a :class:`CorruptCorrectionWarning`
naming the line, or raise with ``strict=True``. :func:`push_to_hub` uploads a consistent
snapshot of the store to a Hugging Face *dataset* repo.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import threading
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image

from digitrec.errors import DigitrecError, HubError
from digitrec.hub import PushResult, dataset_file, push_dataset_folder

log = logging.getLogger(__name__)

#: The labels a correction may give.
LABELS = tuple("0123456789")
#: The log of corrections in a store directory, one JSON object per line.
LOG_FILE = "corrections.jsonl"
#: Uploaded formats, kept as they are, with their file extension (by PIL format): those
#: :mod:`digitrec.normalize` opens (its ``FORMATS``), and MPO, Pillow's name for the
#: multi-picture JPEGs phones take (valid JPEG bytes). Other formats are refused.
_KEEP_FORMATS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "GIF": "gif", "BMP": "bmp", "DIB": "dib",
                 "WEBP": "webp", "TIFF": "tiff"}
#: NumPy dtype kinds of real numbers (float, signed and unsigned int, bool): a normalized image holds these.
_REAL_KINDS = "fiub"
_TEMP_PREFIX = ".tmp-"


class CorrectionError(DigitrecError, ValueError):
    """A correction cannot be stored (bad label, bad image...) or the store is corrupt (``strict``)."""


class CorrectionStoreFull(CorrectionError):
    """The store holds its size limit: the correction was not stored."""


class CorruptCorrectionWarning(UserWarning):
    """A line of ``corrections.jsonl`` (or a file it names) is unreadable and was skipped."""


@dataclass(frozen=True)
class _Pending:
    """A file written under a temporary name, to move into place."""

    temp: Path
    final: Path


class CorrectionStore:
    """A directory of corrections; :meth:`add` may be called from many threads and processes.

    ``max_bytes`` bounds the files the store holds (originals and 28x28 arrays; None: no
    limit). The store keeps an index of what its log holds (each image and label, and the
    bytes stored), brought up to date under the log's lock before each :meth:`add`, so that
    the limit and the repeats count what other processes stored too.
    """

    def __init__(self, directory: str | os.PathLike, max_bytes: int | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path = self.directory / LOG_FILE
        self.max_bytes = max_bytes
        self._thread_lock = threading.Lock()  # flock also excludes threads; this guards the index
        self._stored: dict[tuple[str, str], str] = {}  # (image SHA-256, corrected label) -> id
        self._stored_bytes = 0
        self._log_read = 0  # bytes of the log the index holds: up to the end of a complete line

    def add(
        self,
        image: Image.Image | bytes | bytearray,
        normalized: np.ndarray,
        predicted: str,
        corrected: str,
        model_revision: str,
    ) -> str:
        """Store one correction and return its id.

        ``image`` is the original picture (a PIL image, saved as PNG, or the uploaded file's
        bytes, kept as they are); ``normalized`` the (28, 28) model input; ``predicted`` the
        label the model gave; ``corrected`` the right label, one of ``"0"``..``"9"``;
        ``model_revision`` names the model that made the mistake (e.g. its origin).
        The same image with the same label again stores nothing and returns the id it has.
        Raises :class:`CorrectionError` for an invalid label, image or array, and
        :class:`CorrectionStoreFull` when storing it would pass ``max_bytes``.
        """
        corrected = validate_label(corrected)
        array = _checked_normalized(normalized)
        data, extension = _image_bytes(image)
        correction_id = uuid.uuid4().hex
        names = {"image": f"{correction_id}.{extension}", "normalized": f"{correction_id}.npy"}
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        record = {
            "id": correction_id,
            "time": datetime.now(UTC).isoformat(),
            "image": names["image"],
            "normalized": names["normalized"],
            "predicted": "" if predicted is None else str(predicted),
            "corrected": corrected,
            "model_revision": "" if model_revision is None else str(model_revision),
            "image_sha256": hashlib.sha256(data).hexdigest(),
        }
        key, size = (record["image_sha256"], corrected), len(data) + buffer.getbuffer().nbytes
        with self._locked_log() as fd:
            self._read_new_lines(fd)
            stored = self._stored.get(key)
            if stored is not None:
                log.info("correction %s given again: nothing stored", stored)
                return stored
            if self.max_bytes is not None and self._stored_bytes + size > self.max_bytes:
                log.warning("corrections store %s is full (%d bytes); a correction was refused",
                            self.directory, self._stored_bytes)
                raise CorrectionStoreFull(
                    "Corrections are paused: the store holds all it may "
                    f"({self.max_bytes / 1024**2:,.0f} MB). Nothing was saved; thank you all the same."
                )
            pending: list[_Pending] = []
            try:  # on any failure, no file of this correction stays behind (temporary or moved)
                pending.append(self._write_temp(data, self.directory / names["image"]))
                pending.append(self._write_temp(buffer.getvalue(), self.directory / names["normalized"]))
                for item in pending:
                    os.replace(item.temp, item.final)
                _fsync_directory(self.directory)
                self._log_read = _append(fd, json.dumps(record, ensure_ascii=True, sort_keys=True) + "\n")
            except BaseException:
                for item in pending:  # the names hold a fresh uuid: these files are ours alone
                    item.temp.unlink(missing_ok=True)
                    item.final.unlink(missing_ok=True)
                raise
            self._stored[key] = correction_id
            self._stored_bytes += size
        log.info("stored correction %s: %s -> %s", correction_id, record["predicted"], corrected)
        return correction_id

    # -- internals ------------------------------------------------------------------------

    @contextmanager
    def _locked_log(self) -> Iterator[int]:
        """A descriptor of the log (appending, created if missing), this store's lock and the
        log's exclusive flock held while the caller checks, writes and appends."""
        with self._thread_lock:
            fd = os.open(self.log_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    yield fd
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def _read_new_lines(self, fd: int) -> None:
        """Add the log's complete lines after ``_log_read`` (this process's or others') to the
        index. Unreadable lines are skipped here; :func:`load` reports them."""
        end = os.fstat(fd).st_size
        if end < self._log_read:  # the log was replaced: index it again
            self._stored, self._stored_bytes, self._log_read = {}, 0, 0
        new = os.pread(fd, end - self._log_read, self._log_read)
        new = new[: new.rfind(b"\n") + 1]
        self._log_read += len(new)
        for line in new.splitlines():
            try:
                record = json.loads(line)
                key = (record["image_sha256"], record["corrected"])
                files = [self.directory / record[name] for name in ("image", "normalized")]
            except (ValueError, TypeError, KeyError):
                continue
            self._stored.setdefault(key, record.get("id"))
            self._stored_bytes += sum(path.stat().st_size for path in files if path.is_file())

    def _write_temp(self, data: bytes, final: Path) -> _Pending:
        fd, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=final.suffix, dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return _Pending(Path(name), final)


def _append(fd: int, line: str) -> int:
    """Append ``line`` to the log open (and flocked) as ``fd`` in one write, fsynced; returns
    the log's new size. A partial last line left by a crash is closed first."""
    payload = line.encode("utf-8")
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        payload = b"\n" + payload  # close a partial line left by a crash
    written = os.write(fd, payload)
    while written < len(payload):  # regular files write fully; be safe anyway
        written += os.write(fd, payload[written:])
    os.fsync(fd)
    return size + len(payload)


def validate_label(label: Any) -> str:
    """``label`` if it is one of ``"0"``..``"9"``; raises :class:`CorrectionError` otherwise."""
    if not isinstance(label, str) or label not in LABELS:
        raise CorrectionError(f"Invalid correction {label!r}: the corrected label must be one of \"0\"..\"9\".")
    return label


def load(directory: str | os.PathLike, strict: bool = False) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """The corrections in ``directory``: images (n, 28, 28) float32, labels (n,) int64, records.

    Records are the JSON lines, in order. A corrupt line (invalid JSON, missing fields,
    a label outside "0".."9", a missing or malformed ``.npy``) is skipped with a
    :class:`CorruptCorrectionWarning` naming the file and line; with ``strict=True`` it
    raises :class:`CorrectionError` instead. A missing store loads as empty. The same image
    given the same label again is one sample: only its first line is returned (stores
    written before :meth:`CorrectionStore.add` refused repeats may log a second click on
    "Save correction" twice).
    """
    directory = Path(directory)
    path = directory / LOG_FILE
    images: list[np.ndarray] = []
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    if path.is_file():
        raw = _read_log(path)
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                record, array = _parse(line, directory)
            except ValueError as exc:
                problems.append(f"{path}, line {number}: {exc}")
                continue
            sample = (str(record.get("image_sha256") or number), record["corrected"])
            if sample in seen:
                continue
            seen.add(sample)
            records.append(record)
            images.append(array)
    for problem in problems:
        if strict:
            raise CorrectionError(f"Corrupt correction store: {problem}")
        warnings.warn(f"skipped a corrupt correction: {problem}", CorruptCorrectionWarning, stacklevel=2)
        log.warning("skipped a corrupt correction: %s", problem)
    stacked = np.stack(images).astype(np.float32) if images else np.empty((0, 28, 28), np.float32)
    labels = np.array([int(r["corrected"]) for r in records], dtype=np.int64)
    return stacked, labels, records


def _read_log(path: Path) -> bytes:
    """The log's bytes, read under a shared lock so that no half-appended line is read."""
    with open(path, "rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        try:
            return handle.read()
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _parse(line: bytes, directory: Path) -> tuple[dict[str, Any], np.ndarray]:
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not valid JSON ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    missing = [key for key in ("id", "image", "normalized", "corrected") if not isinstance(record.get(key), str)]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    if record["corrected"] not in LABELS:
        raise ValueError(f"invalid label {record['corrected']!r}")
    for key in ("image", "normalized"):
        name = record[key]
        if Path(name).name != name or name.startswith("."):
            raise ValueError(f"{key} file name {name!r} is not a plain file name")
        if not (directory / name).is_file():
            raise ValueError(f"{key} file {name} is missing")
    try:
        loaded = np.load(directory / record["normalized"], allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{record['normalized']} is unreadable ({exc})") from None
    try:
        return record, _as_normalized(loaded)
    except ValueError as exc:
        raise ValueError(f"{record['normalized']} {exc}") from None


def _checked_normalized(normalized: Any) -> np.ndarray:
    """``normalized`` as the float32 array :meth:`CorrectionStore.add` stores; raises :class:`CorrectionError`."""
    try:
        return _as_normalized(normalized)
    except ValueError as exc:
        raise CorrectionError(f"The normalized image {exc}.") from None


def _as_normalized(value: Any) -> np.ndarray:
    """``value`` as a (28, 28) float32 model input, or a ValueError saying why it is not one.

    One rule for :meth:`CorrectionStore.add` and :func:`load`, so what is stored loads back.
    Only real numbers pass: strings would be parsed and complex values silently truncated.
    """
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        raise ValueError("is not an array of numbers") from None
    if array.dtype.kind not in _REAL_KINDS:
        raise ValueError(f"holds {array.dtype} values, not real numbers")
    if array.shape != (28, 28):
        raise ValueError(f"has shape {array.shape}, expected (28, 28)")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ValueError("contains NaN or infinite values")
    return array


def _image_bytes(image: Any) -> tuple[bytes, str]:
    """The bytes to store for ``image`` and their file extension."""
    if isinstance(image, Image.Image):
        buffer = io.BytesIO()
        frame = image if image.mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16") else image.convert("RGBA")
        frame.save(buffer, format="PNG")
        return buffer.getvalue(), "png"
    if isinstance(image, (bytes, bytearray)):
        data = bytes(image)
        if not data:
            raise CorrectionError("The image is empty (0 bytes).")
        try:
            with Image.open(io.BytesIO(data)) as opened:
                fmt = opened.format
        except Exception:
            raise CorrectionError("The image bytes are not a readable image file.") from None
        if fmt in _KEEP_FORMATS:
            return data, _KEEP_FORMATS[fmt]
        raise CorrectionError(f"Unsupported image format {fmt}; send PNG, JPEG, GIF, BMP, WebP or TIFF.")
    raise CorrectionError(f"Expected a PIL image or image file bytes, got {type(image).__name__}.")


def _fsync_directory(directory: Path) -> None:
    """Make renames in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- the Hub ------------------------------------------------------------------------------------


def push_to_hub(directory: str | os.PathLike, repo_id: str, *, token: str | None = None,
                message: str | None = None) -> PushResult:
    """Upload the correction store to the Hugging Face *dataset* repo ``repo_id`` in one commit.

    Uploads a consistent snapshot: ``corrections.jsonl`` as it is (read under the lock,
    up to its last complete line) and the files its lines refer to; temporary files are
    never uploaded. The repo is created private if missing; a public one is refused. The
    log pushed is the repo's log extended with the local lines it lacks (by id), so that a
    push never drops corrections pushed before: from a store since emptied (a Space's
    storage reset), or from another replica's store. The commit applies to the head the repo's log was read
    at; a push in between makes it fail, to be run again. ``token`` defaults to ``HF_TOKEN``
    or ``hf auth login``. Raises :class:`~digitrec.errors.HubError` with an actionable
    message on failure (see :func:`digitrec.hub.push_dataset_folder`).
    """
    directory = Path(directory)
    log_path = directory / LOG_FILE
    if not log_path.is_file():
        raise HubError(f"{directory} holds no {LOG_FILE}; nothing was pushed")
    raw = _read_log(log_path)
    raw = raw[: raw.rfind(b"\n") + 1]
    remote, head = dataset_file(repo_id, LOG_FILE, token=token)
    with tempfile.TemporaryDirectory(prefix="digitrec-corrections-") as snapshot:
        snapshot_dir = Path(snapshot)
        (snapshot_dir / LOG_FILE).write_bytes(_extended_log(remote or b"", raw))
        for line in raw.split(b"\n"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            for key in ("image", "normalized"):
                name = record.get(key) if isinstance(record, dict) else None
                if isinstance(name, str) and Path(name).name == name and (directory / name).is_file():
                    shutil.copy2(directory / name, snapshot_dir / name)
        return push_dataset_folder(snapshot_dir, repo_id, token=token, message=message or "Add digit corrections",
                                   parent_commit=head)


def _extended_log(remote: bytes, local: bytes) -> bytes:
    """The lines of log ``remote``, then those of ``local`` with an id it lacks. A local line
    that is no JSON object with an id (a line cut short by a crash: :func:`load` skips it) is
    left out, rather than added again at each push."""
    def ident(line: bytes) -> str | None:
        try:
            record = json.loads(line)
        except ValueError:
            return None
        return record.get("id") if isinstance(record, dict) else None

    lines = [line for line in remote.split(b"\n") if line.strip()]
    known = {ident(line) for line in lines} - {None}
    lines += [line for line in local.split(b"\n") if ident(line) not in known | {None}]
    return b"".join(line + b"\n" for line in lines)
