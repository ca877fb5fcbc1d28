"""A small Hugging Face Hub look-alike on 127.0.0.1, for tests that talk real HTTP.

It implements the part of the Hub's HTTP API that ``huggingface_hub`` 2.x uses to create
a model, dataset or Space repo, commit files to it (regular files inline, large or binary ones
through the LFS batch API) and download them back (``/resolve``, revision info, tree listing):

    POST /api/repos/create                              create a model, dataset or Space repo
    GET  /api/whoami-v2                                 who the token belongs to
    POST /api/validate-yaml                             README metadata check (always ok)
    GET  /api/models/{repo}[/revision/{rev}]            repo info, resolves rev to a SHA
    GET  /api/models/{repo}/tree/{rev}[/{path}]         file listing
    POST /api/models/{repo}/preupload/{rev}             regular or LFS upload mode per file
    POST /api/models/{repo}/commit/{rev}                NDJSON commit (header/file/lfsFile/deleted*)
    POST /api/models/{repo}/tag/{rev}                   create a tag
    PUT  /api/models/{repo}/settings                    make a repo private or public
    POST /{repo}.git/info/lfs/objects/batch             LFS upload instructions
    POST /{repo}.git/info/lfs/objects/verify            LFS upload check
    HEAD|GET /{repo}/resolve/{rev}/{path}               file metadata and content

For a dataset repo, ``/api/models/`` is ``/api/datasets/`` and ``/{repo}`` is
``/datasets/{repo}``, as on the Hub; the hub keeps it under that name (``datasets/OWNER/NAME``:
pass it so to the inspection helpers). The same for Spaces, with ``spaces``.

Like the real Hub, LFS files are stored apart: ``/resolve`` answers them with a redirect
to a second server (the "CDN", another port, so the client does not send it the token)
that serves and receives LFS objects through signed URLs.

File contents live in the hub's directory (e.g. a pytest ``tmp_path``), stored once by
hash; each commit is a full snapshot (path -> blob), kept in memory and named by a 40-hex
SHA computed from its tree, parent and message, as in git. Branches and tags map names
to commit SHAs.

Tokens: the hub is given ``{token: username}``. A request with any other bearer token is
answered 401 "Invalid credentials" and changes nothing; writes need a valid token whose
user owns the repo's namespace. :meth:`LocalHub.stop` takes the hub down (connections are
refused afterwards), for offline-fallback tests.

Responses are HTTP/1.0 (one request per connection), so nothing lingers once stopped.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

#: Files at least this large must go through LFS (as on the Hub).
LFS_SIZE_THRESHOLD = 10 * 1000 * 1000
#: The ``.gitattributes`` every new repo starts with (a short version of the Hub's default).
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in ("*.bin", "*.joblib", "*.npy", "*.npz", "*.pkl", "*.pt", "*.safetensors", "*.zip")
)
INVALID_TOKEN = "Invalid credentials in Authorization header"


# --------------------------------------------------------------------------- storage model


def git_blob_oid(data: bytes) -> str:
    """The git object id of a blob holding ``data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file git stores in place of an LFS object."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class Blob:
    """One file of a commit. ``oid`` is its git blob id (of the pointer, for LFS files)."""

    oid: str
    size: int
    lfs_sha256: str | None = None

    @property
    def is_lfs(self) -> bool:
        return self.lfs_sha256 is not None


@dataclass(frozen=True)
class Commit:
    """A full snapshot of a repo: every path and its blob."""

    sha: str
    parent: str | None
    title: str
    date: str
    files: dict[str, Blob]


@dataclass
class Repo:
    """A model repo: its commits and the refs pointing into them."""

    repo_id: str
    private: bool
    created_at: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        """The commit a branch, tag or full SHA names (``refs/heads/x`` style accepted)."""
        name = revision.removeprefix("refs/heads/").removeprefix("refs/tags/")
        sha = self.branches.get(name) or self.tags.get(name) or (revision if revision in self.commits else None)
        return self.commits.get(sha) if sha else None


