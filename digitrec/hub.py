"""Publish an artifacts directory to the Hugging Face Hub, and fetch it back safely.

Publishing uploads the whole directory as *one* commit, so every revision of the model
repo holds a model together with the config, metrics and card it was trained with, and
a commit SHA names that set exactly. Users' corrections go to a *dataset* repo the same
way (:func:`push_dataset_folder`, for :func:`digitrec.corrections.push_to_hub`).

Fetching resolves a branch, tag or commit SHA to a commit, downloads the files through
the huggingface_hub cache, and checks the model's types against the allowlist and
``config.json`` *before* returning, so an unsafe file is never handed to skops. When the
Hub cannot be reached, the cached copy of that revision is used and a note says so; if
nothing is cached, :class:`~digitrec.errors.HubUnavailableError` lets the caller fall
back to the bundled model.

The token comes from the ``token`` argument, ``HF_TOKEN`` or ``hf auth login``. It is
only ever handed to huggingface_hub: it is never logged, printed, or written to a file.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from huggingface_hub import (CommitOperationAdd, CommitOperationDelete, HfApi, ModelInfo, constants, get_token,
                             snapshot_download)
from huggingface_hub.utils import validate_repo_id
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from digitrec import serialization
from digitrec.artifacts import (CARD_FILE, CONFIG_FILE, MODEL_FILE, PIECE_VERIFIER_FILE, REQUIRED_FILES,
                                missing_required, read_json)
from digitrec.errors import DigitrecError, HubError, HubUnavailableError, UntrustedModelError

log = logging.getLogger(__name__)

#: The branch used when no revision is given.
DEFAULT_REVISION = "main"
#: Files downloaded from a model repo: the required ones, plus the piece verifier, the card
#: and plots if present.
FETCH_PATTERNS = [*REQUIRED_FILES, PIECE_VERIFIER_FILE, CARD_FILE, "*.png"]
#: Files the Hub keeps in every repo; a push never deletes them.
HUB_MANAGED_FILES = frozenset({".gitattributes"})
#: A cache blob named after its content's SHA-256 (LFS files), which :func:`_damaged_files` checks.
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class PushResult:
    """Where a push landed: the repo, the commit it created and a link to that commit, and
    whether the push made the repo, public until then, private."""

    repo_id: str
    commit_sha: str
    url: str
    made_private: bool = False


@dataclass
class FetchedModel:
    """A verified artifacts directory in the local Hub cache.

    ``commit`` is the full SHA the requested revision resolved to (also when the files
    came from the cache); ``notes`` says how the files were obtained if that is worth
    telling the user (e.g. "the Hub is unreachable, using the cached copy").
    """

    directory: Path
    commit: str
    notes: list[str] = field(default_factory=list)


class _HubUnreachable(Exception):
    """Internal: the Hub did not answer usefully (network error, offline mode, 5xx)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def hub_url(path: str) -> str:
    """The web address of ``path`` (``OWNER/NAME``, ``spaces/OWNER/NAME``...) on the Hub
    huggingface_hub talks to: ``HF_ENDPOINT`` (a mirror) or https://huggingface.co, so that a
    model from a mirror links to the mirror. Every link to the Hub is made here."""
    return f"{constants.ENDPOINT}/{path}"


# --------------------------------------------------------------------------- checks


def verify_artifacts(directory: str | Path, source: str | None = None) -> list[str]:
    """Check that ``directory`` holds a model that is safe to load; return its trusted types.

    The required files must be present, and the types named in ``model.skops`` must be
    exactly the ``trusted_types`` listed in ``config.json``, each on the allowlist; the
    same for the piece verifier when ``config.json`` declares one (``piece_verifier``).
    The files are only inspected, never deserialized. ``source`` names the directory in
    error messages (e.g. ``"owner/name@<sha>"``).

    Raises :class:`HubError` for missing files and :class:`UntrustedModelError` naming
    the offending types otherwise.
    """
    directory = Path(directory)
    source = source or str(directory)
    problem = missing_required(directory, source)
    if problem:
        raise HubError(problem)
    try:
        config = read_json(directory / CONFIG_FILE)
        verifier = config.get("piece_verifier")
    except (ValueError, AttributeError) as exc:
        raise UntrustedModelError(f"{source}: {CONFIG_FILE} is not a JSON object ({exc}); model not loaded") from exc
    found = _checked_types(directory, MODEL_FILE, config.get("trusted_types"), "trusted_types", source)
    if verifier is not None:
        if not (directory / PIECE_VERIFIER_FILE).is_file():
            raise HubError(f"{source}: {CONFIG_FILE} declares a piece verifier but {PIECE_VERIFIER_FILE} is missing")
        declared = verifier.get("trusted_types") if isinstance(verifier, dict) else None
        _checked_types(directory, PIECE_VERIFIER_FILE, declared, "piece_verifier.trusted_types", source)
    return found


