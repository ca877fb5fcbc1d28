"""Configuration of the app, read from environment variables.

Every setting has a default, so ``python app.py`` works with nothing set: it serves the
bundled model on http://127.0.0.1:7860. A Hugging Face Space sets ``GRADIO_SERVER_NAME``
to ``0.0.0.0`` itself; choose the model there with ``DIGITREC_MODEL_REPO`` (and
optionally ``DIGITREC_MODEL_REVISION``) in the Space's variables.

=================================  ===================================================  ==========
variable                           meaning                                              default
=================================  ===================================================  ==========
``DIGITREC_MODEL_REPO``            Hub model repo ``OWNER/NAME`` to serve               (bundled)
``DIGITREC_MODEL_REVISION``        branch, tag or commit SHA of that repo               (default)
``DIGITREC_MODEL_DIR``             local artifacts directory to serve instead           (bundled)
``GRADIO_SERVER_NAME``             interface to listen on (``0.0.0.0`` for all)         127.0.0.1
``GRADIO_SERVER_PORT``             port to listen on                                    7860
``DIGITREC_MAX_FILE_SIZE``         largest upload, bytes or e.g. ``10mb``, ``500kb``    10mb
``DIGITREC_MAX_IMAGE_PIXELS``      largest image, width x height (read by normalize)    40000000
``DIGITREC_MAX_BATCH``             most images in one ``/predict_batch`` call           64
``DIGITREC_QUEUE_SIZE``            requests waiting at most; more are turned away       64
``DIGITREC_CONCURRENCY``           requests running the model at once, all endpoints    2
``DIGITREC_CORRECTIONS_DIR``       where users' corrections are stored                  corrections
``DIGITREC_CORRECTIONS_MAX_SIZE``  most bytes corrections may take, e.g. ``2gb``        1gb
=================================  ===================================================  ==========

``DIGITREC_MAX_FILE_SIZE`` also bounds each image in a zip archive sent to
``/predict_batch`` (see :mod:`digitrec.batch_input`), an image sent inside the request as a base64
data URL (refused from its length, before decoding), and with it every request body:
bodies over :attr:`Settings.max_request_body` (one such image plus 1 MiB) get HTTP 413
before they are read into memory. ``DIGITREC_CONCURRENCY`` is one limit
shared by every event that runs the model (the API endpoints and the page's own events),
not one per endpoint; ``DIGITREC_QUEUE_SIZE`` counts the requests waiting for it.

A set but empty variable counts as unset. Invalid values raise :class:`SettingsError`
naming the variable, when the settings are read (at start).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from digitrec.errors import DigitrecError

_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_REVISION_RE = re.compile(r"^[A-Za-z0-9._/-]+$")
_SIZE_RE = re.compile(r"^(\d+)\s*(b|kb|mb|gb)?$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
JSON_ALLOWANCE = 1024**2  # request bytes allowed besides one inline image (see max_request_body)


class SettingsError(DigitrecError, ValueError):
    """An environment variable has an invalid value; the message names it."""


@dataclass(frozen=True)
class Settings:
    """What the app serves, where it listens and the limits it enforces."""

    model_repo: str | None = None
    model_revision: str | None = None
    model_dir: Path | None = None
    server_name: str = "127.0.0.1"
    server_port: int = 7860
    max_file_size: int = 10 * 1024**2
    max_batch: int = 64
    queue_size: int = 64
    concurrency: int = 2
    corrections_dir: Path = Path("corrections")
    corrections_max_size: int = 1024**3

    @property
    def max_request_body(self) -> int:
        """Largest HTTP request body in bytes: an image at ``max_file_size`` as base64, plus JSON.

        Gradio reads a JSON body (an API call, possibly with an inline data-URL image)
        whole into memory before any handler runs; this bounds it (and any one upload).
        """
        return self.max_file_size * 4 // 3 + JSON_ALLOWANCE

    @property
    def model_source(self) -> str | None:
        """The argument for :func:`digitrec.load_model`: a directory, ``OWNER/NAME[@REV]`` or None."""
        if self.model_dir is not None:
            return str(self.model_dir)
        if self.model_repo:
            return f"{self.model_repo}@{self.model_revision}" if self.model_revision else self.model_repo
        return None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read the settings from ``environ`` (default: ``os.environ``)."""
        env = {k: v.strip() for k, v in (os.environ if environ is None else environ).items() if v.strip()}
        repo = env.get("DIGITREC_MODEL_REPO")
        revision = env.get("DIGITREC_MODEL_REVISION")
        directory = env.get("DIGITREC_MODEL_DIR")
        if repo is not None and not _REPO_RE.match(repo):
            raise SettingsError(f"DIGITREC_MODEL_REPO={repo!r}: expected OWNER/NAME, e.g. 'alice/digitrec-mnist'.")
        if revision is not None:
            if repo is None:
                raise SettingsError("DIGITREC_MODEL_REVISION is set but DIGITREC_MODEL_REPO is not.")
            if not _REVISION_RE.match(revision):
                raise SettingsError(f"DIGITREC_MODEL_REVISION={revision!r}: expected a branch, tag or commit SHA.")
        if directory is not None:
            if repo is not None:
                raise SettingsError("Set DIGITREC_MODEL_DIR or DIGITREC_MODEL_REPO, not both.")
            if not Path(directory).is_dir():
                raise SettingsError(f"DIGITREC_MODEL_DIR={directory!r} is not a directory.")
        # read on use by digitrec.normalize (tests change it on a running server); checked here
        # too, so that a bad value stops the app at start like any other
        _int(env, "DIGITREC_MAX_IMAGE_PIXELS", 1, low=1)
        return cls(
            model_repo=repo,
            model_revision=revision,
            model_dir=Path(directory) if directory is not None else None,
            server_name=env.get("GRADIO_SERVER_NAME", cls.server_name),
            server_port=_int(env, "GRADIO_SERVER_PORT", cls.server_port, low=1, high=65535),
            max_file_size=_size(env, "DIGITREC_MAX_FILE_SIZE", cls.max_file_size),
            max_batch=_int(env, "DIGITREC_MAX_BATCH", cls.max_batch, low=1),
            queue_size=_int(env, "DIGITREC_QUEUE_SIZE", cls.queue_size, low=1),
            concurrency=_int(env, "DIGITREC_CONCURRENCY", cls.concurrency, low=1),
            corrections_dir=Path(env.get("DIGITREC_CORRECTIONS_DIR", str(cls.corrections_dir))),
            corrections_max_size=_size(env, "DIGITREC_CORRECTIONS_MAX_SIZE", cls.corrections_max_size),
        )


def parse_whole_number(text: str, low: int, high: int | None = None) -> int:
    """``text`` as a whole number from ``low`` to ``high`` (no upper bound if None), or a
    ValueError saying what is wrong with it. The settings' rule, and the command lines'
    (:func:`digitrec.cli.whole_number`)."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise ValueError("expected a whole number") from None
    if value < low or (high is not None and value > high):
        raise ValueError(f"must be between {low} and {high}" if high is not None else f"must be at least {low}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        return parse_whole_number(raw, low, high)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r}: {exc}.") from None


def _size(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    match = _SIZE_RE.match(raw)
    if not match or int(match.group(1)) == 0:
        raise SettingsError(f"{name}={raw!r}: expected a size such as 10mb, 500kb or a number of bytes.")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]