class HubError(Exception):
    """An error answer: status, message, and the ``X-Error-Code`` the client dispatches on."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: dict[str, str] | None = None, body: dict[str, Any] | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers, self.body = headers or {}, body or {}


class HubState:
    """Repos, blobs and LFS objects, guarded by one lock. Knows nothing about HTTP."""

    def __init__(self, root: Path, tokens: dict[str, str]):
        self.root = Path(root)
        self.tokens = dict(tokens)
        self.repos: dict[str, Repo] = {}
        self.lock = threading.RLock()
        self.secret = secrets.token_bytes(16)
        self.upload_tickets: dict[str, tuple[str, int]] = {}
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        (self.root / "lfs").mkdir(parents=True, exist_ok=True)

    # ---- content
    def store_blob(self, data: bytes) -> Blob:
        oid = git_blob_oid(data)
        path = self.root / "blobs" / oid
        if not path.exists():
            _atomic_write(path, data)
        return Blob(oid=oid, size=len(data))

    def blob_bytes(self, blob: Blob) -> bytes:
        if blob.is_lfs:
            return (self.root / "lfs" / blob.lfs_sha256).read_bytes()
        return (self.root / "blobs" / blob.oid).read_bytes()

    def lfs_path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise HubError(400, f"invalid LFS oid {sha256!r}")
        return self.root / "lfs" / sha256

    def has_lfs_object(self, sha256: str, size: int) -> bool:
        path = self.lfs_path(sha256)
        return path.is_file() and path.stat().st_size == size

    def store_lfs_object(self, sha256: str, size: int, data: bytes) -> None:
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            raise HubError(400, "uploaded content does not match its oid and size")
        _atomic_write(self.lfs_path(sha256), data)

    # ---- signed URLs
    def sign(self, sha256: str) -> str:
        return hmac.new(self.secret, sha256.encode(), hashlib.sha256).hexdigest()

    def issue_upload_ticket(self, sha256: str, size: int) -> str:
        ticket = secrets.token_urlsafe(16)
        with self.lock:
            self.upload_tickets[ticket] = (sha256, size)
        return ticket

    # ---- repos
    def repo(self, repo_id: str) -> Repo:
        repo = self.repos.get(repo_id)
        if repo is None:
            raise HubError(404, "Repository not found", code="RepoNotFound")
        return repo

    def commit(self, repo: Repo, branch: str, title: str, files: dict[str, Blob]) -> Commit:
        """Record a new commit on ``branch`` whose snapshot is ``files``."""
        with self.lock:
            parent = repo.branches.get(branch)
            tree = hashlib.sha1(
                json.dumps({p: b.oid for p, b in sorted(files.items())}, sort_keys=True).encode()
            ).hexdigest()
            date = _now()
            body = f"tree {tree}\nparent {parent}\ndate {date} {time.perf_counter_ns()}\n\n{title}\n".encode()
            sha = hashlib.sha1(b"commit %d\0" % len(body) + body).hexdigest()
            commit = Commit(sha=sha, parent=parent, title=title, date=date, files=dict(files))
            repo.commits[sha] = commit
            repo.branches[branch] = sha
            return commit


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


# --------------------------------------------------------------------------- HTTP plumbing


REPO = r"(?P<repo>[^/]+/[^/]+?)"
#: ``/api/models/``, ``/api/datasets/`` or ``/api/spaces/``, and the ``datasets/`` or
#: ``spaces/`` before such a repo's own URLs.
KIND = r"(?P<kind>models|datasets|spaces)"
PREFIX = r"(?:(?P<kind>datasets|spaces)/)?"
#: Repo types other than models, as ``create_repo`` names them, and the prefix of their names.
PREFIXES = {"dataset": "datasets/", "space": "spaces/"}
REV = r"(?P<rev>[^/]+)"


class _Handler(BaseHTTPRequestHandler):
    """Dispatches each request to the method its ``routes`` entry names; HubError -> JSON error."""

    server: "_Server"
    routes: list[tuple[str, str, str]] = []  # (methods, path regex, method name)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    @property
    def hub(self) -> "LocalHub":
        return self.server.hub

    @property
    def state(self) -> HubState:
        return self.server.hub.state

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.hub.requests.append((self.server.role, self.command, url.path, "Authorization" in self.headers))
        try:
            for methods, pattern, name in self.routes:
                match = re.fullmatch(pattern, url.path)
                if match and self.command in methods.split("|"):
                    params = {k: unquote(v) if v is not None else None for k, v in match.groupdict().items()}
                    kind = params.pop("kind", None)
                    if kind in ("datasets", "spaces"):
                        params["repo"] = f"{kind}/{params['repo']}"  # the name the hub keeps it under
                    getattr(self, name)(**params)
                    return
            raise HubError(404, f"no route for {self.command} {url.path}")
        except HubError as err:
            self.send_json(err.status, {"error": err.message, **err.body}, headers=_error_headers(err))

    do_GET = do_HEAD = do_POST = do_PUT = _dispatch

    # ---- request helpers
    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def read_json(self) -> Any:
        try:
            return json.loads(self.read_body() or b"null")
        except json.JSONDecodeError as exc:
            raise HubError(400, f"invalid JSON body: {exc}") from exc

    def user(self) -> str | None:
        """The user the bearer token belongs to, None without one; 401 for an unknown token."""
        header = self.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        user = self.state.tokens.get(token) if scheme.lower() == "bearer" else None
        if user is None:
            raise HubError(401, INVALID_TOKEN)
        return user

    def writable_repo(self, repo_id: str) -> Repo:
        user = self.user()
        if user is None:
            raise HubError(401, "You must be authenticated to write to a repo")
        repo = self.readable_repo(repo_id, user)
        if _namespace(repo_id) != user:
            raise HubError(403, f"You don't have the rights to write to {repo_id}")
        return repo

    def readable_repo(self, repo_id: str, user: str | None = None) -> Repo:
        user = user or self.user()
        repo = self.state.repo(repo_id)
        if repo.private and _namespace(repo_id) != user:
            raise HubError(404, "Repository not found", code="RepoNotFound")
        return repo

    # ---- response helpers
    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> None:
        self.send(status, json.dumps(payload).encode(), {"Content-Type": content_type, **(headers or {})})


def _namespace(repo_id: str) -> str:
    """The owner of a repo the hub keeps as ``OWNER/NAME``, ``datasets/OWNER/NAME`` or ``spaces/OWNER/NAME``."""
    return _public_id(repo_id).split("/")[0]


def _public_id(repo_id: str) -> str:
    """``OWNER/NAME`` of a repo the hub keeps under a type prefix or none."""
    for prefix in PREFIXES.values():
        repo_id = repo_id.removeprefix(prefix)
    return repo_id


def _error_headers(err: HubError) -> dict[str, str]:
    headers = {"X-Error-Message": err.message, **err.headers}
    if err.code:
        headers["X-Error-Code"] = err.code
    return headers


def _resolve_or_404(repo: Repo, revision: str) -> Commit:
    commit = repo.resolve(revision)
    if commit is None:
        raise HubError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")
    return commit


def _as_bool(value: str | None) -> bool:
    return str(value).lower() in ("1", "true", "yes")


class _HubHandler(_Handler):
    """The Hub API and ``/resolve`` file endpoints."""

    routes = [
        ("POST", r"/api/repos/create", "create_repo"),
        ("GET", r"/api/whoami-v2", "whoami"),
        ("POST", r"/api/validate-yaml", "validate_yaml"),
        ("GET", rf"/api/{KIND}/{REPO}", "repo_info"),
        ("GET", rf"/api/{KIND}/{REPO}/revision/{REV}", "repo_info"),
        ("GET", rf"/api/{KIND}/{REPO}/tree/{REV}(?:/(?P<path>.*))?", "tree"),
        ("POST", rf"/api/{KIND}/{REPO}/preupload/{REV}", "preupload"),
        ("POST", rf"/api/{KIND}/{REPO}/commit/{REV}", "commit"),
        ("POST", rf"/api/{KIND}/{REPO}/tag/{REV}", "create_tag"),
        ("PUT", rf"/api/{KIND}/{REPO}/settings", "update_settings"),
        ("POST", rf"/{PREFIX}{REPO}\.git/info/lfs/objects/batch", "lfs_batch"),
        ("POST", rf"/{PREFIX}{REPO}\.git/info/lfs/objects/verify", "lfs_verify"),
        ("GET|HEAD", rf"/{PREFIX}{REPO}/resolve/{REV}/(?P<path>.+)", "resolve"),
    ]

    # ---- account and repos
    def whoami(self) -> None:
        user = self.user()
        if user is None:
            raise HubError(401, "You must be authenticated")
        self.send_json(200, {"type": "user", "name": user, "auth": {"accessToken": {"role": "write"}}})

    def create_repo(self) -> None:
        user = self.user()
        if user is None:
            raise HubError(401, "You must be authenticated to create a repo")
        payload = self.read_json() or {}
        namespace = payload.get("organization") or user
        kind = payload.get("type") or "model"
        if kind not in ("model", *PREFIXES):
            raise HubError(400, "this local hub only hosts model, dataset and Space repos")
        if kind == "space" and not payload.get("sdk"):
            raise HubError(400, "a Space needs an sdk")
        repo_id = f"{PREFIXES.get(kind, '')}{namespace}/{payload.get('name')}"
        if namespace != user:
            raise HubError(403, f"You don't have the rights to create a repo under {namespace}")
        with self.state.lock:
            if repo_id in self.state.repos:
                raise HubError(409, f"You already created this {kind} repo", body={"url": self.hub.url(repo_id)})
            private = payload.get("visibility", "private" if payload.get("private") else "public") == "private"
            repo = Repo(repo_id=repo_id, private=private, created_at=_now())
            self.state.repos[repo_id] = repo
            gitattributes = self.state.store_blob(DEFAULT_GITATTRIBUTES.encode())
            self.state.commit(repo, "main", "initial commit", {".gitattributes": gitattributes})
        name = _public_id(repo_id)
        self.send_json(200, {"url": self.hub.url(repo_id), "name": name, "id": name})

    def validate_yaml(self) -> None:
        self.read_body()
        self.send_json(200, {"errors": [], "warnings": []})

    def repo_info(self, repo: str, rev: str | None = None) -> None:
        entry = self.readable_repo(repo)
        commit = _resolve_or_404(entry, rev or "main")
        self.send_json(200, {
            "_id": hashlib.sha1(repo.encode()).hexdigest()[:24],
            "id": _public_id(repo),
            "modelId": _public_id(repo),
            "author": _namespace(repo),
            "sha": commit.sha,
            "lastModified": commit.date,
            "createdAt": entry.created_at,
            "private": entry.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": [{"rfilename": path} for path in sorted(commit.files)],
        })

    def create_tag(self, repo: str, rev: str) -> None:
        entry = self.writable_repo(repo)
        payload = self.read_json() or {}
        with self.state.lock:
            commit = _resolve_or_404(entry, rev)
            tag = payload.get("tag")
            if not tag or tag in entry.tags:
                raise HubError(409, f"tag {tag!r} already exists or is empty")
            entry.tags[tag] = commit.sha
        self.send_json(200, {"success": True})

    def update_settings(self, repo: str) -> None:
        """A repo's visibility: ``{"visibility": "private" | "public"}`` (huggingface_hub 2.x), or
        ``{"private": bool}`` (older clients). Other settings (``gated``...) are not kept here."""
        entry = self.writable_repo(repo)
        payload = self.read_json() or {}
        if not payload or set(payload) - {"visibility", "private"}:
            raise HubError(400, f"invalid settings {payload!r}: the local hub changes a repo's visibility only")
        visibility = payload.get("visibility", "private" if payload.get("private") else "public")
        if visibility not in ("private", "public"):
            raise HubError(400, f"invalid visibility {visibility!r}")
        with self.state.lock:
            entry.private = visibility == "private"
        self.send_json(200, {})

    # ---- listing
    def tree(self, repo: str, rev: str, path: str | None = None) -> None:
        commit = _resolve_or_404(self.readable_repo(repo), rev)
        prefix = (path or "").strip("/")
        recursive = _as_bool(self.query.get("recursive"))
        under = {p: b for p, b in commit.files.items() if not prefix or p.startswith(prefix + "/")}
        if prefix and not under:
            raise HubError(404, f"{prefix} does not exist at {rev}", code="EntryNotFound",
                           headers={"X-Repo-Commit": commit.sha})
        base = len(prefix) + 1 if prefix else 0
        folders: set[str] = set()
        entries = []
        for file_path, blob in sorted(under.items()):
            parts = file_path[base:].split("/")
            for depth in range(1, len(parts)):
                folders.add(file_path[:base] + "/".join(parts[:depth]))
            if recursive or len(parts) == 1:
                entries.append(self._file_entry(file_path, blob))
        for folder in sorted(folders):
            if recursive or "/" not in folder[base:]:
                oid = hashlib.sha1(folder.encode() + commit.sha.encode()).hexdigest()
                entries.append({"type": "directory", "oid": oid, "size": 0, "path": folder})
        self.send_json(200, entries)

    @staticmethod
    def _file_entry(path: str, blob: Blob) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "file", "oid": blob.oid, "size": blob.size, "path": path}
        if blob.is_lfs:
            pointer_size = len(lfs_pointer(blob.lfs_sha256, blob.size))
            entry["lfs"] = {"oid": blob.lfs_sha256, "size": blob.size, "pointerSize": pointer_size}
        return entry

    # ---- uploads
    def preupload(self, repo: str, rev: str) -> None:
        entry = self.writable_repo(repo)
        commit = _resolve_or_404(entry, rev)
        lfs_patterns = _lfs_patterns(self.state, commit)
        answers = []
        for item in (self.read_json() or {}).get("files", []):
            sample = base64.b64decode(item.get("sample", ""))
            path = item["path"]
            lfs = (
                item.get("size", 0) >= LFS_SIZE_THRESHOLD
                or b"\0" in sample  # binary content must go through LFS
                or any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path.rsplit("/", 1)[-1], p) for p in lfs_patterns)
            )
            answer = {"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}
            existing = commit.files.get(path)
            if existing is not None:  # lets the client skip unchanged files
                answer["oid"] = existing.lfs_sha256 or existing.oid
            answers.append(answer)
        self.send_json(200, {"files": answers, "commitOid": commit.sha})

    def lfs_batch(self, repo: str) -> None:
        self.writable_repo(repo)
        payload = self.read_json() or {}
        if payload.get("operation") != "upload":
            raise HubError(400, "only uploads go through the batch API here")
        objects = []
        for obj in payload.get("objects", []):
            oid, size = obj["oid"], int(obj["size"])
            if self.state.has_lfs_object(oid, size):
                objects.append({"oid": oid, "size": size})  # already stored: no actions, no upload
                continue
            ticket = self.state.issue_upload_ticket(oid, size)
            objects.append({
                "oid": oid,
                "size": size,
                "authenticated": True,
                "actions": {
                    "upload": {"href": f"{self.hub.cdn_endpoint}/lfs/{oid}?ticket={ticket}"},
                    "verify": {"href": f"{self.hub.endpoint}/{repo}.git/info/lfs/objects/verify"},
                },
            })
        self.send_json(200, {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
                       content_type="application/vnd.git-lfs+json")

    def lfs_verify(self, repo: str) -> None:
        self.writable_repo(repo)
        payload = self.read_json() or {}
        if not self.state.has_lfs_object(str(payload.get("oid")), int(payload.get("size", -1))):
            raise HubError(404, "LFS object not found or wrong size")
        self.send_json(200, {"success": True})

    def commit(self, repo: str, rev: str) -> None:
        entry = self.writable_repo(repo)
        if _as_bool(self.query.get("create_pr")):
            raise HubError(400, "pull requests are not supported by the local hub")
        lines = [json.loads(line) for line in self.read_body().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "the first NDJSON line must be the commit header")
        header = lines[0]["value"]
        with self.state.lock:
            if rev not in entry.branches:
                raise HubError(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
            head = entry.commits[entry.branches[rev]]
            parent = header.get("parentCommit")
            if parent and not head.sha.startswith(parent):
                raise HubError(412, f"A commit has happened since. Please refresh and try again. ({parent})")
            files = dict(head.files)
            for line in lines[1:]:
                self._apply(files, line.get("key"), line.get("value") or {})
            commit = self.state.commit(entry, rev, header.get("summary") or "update", files)
        self.send_json(200, {
            "success": True,
            "commitOid": commit.sha,
            "commitUrl": f"{self.hub.url(repo)}/commit/{commit.sha}",
            "hookOutput": "",
        })

    def _apply(self, files: dict[str, Blob], key: str | None, value: dict[str, Any]) -> None:
        """Apply one commit operation to the snapshot ``files`` (validating it first)."""
        path = str(value.get("path", "")).strip("/")
        if not path or ".." in path.split("/"):
            raise HubError(400, f"invalid path {path!r}")
        if key == "file":
            data = base64.b64decode(value.get("content", ""))
            if len(data) >= LFS_SIZE_THRESHOLD or b"\0" in data[:512]:
                raise HubError(400, f"{path}: binary or large files must be uploaded with LFS")
            files[path] = self.state.store_blob(data)
        elif key == "lfsFile":
            oid, size = value.get("oid"), value.get("size")
            if size is None:  # a copy of an LFS file already on the hub
                size = self.state.lfs_path(oid).stat().st_size if self.state.lfs_path(oid).is_file() else -1
            if not self.state.has_lfs_object(oid, int(size)):
                raise HubError(422, f"{path}: LFS object {oid} was not uploaded")
            files[path] = Blob(oid=git_blob_oid(lfs_pointer(oid, int(size))), size=int(size), lfs_sha256=oid)
        elif key == "deletedFile":
            if files.pop(path, None) is None:
                raise HubError(404, f"A file with this name doesn't exist: {path}", code="EntryNotFound")
        elif key == "deletedFolder":
            for name in [p for p in files if p.startswith(path + "/")]:
                del files[name]
        else:
            raise HubError(400, f"unknown commit operation {key!r}")

    # ---- downloads
    def resolve(self, repo: str, rev: str, path: str) -> None:
        commit = _resolve_or_404(self.readable_repo(repo), rev)
        blob = commit.files.get(path)
        if blob is None:
            raise HubError(404, f"{path} does not exist at {rev}", code="EntryNotFound",
                           headers={"X-Repo-Commit": commit.sha})
        headers = {"X-Repo-Commit": commit.sha, "ETag": f'"{blob.oid}"', "Accept-Ranges": "bytes"}
        if blob.is_lfs:  # like the Hub: redirect to the storage host, describing the target in X-Linked-*
            sha = blob.lfs_sha256
            headers.update({
                "Location": f"{self.hub.cdn_endpoint}/lfs/{sha}?sig={self.state.sign(sha)}",
                "X-Linked-Etag": f'"{sha}"',
                "X-Linked-Size": str(blob.size),
            })
            self.send(302, b"", headers)
            return
        data = self.state.blob_bytes(blob)
        self.send(200, data, {**headers, "Content-Type": "application/octet-stream"})


def _lfs_patterns(state: HubState, commit: Commit) -> list[str]:
    """Patterns marked ``filter=lfs`` in the commit's ``.gitattributes``."""
    blob = commit.files.get(".gitattributes")
    if blob is None:
        return []
    lines = state.blob_bytes(blob).decode(errors="replace").splitlines()
    return [line.split()[0] for line in lines if "filter=lfs" in line.split()[1:]]