def _checked_types(directory: Path, file: str, declared: object, key: str, source: str) -> list[str]:
    """The types ``file`` names outside skops' default trust, checked to be exactly the
    ``declared`` ones (``key`` in ``config.json``), each on the allowlist."""
    if not isinstance(declared, list) or not all(isinstance(name, str) for name in declared):
        raise UntrustedModelError(f"{source}: {CONFIG_FILE} has no '{key}' list of names; model not loaded")
    found = serialization.untrusted_types(directory / file)
    refused = sorted(name for name in found if not serialization.is_allowed(name))
    if refused:
        raise UntrustedModelError(
            f"{source}: {file} refused, it references types outside the allowlist: "
            f"{', '.join(refused)}. It was not loaded."
        )
    undeclared = sorted(set(found) - set(declared))
    unused = sorted(set(declared) - set(found))
    if undeclared or unused:
        details = []
        if undeclared:
            details.append(f"not declared in {CONFIG_FILE}: {', '.join(undeclared)}")
        if unused:
            details.append(f"declared but not in the file: {', '.join(unused)}")
        raise UntrustedModelError(
            f"{source}: {file} refused, its types do not match {CONFIG_FILE} {key} "
            f"({'; '.join(details)}). It was not loaded."
        )
    return found


# --------------------------------------------------------------------------- push