class _CdnHandler(_Handler):
    """Storage for LFS objects: uploads with a one-time ticket, downloads with a signature."""

    routes = [
        ("PUT", r"/lfs/(?P<oid>[0-9a-f]{64})", "upload"),
        ("GET|HEAD", r"/lfs/(?P<oid>[0-9a-f]{64})", "download"),
    ]

    def upload(self, oid: str) -> None:
        with self.state.lock:
            expected = self.state.upload_tickets.pop(self.query.get("ticket", ""), None)
        if expected is None or expected[0] != oid:
            raise HubError(403, "invalid or used upload ticket")
        data = self.read_body()
        self.state.store_lfs_object(oid, expected[1], data)
        self.send(200, b"", {"ETag": f'"{hashlib.md5(data).hexdigest()}"'})

    def download(self, oid: str) -> None:
        if not hmac.compare_digest(self.query.get("sig", ""), self.state.sign(oid)):
            raise HubError(403, "invalid signature")
        path = self.state.lfs_path(oid)
        if not path.is_file():
            raise HubError(404, "no such object")
        self.send(200, path.read_bytes(), {"Content-Type": "application/octet-stream", "ETag": f'"{oid}"'})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hub: "LocalHub", role: str, handler: type[_Handler]):
        super().__init__(("127.0.0.1", 0), handler)
        self.hub, self.role = hub, role


# --------------------------------------------------------------------------- public face


class LocalHub:
    """A running local Hub: ``endpoint`` to point HF_ENDPOINT at, helpers to inspect repos.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. State survives a
    stop, so tests can inspect the repos after taking the hub down.
    """

    def __init__(self, root: str | Path, tokens: dict[str, str]):
        self.state = HubState(Path(root), tokens)
        #: (server role, method, path, whether an Authorization header was sent) per request.
        self.requests: list[tuple[str, str, str, bool]] = []
        self._servers: list[_Server] = []

    # ---- lifecycle
    def start(self) -> "LocalHub":
        if self._servers:
            raise RuntimeError("hub already running")
        self._servers = [_Server(self, "hub", _HubHandler), _Server(self, "cdn", _CdnHandler)]
        self._endpoints = [f"http://127.0.0.1:{server.server_address[1]}" for server in self._servers]
        for server in self._servers:
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"local-hub-{server.role}", daemon=True
            ).start()
        return self

    def stop(self) -> None:
        """Take the hub down: both servers stop listening, connections are refused."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    def __enter__(self) -> "LocalHub":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """Base URL of the Hub API (what HF_ENDPOINT should be)."""
        return self._endpoints[0]

    @property
    def cdn_endpoint(self) -> str:
        """Base URL of the LFS storage server the Hub redirects to."""
        return self._endpoints[1]

    def url(self, repo_id: str) -> str:
        return f"{self.endpoint}/{repo_id}"

    # ---- inspection helpers for tests
    def head(self, repo_id: str, branch: str = "main") -> str | None:
        """The commit SHA ``branch`` points to, None if the repo or branch does not exist."""
        repo = self.state.repos.get(repo_id)
        return repo.branches.get(branch) if repo else None

    def files(self, repo_id: str, revision: str = "main") -> dict[str, Blob]:
        """The snapshot at ``revision``: path -> Blob."""
        commit = self.state.repo(repo_id).resolve(revision)
        if commit is None:
            raise KeyError(revision)
        return dict(commit.files)

    def read(self, repo_id: str, path: str, revision: str = "main") -> bytes:
        """The content of ``path`` at ``revision``."""
        return self.state.blob_bytes(self.files(repo_id, revision)[path])

    def history(self, repo_id: str, branch: str = "main") -> list[str]:
        """Commit SHAs of ``branch``, newest first."""
        repo = self.state.repo(repo_id)
        sha, shas = repo.branches.get(branch), []
        while sha:
            shas.append(sha)
            sha = repo.commits[sha].parent
        return shas

    def stored_bytes(self) -> list[bytes]:
        """Every blob and LFS object the hub stores (to check no secret was uploaded)."""
        return [path.read_bytes() for path in sorted(self.state.root.rglob("*")) if path.is_file()]