def push_artifacts(
    directory: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    message: str | None = None,
    token: str | None = None,
    card: str | None = None,
) -> PushResult:
    """Upload the artifacts ``directory`` to the model repo ``repo_id`` as a single commit.

    The repo is created if missing, private if ``private``; with ``private``, a public repo
    is made private before the commit, so the new model is never public (without it, the
    repo's visibility is left as it is: a private repo stays private). The commit makes the
    repo's ``main`` branch mirror the directory: every file is added or updated, and files from
    an earlier push that the directory no longer has (old plots...) are deleted, so a
    revision never mixes two training runs. Hidden files and folders are not uploaded.
    ``card``, if given, is published as the model card instead of the directory's
    (:func:`digitrec.card.card_for_repo`: the card for ``repo_id``), which is left as it is.
    The model is checked with :func:`verify_artifacts` first: what we publish, we can load.

    ``token`` defaults to ``HF_TOKEN`` or the token saved by ``hf auth login``.

    Raises :class:`HubError` with an actionable message (bad token, no write access...),
    :class:`HubUnavailableError` if the Hub cannot be reached (nothing is committed then),
    or :class:`UntrustedModelError` if the model would be refused at load time.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise HubError(f"{directory} is not a directory; nothing was pushed")
    verify_artifacts(directory)
    with _pushing(repo_id, token) as api:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        head = api.model_info(repo_id, revision=DEFAULT_REVISION)
        made_private = private and not head.private
        if made_private:
            api.update_repo_settings(repo_id, private=True)
            log.info("made %s private", repo_id)
        info = api.create_commit(
            repo_id,
            _commit_operations(directory, head, card),
            commit_message=message or f"Publish digitrec model from {directory.name}",
            repo_type="model",
            parent_commit=head.sha,  # fail (412) rather than clobber a concurrent push
        )
    log.info("pushed %s to %s at %s", directory, repo_id, info.oid)
    return PushResult(repo_id=repo_id, commit_sha=info.oid, url=info.commit_url, made_private=made_private)


def check_push_access(repo_id: str, *, token: str | None = None) -> None:
    """Fail now if a push to ``repo_id`` cannot succeed, before hours of work that would end
    in it (``training.train --push``): a malformed repo id, no token, a token the Hub rejects,
    a read-only token, or one whose user may not write to the repo's namespace. Errors and
    ``token`` as for :func:`push_artifacts`; a fine-grained token's rights are checked by the push.
    """
    owner, _, name = repo_id.partition("/")
    if not owner or not name:
        raise HubError(f"invalid repo id {repo_id!r}: expected OWNER/NAME; nothing was pushed")
    with _pushing(repo_id, token) as api:
        validate_repo_id(repo_id)
        account = api.whoami()
    namespaces = {account.get("name"), *(org.get("name") for org in account.get("orgs") or [])}
    if owner not in namespaces:
        raise HubError(f"the token is {account.get('name')}'s, who may not write to the '{owner}' namespace; "
                       f"nothing was pushed to {repo_id}")
    if (account.get("auth") or {}).get("accessToken", {}).get("role") == "read":
        raise HubError(f"the token is read-only: use a token with write access; nothing was pushed to {repo_id}")


def dataset_file(repo_id: str, filename: str, *, token: str | None = None) -> tuple[bytes | None, str | None]:
    """The file ``filename`` at the head of the *dataset* repo ``repo_id``, and that head's
    commit SHA, for a push that extends the file (``parent_commit`` of
    :func:`push_dataset_folder`). ``(None, None)`` when the repo does not exist yet,
    ``(None, sha)`` when it lacks the file. Errors and ``token`` as for :func:`push_artifacts`.
    """
    with _pushing(repo_id, token) as api:
        try:
            head = api.dataset_info(repo_id)
        except RepositoryNotFoundError:
            return None, None
        if filename not in {sibling.rfilename for sibling in head.siblings or []}:
            return None, head.sha
        path = api.hf_hub_download(repo_id, filename, repo_type="dataset", revision=head.sha)
        return Path(path).read_bytes(), head.sha


def push_dataset_folder(folder: str | Path, repo_id: str, *, message: str, token: str | None = None,
                        parent_commit: str | None = None) -> PushResult:
    """Add the files of ``folder`` to the private *dataset* repo ``repo_id`` in one commit.

    The repo is created private if missing; an existing public one is refused before
    anything is uploaded, since what is pushed this way (users' drawings) is not to be
    published. Files already there and not in ``folder`` stay. With ``parent_commit``, the
    commit applies only on top of it: if the repo changed since, nothing is committed (a
    :class:`HubError` says to push again). Errors and ``token`` as for :func:`push_artifacts`.
    """
    with _pushing(repo_id, token) as api:
        api.create_repo(repo_id, repo_type="dataset", private=True, exist_ok=True)
        if not api.dataset_info(repo_id).private:
            raise HubError(f"the dataset repo {repo_id} is public, and corrections hold users' drawings: "
                           f"make it private on the Hub (its Settings) or push to another repo; nothing was pushed")
        info = api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=str(folder),
                                 commit_message=message, parent_commit=parent_commit)
    log.info("pushed %s to dataset %s at %s", folder, repo_id, info.oid)
    return PushResult(repo_id=repo_id, commit_sha=info.oid, url=info.commit_url)


@contextmanager
def _pushing(repo_id: str, token: str | None) -> Iterator[HfApi]:
    """An ``HfApi`` with a write token (``token``, ``HF_TOKEN`` or ``hf auth login``'s) for a push
    to ``repo_id``, turning what can go wrong in the block into :class:`HubError` or
    :class:`HubUnavailableError` with an actionable message."""
    token = token or get_token()
    if not token:
        raise HubError(
            "no Hugging Face token: log in with `hf auth login` or set HF_TOKEN to a token with "
            "write access; nothing was pushed"
        )
    api = HfApi(token=token)
    try:
        yield api
    except HfHubHTTPError as exc:
        raise _push_error(exc, repo_id, token) from exc
    except HFValidationError as exc:
        raise HubError(f"invalid repo id {repo_id!r}: expected OWNER/NAME; nothing was pushed") from exc
    except OfflineModeIsEnabled as exc:
        raise HubUnavailableError(f"HF_HUB_OFFLINE is set: unset it to push to {repo_id}") from exc
    except httpx2.TransportError as exc:
        raise HubUnavailableError(
            f"cannot reach the Hub at {api.endpoint} ({_describe(exc)}); nothing was committed to {repo_id}"
        ) from exc
    except (OSError, RuntimeError, ValueError) as exc:  # upload failures, malformed answers
        raise HubError(_scrub(f"push to {repo_id} failed ({_describe(exc)}); nothing was committed", token)) from exc


def _commit_operations(directory: Path, head: ModelInfo, card: str | None) -> list:
    """The operations making ``main``, whose head is ``head``, mirror ``directory``.

    Every non-hidden file of ``directory`` is added (``card``'s text as the card, if given);
    remote files it lacks are deleted.
    """
    local: dict[str, Path | bytes] = {
        path.relative_to(directory).as_posix(): path
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    }
    if card is not None:
        local[CARD_FILE] = card.encode("utf-8")
    remote = [sibling.rfilename for sibling in head.siblings or []]
    stale = sorted(name for name in remote if name not in local and name not in HUB_MANAGED_FILES)
    return [CommitOperationDelete(path_in_repo=name) for name in stale] + [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=path) for name, path in local.items()
    ]


def _push_error(exc: HfHubHTTPError, repo_id: str, token: str) -> DigitrecError:
    status = _status(exc)
    namespace = repo_id.partition("/")[0]
    if status == 401:
        text = (
            "the Hub rejected the token (401): it is invalid, expired or revoked. Log in again with "
            f"`hf auth login` or set HF_TOKEN to a valid write token; nothing was pushed to {repo_id}"
        )
    elif status == 403:
        text = (
            f"the token may not write to {repo_id} (403): use a token with write access to the "
            f"'{namespace}' namespace; nothing was pushed"
        )
    elif isinstance(exc, RepositoryNotFoundError):
        text = f"{repo_id} was not found on the Hub ({status}) and could not be created; nothing was pushed"
    elif status == 412:
        text = f"{repo_id} changed while pushing (412); nothing was committed, run the push again"
    elif status is not None and status >= 500:
        return HubUnavailableError(f"the Hub failed with {status} while pushing to {repo_id}; nothing was committed")
    else:
        detail = f": {exc.server_message}" if exc.server_message else ""
        text = f"the Hub refused the push to {repo_id} ({status}){detail}"
    return HubError(_scrub(text, token))


# --------------------------------------------------------------------------- fetch


def fetch_model(repo_id: str, revision: str | None = None) -> FetchedModel:
    """Download and verify the model at ``repo_id`` / ``revision`` (branch, tag or full SHA).

    Returns the cache directory holding ``model.skops``, ``config.json``, ``metrics.json``
    (and ``README.md`` if present) and the full commit SHA the revision resolved to. If the
    Hub is unreachable, the copy of that revision in the local huggingface_hub cache is
    used and ``notes`` says so.

    Raises :class:`UntrustedModelError` (naming the types) if the model file references
    types outside the allowlist or other than those ``config.json`` declares: such a file
    is never loaded. Raises :class:`HubUnavailableError` if the Hub is unreachable and the
    revision is not cached, and :class:`HubError` if the Hub answers that the repo or
    revision does not exist (or is private and no valid token is set).
    """
    requested = revision or DEFAULT_REVISION
    notes: list[str] = []
    try:
        directory = _download(repo_id, requested)
    except _HubUnreachable as down:
        directory = _from_cache(repo_id, requested, down.reason)
        notes.append(
            f"the Hub is unreachable ({down.reason}); using the cached copy of {repo_id}@{requested} "
            f"(commit {directory.name})"
        )
        log.warning(notes[-1])
    commit = directory.name  # snapshot folders are named after the full commit SHA
    verify_artifacts(directory, source=f"{repo_id}@{commit}")
    return FetchedModel(directory=directory, commit=commit, notes=notes)


def _download(repo_id: str, revision: str) -> Path:
    """Resolve ``revision`` on the Hub and download its files; raise _HubUnreachable if it can't be asked."""
    try:
        # Ask the Hub first: snapshot_download would silently serve the cache if the Hub
        # were down, and we want to say when that happens.
        HfApi().model_info(repo_id, revision=revision)
        folder = Path(snapshot_download(repo_id, repo_type="model", revision=revision, allow_patterns=FETCH_PATTERNS))
        damaged = _damaged_files(folder)
        if damaged:  # the cache is trusted as it is: fetch those files again
            log.warning("cached %s of %s@%s damaged; downloading again", ", ".join(damaged), repo_id, revision)
            folder = Path(snapshot_download(repo_id, repo_type="model", revision=revision, allow_patterns=damaged,
                                            force_download=True))
        return folder
    except OfflineModeIsEnabled as exc:
        raise _HubUnreachable("offline mode, HF_HUB_OFFLINE is set") from exc
    except httpx2.TransportError as exc:
        raise _HubUnreachable(_describe(exc)) from exc
    except HfHubHTTPError as exc:
        status = _status(exc)
        if status is not None and (status >= 500 or status == 429):
            raise _HubUnreachable(f"the Hub answered {status}") from exc
        raise _fetch_error(exc, repo_id, revision) from exc
    except LocalEntryNotFoundError as exc:  # the connection dropped in the middle of the download
        raise _HubUnreachable(f"download interrupted: {_describe(exc)}") from exc
    except HFValidationError as exc:
        raise HubError(f"invalid Hub model {repo_id!r}@{revision!r}: expected OWNER/NAME[@REVISION]") from exc


def _from_cache(repo_id: str, revision: str, reason: str) -> Path:
    """The cached snapshot of ``revision``, or HubUnavailableError if it is not (fully) cached."""
    unavailable = f"the Hub is unreachable ({reason}) and {repo_id}@{revision} is not in the local cache"
    try:
        folder = Path(
            snapshot_download(
                repo_id, repo_type="model", revision=revision, allow_patterns=FETCH_PATTERNS, local_files_only=True
            )
        )
    except (LocalEntryNotFoundError, HFValidationError) as exc:
        raise HubUnavailableError(unavailable) from exc
    if not all((folder / name).is_file() for name in REQUIRED_FILES):
        raise HubUnavailableError(unavailable)
    damaged = _damaged_files(folder)
    if damaged:
        raise HubUnavailableError(f"the Hub is unreachable ({reason}) and the cached {', '.join(damaged)} of "
                                  f"{repo_id}@{revision} is damaged")
    return folder


def _damaged_files(folder: Path) -> list[str]:
    """The files of a cached snapshot whose bytes no longer match their blob's name: the
    huggingface_hub cache names an LFS file's blob (the model files) after its SHA-256,
    and trusts it from then on, so a truncated or altered blob would be served for ever."""
    damaged = []
    for path in sorted(folder.iterdir()):
        blob = path.resolve()
        if path.is_file() and _SHA256.fullmatch(blob.name):
            with open(blob, "rb") as handle:
                if hashlib.file_digest(handle, "sha256").hexdigest() != blob.name:
                    damaged.append(path.name)
    return damaged


def _fetch_error(exc: HfHubHTTPError, repo_id: str, revision: str) -> HubError:
    status = _status(exc)
    if isinstance(exc, RevisionNotFoundError):
        return HubError(f"{repo_id} has no revision {revision!r} (expected a branch, tag or full commit SHA)")
    if isinstance(exc, RepositoryNotFoundError):
        return HubError(
            f"{repo_id} was not found on the Hub ({status}); if it is private, log in with "
            "`hf auth login` or set HF_TOKEN"
        )
    if status == 401:
        return HubError(
            f"the Hub rejected the token (401) while fetching {repo_id}; log in again with "
            "`hf auth login` or unset HF_TOKEN"
        )
    detail = f": {exc.server_message}" if exc.server_message else ""
    return HubError(f"the Hub refused to serve {repo_id}@{revision} ({status}){detail}")


# --------------------------------------------------------------------------- helpers


def _status(exc: HfHubHTTPError) -> int | None:
    """The HTTP status of a failed Hub call, None when no response came."""
    return exc.response.status_code if exc.response is not None else None


def _describe(exc: BaseException) -> str:
    """A one-line description of a low-level error, without its traceback."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _scrub(text: str, token: str | None) -> str:
    """``text`` with ``token`` masked, in case a server echoed it back."""
    return text.replace(token, "***") if token else text
