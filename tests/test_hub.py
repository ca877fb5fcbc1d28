"""Publishing to and fetching from the Hub, against a local Hub over real HTTP.

Every test gets its own :class:`LocalHub` on 127.0.0.1 and its own huggingface_hub
home/cache under ``tmp_path``; the models are real (tiny) scikit-learn pipelines saved
with skops. huggingface_hub reads ``HF_ENDPOINT``, ``HF_HOME``... when it is imported, so
the ``hub`` fixture sets both the environment (for subprocesses) and the already-read
module constants (for this process).
"""

from __future__ import annotations

import builtins
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from huggingface_hub import HfApi, ModelCard, constants, snapshot_download
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import digitrec
from digitrec import corrections
from digitrec.corrections import CorrectionStore
from digitrec.artifacts import (BUNDLED_DIR, CARD_FILE, CONFIG_FILE, METRICS_FILE, MODEL_FILE, PIECE_VERIFIER_FILE,
                                read_json, write_json)
from digitrec.card import DEFAULT_REPO_ID
from digitrec.errors import HubError, HubUnavailableError, UntrustedModelError
from digitrec.features import Deskew
from digitrec.hub import fetch_model, push_artifacts
from digitrec.piece_verifier import make_verifier
from digitrec.segment import PIECE_FEATURES
from digitrec.serialization import save_model

try:  # tests/ is a plain directory (pytest puts it on sys.path) or a package
    from hub_server import LocalHub
except ImportError:  # pragma: no cover
    from tests.hub_server import LocalHub

ROOT = Path(__file__).resolve().parent.parent
USER = "tester"
TOKEN = "hf_localWriteToken_5d1f0c9a7b"
BAD_TOKEN = "hf_revokedToken_00000000000"
REPO = f"{USER}/digitrec"
ARTIFACT_FILES = (MODEL_FILE, CONFIG_FILE, METRICS_FILE, CARD_FILE)


# --------------------------------------------------------------------------- models


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as (n, 28, 28) float32 ink maps in [0, 1], with labels."""
    data = load_digits()
    images = np.kron(data.images, np.ones((3, 3))) / 16.0  # 24x24
    images = np.pad(images, ((0, 0), (2, 2), (2, 2))).astype(np.float32)
    return images, data.target


def write_artifacts(directory: Path, model, run: str, digits) -> Path:
    """A real artifacts directory: skops model, config, metrics and a model card."""
    images, labels = digits
    directory.mkdir(parents=True)
    types = save_model(model, directory / MODEL_FILE)
    write_json(directory / CONFIG_FILE, {
        "classes": [str(c) for c in range(10)],
        "trusted_types": types,
        "input": {"normalization_version": digitrec.NORMALIZATION_VERSION},
    })
    accuracy = float(model.score(images.reshape(len(images), -1), labels))
    write_json(directory / METRICS_FILE, {"run": run, "train_accuracy": round(accuracy, 4)})
    (directory / CARD_FILE).write_text(
        f"---\nlibrary_name: sklearn\ntags: [digitrec, mnist]\n---\n# digitrec ({run})\n\nA test model.\n",
        encoding="utf-8",
    )
    return directory


@pytest.fixture(scope="session")
def artifacts_v1(tmp_path_factory, digits) -> Path:
    images, labels = digits
    model = make_pipeline(Deskew(), PCA(10, random_state=0), LogisticRegression(max_iter=500))
    model.fit(images.reshape(len(images), -1), labels)
    return write_artifacts(tmp_path_factory.mktemp("runs") / "v1", model, "v1", digits)


@pytest.fixture(scope="session")
def artifacts_v2(tmp_path_factory, digits) -> Path:
    images, labels = digits
    model = make_pipeline(Deskew(), PCA(6, random_state=0), LogisticRegression(C=0.01, max_iter=500))
    model.fit(images.reshape(len(images), -1), labels)
    return write_artifacts(tmp_path_factory.mktemp("runs") / "v2", model, "v2", digits)


# --------------------------------------------------------------------------- local hub


def client_env(endpoint: str, home: Path) -> dict[str, str]:
    """Environment pointing huggingface_hub at the local hub, with its home in ``home``."""
    return {
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }


def subprocess_env(endpoint: str, home: Path, **extra: str) -> dict[str, str]:
    """This process's environment less its Hugging Face variables, pointed at the local hub
    (:func:`client_env`), with the project importable and ``extra``: for a command run by a test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    return {**env, **client_env(endpoint, home), "PYTHONPATH": str(ROOT), **extra}


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A running LocalHub, with this process's huggingface_hub pointed at it."""
    local = LocalHub(tmp_path / "hub-data", tokens={TOKEN: USER}).start()
    home = tmp_path / "hf-home"
    for name, value in client_env(local.endpoint, home).items():
        monkeypatch.setenv(name, value)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_OIDC_RESOURCE", "HF_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    patched = {
        "ENDPOINT": local.endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": local.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "AGENT_HARNESSES_PATH": str(home / ".agent_harnesses.json"),
        "HF_HUB_DISABLE_XET": True,
        "HF_HUB_OFFLINE": False,
    }
    for name, value in patched.items():
        monkeypatch.setattr(constants, name, value)
    yield local
    local.stop()


def cache_dir() -> Path:
    return Path(constants.HF_HUB_CACHE)


def sample_batch(digits, n: int = 50) -> np.ndarray:
    return digits[0][:n]


# --------------------------------------------------------------------------- tests


def test_push_then_fetch_by_branch_and_sha_round_trips_the_files(hub, artifacts_v1, monkeypatch):
    result = push_artifacts(artifacts_v1, REPO, token=TOKEN, message="first model")

    assert result.repo_id == REPO
    assert result.commit_sha == hub.head(REPO)
    assert len(result.commit_sha) == 40 and result.commit_sha in result.url
    assert hub.history(REPO)[0] == result.commit_sha and len(hub.history(REPO)) == 2  # initial + ours
    assert hub.files(REPO)[MODEL_FILE].is_lfs, "the binary model must go through the LFS upload path"
    assert not hub.files(REPO)[CONFIG_FILE].is_lfs

    monkeypatch.setenv("HF_TOKEN", TOKEN)  # downloads authenticated, as for a private repo
    by_branch = fetch_model(REPO)
    by_sha = fetch_model(REPO, result.commit_sha)

    for fetched in (by_branch, by_sha):
        assert fetched.commit == result.commit_sha
        assert fetched.notes == []
        for name in ARTIFACT_FILES:
            assert (fetched.directory / name).read_bytes() == (artifacts_v1 / name).read_bytes(), name
    # The LFS download went to the storage server, which must never see the token.
    cdn_requests = [r for r in hub.requests if r[0] == "cdn"]
    assert any(method == "GET" for _, method, _, _ in cdn_requests)
    assert not any(has_auth for *_, has_auth in cdn_requests)
    # The token is in no uploaded file and nowhere in the local cache.
    assert not any(TOKEN.encode() in data for data in hub.stored_bytes())
    assert not any(TOKEN.encode() in p.read_bytes() for p in cache_dir().rglob("*") if p.is_file())


def test_classifier_loads_a_pinned_revision_from_the_hub(hub, artifacts_v1, digits):
    sha = push_artifacts(artifacts_v1, REPO, token=TOKEN).commit_sha

    classifier = digitrec.load_model(f"{REPO}@{sha}")

    assert classifier.origin == f"{REPO}@{sha}"
    assert classifier.notes == []
    assert classifier.predict_proba_normalized(sample_batch(digits)).shape == (50, 10)


def test_second_push_is_a_new_commit_and_old_sha_still_serves_the_old_model(
    hub, artifacts_v1, artifacts_v2, digits, tmp_path
):
    run1 = tmp_path / "v1"
    shutil.copytree(artifacts_v1, run1)
    (run1 / "plots").mkdir()
    (run1 / "plots" / "confusion.txt").write_text("only in the first run\n")
    first = push_artifacts(run1, REPO, token=TOKEN)
    HfApi(token=TOKEN).create_tag(REPO, tag="v1", revision=first.commit_sha)
    second = push_artifacts(artifacts_v2, REPO, token=TOKEN, message="second model")

    assert second.commit_sha != first.commit_sha
    assert hub.history(REPO)[:2] == [second.commit_sha, first.commit_sha], "one commit per push"
    assert "plots/confusion.txt" in hub.files(REPO, first.commit_sha)
    assert "plots/confusion.txt" not in hub.files(REPO), "files the new run lacks are removed"

    latest = digitrec.load_model(REPO)
    pinned = digitrec.load_model(f"{REPO}@{first.commit_sha}")
    tagged = fetch_model(REPO, "v1")

    assert latest.origin == f"{REPO}@{second.commit_sha}"
    assert pinned.origin == f"{REPO}@{first.commit_sha}"
    assert tagged.commit == first.commit_sha
    assert latest.metrics["run"] == "v2" and pinned.metrics["run"] == "v1"
    batch = sample_batch(digits)
    assert not np.allclose(latest.predict_proba_normalized(batch), pinned.predict_proba_normalized(batch))


def test_hub_down_serves_the_cache_then_the_bundled_model(hub, artifacts_v1, tmp_path, monkeypatch):
    sha = push_artifacts(artifacts_v1, REPO, token=TOKEN).commit_sha
    online = digitrec.load_model(REPO)
    assert online.origin == f"{REPO}@{sha}" and online.notes == []

    hub.stop()

    cached = fetch_model(REPO)
    assert cached.commit == sha
    assert len(cached.notes) == 1 and "unreachable" in cached.notes[0] and "cache" in cached.notes[0]
    assert sha in cached.notes[0]
    assert fetch_model(REPO, sha).commit == sha
    from_cache = digitrec.load_model(REPO)
    assert from_cache.origin == f"{REPO}@{sha}"
    assert any("cache" in note and sha in note for note in from_cache.notes)
    with pytest.raises(HubUnavailableError, match="not in the local cache"):
        fetch_model(REPO, "never-fetched-branch")

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(HubUnavailableError, match="unreachable"):
        fetch_model(REPO)
    bundled = digitrec.load_model(REPO)
    assert bundled.origin == "bundled"
    assert any(REPO in note and "bundled" in note for note in bundled.notes)
    with pytest.raises(HubUnavailableError, match="unreachable"):  # what a command evaluating REPO needs
        digitrec.load_model(REPO, fallback=False)


def test_a_damaged_cached_model_is_downloaded_again_or_not_served(hub, artifacts_v1):
    """A cached model file cut short (a full disk, a killed copy) was served for ever, and
    failed to load. With the Hub up it is downloaded again; with the Hub down the cache is
    not used, and the app falls back to the bundled model with a note."""
    sha = push_artifacts(artifacts_v1, REPO, token=TOKEN).commit_sha
    blob = (fetch_model(REPO).directory / MODEL_FILE).resolve()
    blob.write_bytes(blob.read_bytes()[:1000])

    again = fetch_model(REPO)
    assert (again.directory / MODEL_FILE).read_bytes() == (artifacts_v1 / MODEL_FILE).read_bytes()
    assert digitrec.load_model(REPO).origin == f"{REPO}@{sha}"

    blob.write_bytes(blob.read_bytes()[:1000])
    hub.stop()
    with pytest.raises(HubUnavailableError, match="model.skops of .* is damaged"):
        fetch_model(REPO)
    bundled = digitrec.load_model(REPO)
    assert bundled.origin == "bundled" and any("damaged" in note for note in bundled.notes)


def test_offline_mode_serves_the_cache_and_says_so(hub, artifacts_v1, monkeypatch):
    sha = push_artifacts(artifacts_v1, REPO, token=TOKEN).commit_sha
    fetch_model(REPO)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    offline = fetch_model(REPO)

    assert offline.commit == sha
    assert len(offline.notes) == 1 and "HF_HUB_OFFLINE" in offline.notes[0] and sha in offline.notes[0]


def test_model_referencing_a_dangerous_callable_is_refused_and_never_loaded(hub, tmp_path, monkeypatch):
    evil = tmp_path / "evil"
    evil.mkdir()
    sio.dump(make_pipeline(FunctionTransformer(builtins.eval), FunctionTransformer(os.system)), evil / MODEL_FILE)
    dangerous = sorted(sio.get_untrusted_types(file=evil / MODEL_FILE))
    assert "builtins.eval" in dangerous
    # The attacker even declares the types in config.json: the allowlist still says no.
    write_json(evil / CONFIG_FILE, {"classes": list("0123456789"), "trusted_types": dangerous, "input": {}})
    write_json(evil / METRICS_FILE, {})
    repo = f"{USER}/innocent-looking"

    with pytest.raises(UntrustedModelError, match="builtins.eval"):
        push_artifacts(evil, repo, token=TOKEN)  # our publisher refuses it...
    assert hub.head(repo) is None

    api = HfApi(token=TOKEN)  # ...but anyone can put it on the Hub with other tools
    api.create_repo(repo)
    api.upload_folder(folder_path=evil, repo_id=repo)
    loads: list = []
    monkeypatch.setattr(sio, "load", lambda *args, **kwargs: loads.append(args))

    with pytest.raises(UntrustedModelError) as refused:
        fetch_model(repo)
    for name in dangerous:
        assert name in str(refused.value)
    with pytest.raises(UntrustedModelError, match="builtins.eval"):
        digitrec.load_model(repo)  # no silent fallback to the bundled model either
    assert loads == [], "skops must never deserialize the refused file"


def test_model_whose_types_differ_from_config_is_refused(hub, artifacts_v1, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(artifacts_v1, tampered)
    config = read_json(tampered / CONFIG_FILE)
    needed = config["trusted_types"]
    config["trusted_types"] = ["sklearn.svm.SVC"]  # allowed, but not what the file needs
    write_json(tampered / CONFIG_FILE, config)
    HfApi(token=TOKEN).create_repo(REPO)
    HfApi(token=TOKEN).upload_folder(folder_path=tampered, repo_id=REPO)

    with pytest.raises(UntrustedModelError) as refused:
        fetch_model(REPO)

    assert all(name in str(refused.value) for name in needed)
    assert "sklearn.svm.SVC" in str(refused.value)


def with_verifier(artifacts: Path, directory: Path, verifier) -> Path:
    """A copy of ``artifacts`` with ``verifier`` saved as its piece verifier, its types declared."""
    shutil.copytree(artifacts, directory)
    sio.dump(verifier, directory / PIECE_VERIFIER_FILE)
    config = read_json(directory / CONFIG_FILE)
    config["piece_verifier"] = {"trusted_types": sorted(sio.get_untrusted_types(file=directory / PIECE_VERIFIER_FILE))}
    write_json(directory / CONFIG_FILE, config)
    return directory


def test_piece_verifier_travels_with_the_model(hub, artifacts_v1, tmp_path):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, len(PIECE_FEATURES)))
    verifier = make_verifier().fit(features, features[:, 0] > 0)
    directory = with_verifier(artifacts_v1, tmp_path / "run", verifier)

    sha = push_artifacts(directory, REPO, token=TOKEN).commit_sha
    fetched = fetch_model(REPO, sha)
    classifier = digitrec.load_model(f"{REPO}@{sha}")

    assert (fetched.directory / PIECE_VERIFIER_FILE).read_bytes() == (directory / PIECE_VERIFIER_FILE).read_bytes()
    assert (classifier.piece_verifier.predict_proba(features) == verifier.predict_proba(features)).all()


def test_dangerous_piece_verifier_is_refused_and_never_loaded(hub, artifacts_v1, tmp_path, monkeypatch):
    evil = with_verifier(artifacts_v1, tmp_path / "evil", make_pipeline(FunctionTransformer(os.system)))
    HfApi(token=TOKEN).create_repo(REPO)
    HfApi(token=TOKEN).upload_folder(folder_path=evil, repo_id=REPO)
    loads: list = []
    monkeypatch.setattr(sio, "load", lambda *args, **kwargs: loads.append(args))

    with pytest.raises(UntrustedModelError, match=f"{PIECE_VERIFIER_FILE} refused.*system"):
        fetch_model(REPO)
    with pytest.raises(UntrustedModelError, match="system"):
        digitrec.load_model(REPO)
    assert loads == [], "skops must never deserialize the refused file"


def test_push_with_a_bad_token_fails_clearly_and_leaves_the_repo_unchanged(hub, artifacts_v1, artifacts_v2):
    first = push_artifacts(artifacts_v1, REPO, token=TOKEN)
    history = hub.history(REPO)

    with pytest.raises(HubError) as rejected:
        push_artifacts(artifacts_v2, REPO, token=BAD_TOKEN)

    message = str(rejected.value)
    assert "rejected the token (401)" in message
    assert BAD_TOKEN not in message
    assert hub.head(REPO) == first.commit_sha and hub.history(REPO) == history
    with pytest.raises(HubError, match="401"):
        push_artifacts(artifacts_v1, f"{USER}/new-repo", token=BAD_TOKEN)
    assert hub.head(f"{USER}/new-repo") is None


def test_push_without_any_token_says_how_to_log_in(hub, artifacts_v1):
    with pytest.raises(HubError, match="hf auth login"):
        push_artifacts(artifacts_v1, REPO)
    assert hub.head(REPO) is None


def test_push_refuses_an_incomplete_directory(hub, artifacts_v1, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(artifacts_v1, partial)
    (partial / METRICS_FILE).unlink()

    with pytest.raises(HubError, match=METRICS_FILE):
        push_artifacts(partial, REPO, token=TOKEN)
    assert hub.head(REPO) is None


def test_fetching_an_unknown_repo_or_revision_is_a_clear_error(hub, artifacts_v1):
    with pytest.raises(HubError, match="not found"):
        fetch_model(f"{USER}/missing")
    push_artifacts(artifacts_v1, REPO, token=TOKEN)
    with pytest.raises(HubError, match="no revision 'nope'"):
        fetch_model(REPO, "nope")


def run_push_cli(hub, directory: Path, token: str, home: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m training.push DIRECTORY --repo REPO ARGS`` (a later ``--repo`` wins)."""
    return subprocess.run(
        [sys.executable, "-m", "training.push", str(directory), "--repo", REPO, *args],
        cwd=ROOT, env=subprocess_env(hub.endpoint, home, HF_TOKEN=token), capture_output=True, text=True, timeout=120,
    )


def test_push_cli_prints_sha_and_url_and_never_the_token(hub, artifacts_v1, tmp_path):
    ok = run_push_cli(hub, artifacts_v1, TOKEN, tmp_path / "home", "--message", "from the CLI")

    assert ok.returncode == 0, ok.stderr
    sha = hub.head(REPO)
    assert sha in ok.stdout
    assert f"{hub.endpoint}/{REPO}/commit/{sha}" in ok.stdout
    assert hub.state.repos[REPO].commits[sha].title == "from the CLI"
    assert TOKEN not in ok.stdout + ok.stderr

    rejected = run_push_cli(hub, artifacts_v1, BAD_TOKEN, tmp_path / "home")

    assert rejected.returncode == 1
    errors = [line for line in rejected.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error:") and "401" in errors[0], rejected.stderr
    assert BAD_TOKEN not in rejected.stdout + rejected.stderr
    assert hub.head(REPO) == sha


def test_push_cli_private_makes_a_public_repo_private_never_the_reverse(hub, artifacts_v1, artifacts_v2, tmp_path):
    """``--private`` is what the user wants the repo to be: a new repo is created private, and a
    public one is made private, before the new model is committed, saying so; without it, a
    private repo stays private."""
    home = tmp_path / "home"
    assert run_push_cli(hub, artifacts_v1, TOKEN, home).returncode == 0
    assert not hub.state.repos[REPO].private
    hub.requests.clear()

    made = run_push_cli(hub, artifacts_v2, TOKEN, home, "--private")

    assert made.returncode == 0, made.stderr
    assert f"made {REPO} private (it was public)" in made.stdout.splitlines()
    assert hub.state.repos[REPO].private and hub.read(REPO, METRICS_FILE) == (artifacts_v2 / METRICS_FILE).read_bytes()
    calls = [(method, path) for role, method, path, _ in hub.requests if role == "hub"]
    made_private, committed = ("PUT", f"/api/models/{REPO}/settings"), ("POST", f"/api/models/{REPO}/commit/main")
    assert calls.index(made_private) < calls.index(committed), "private before the new model is committed"
    for args in (["--private"], []):  # already private: nothing to say; no --private: left private
        again = run_push_cli(hub, artifacts_v1, TOKEN, home, *args)
        assert again.returncode == 0 and "was public" not in again.stdout, again.stdout + again.stderr
        assert hub.state.repos[REPO].private
    created = run_push_cli(hub, artifacts_v1, TOKEN, home, "--private", "--repo", f"{USER}/new")
    assert created.returncode == 0 and "was public" not in created.stdout and hub.state.repos[f"{USER}/new"].private


def test_push_cli_publishes_the_card_written_for_the_repo_pushed_to(hub, tmp_path):
    """The bundled model's card names digitrec/digitrec-mnist; pushed to another repo (the
    README's publishing step), the card there names that repo in its title, usage, citation
    and model-index, links to the Hub it was pushed to (HF_ENDPOINT: here the local hub, not
    huggingface.co), and is otherwise the bundled card. The directory is left as it was."""
    target = f"{USER}/my-digits"
    before = {path.name: path.read_bytes() for path in BUNDLED_DIR.iterdir()}

    proc = run_push_cli(hub, BUNDLED_DIR, TOKEN, tmp_path / "home", "--repo", target)

    assert proc.returncode == 0, proc.stderr
    text = hub.read(target, CARD_FILE).decode("utf-8")
    card = ModelCard(text)
    assert f"\n# {target}\n" in text
    assert f'digitrec.load_model("{target}")' in text and f"{hub.endpoint}/{target}" in text
    assert f"({hub.endpoint}/spaces/" in text and "https://huggingface.co" not in text
    assert card.data.model_name == "my-digits" and DEFAULT_REPO_ID not in text
    bundled = before[CARD_FILE].decode("utf-8")
    assert text.replace(target, DEFAULT_REPO_ID).replace("name: my-digits", "name: digitrec-mnist").replace(
        hub.endpoint, "https://huggingface.co") == bundled
    assert {path.name: path.read_bytes() for path in BUNDLED_DIR.iterdir()} == before
    assert hub.read(target, MODEL_FILE) == before[MODEL_FILE]


def test_the_app_links_a_model_from_a_mirror_to_the_mirror(hub, artifacts_v1, tmp_path):
    """Served from the Hub HF_ENDPOINT names (a mirror; here the local hub), the page's
    "About the model" links the repo and its card there, not on huggingface.co."""
    sha = push_artifacts(artifacts_v1, REPO, token=TOKEN).commit_sha
    about = ("import digitrec\nfrom digitrec import serving\n"
             f"model = digitrec.load_model({REPO!r})\n"
             "print(serving.model_summary(model))\nprint(serving.model_card_url(model))\n")
    done = subprocess.run([sys.executable, "-c", about], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=subprocess_env(hub.endpoint, tmp_path / "home", GRADIO_ANALYTICS_ENABLED="False"))

    assert done.returncode == 0, done.stderr
    summary, card_url = done.stdout.splitlines()
    assert f"**[{REPO}]({hub.endpoint}/{REPO})** at revision `{sha[:12]}`" in summary
    assert card_url == f"{hub.endpoint}/{REPO}/blob/{sha}/{CARD_FILE}"


def test_corrections_cli_pushes_the_store_to_a_private_dataset_repo(hub, tmp_path):
    """What users corrected in the app reaches a dataset repo over real HTTP, without temp
    files; a later push adds to it; downloaded back, it trains like the local store."""
    store = CorrectionStore(tmp_path / "corrections")
    rng = np.random.default_rng(3)
    for corrected in "71":
        drawing = Image.fromarray(rng.integers(0, 255, (60, 40), dtype=np.uint8))
        store.add(drawing, rng.random((28, 28), dtype=np.float32), predicted="4", corrected=corrected,
                  model_revision="bundled")
    (store.directory / ".tmp-half-written.npy").write_bytes(b"partial")
    dataset = f"datasets/{USER}/fixes"  # the name the local hub keeps a dataset repo under

    pushed = run_push_cli(hub, store.directory, TOKEN, tmp_path / "home", "--corrections", "--repo", f"{USER}/fixes")

    assert pushed.returncode == 0, pushed.stderr
    assert hub.head(dataset) in pushed.stdout and f"{hub.endpoint}/{dataset}/commit/" in pushed.stdout
    assert hub.state.repos[dataset].private, "users' drawings are never published by default"
    records = corrections.load(store.directory)[2]
    expected = {".gitattributes", corrections.LOG_FILE} | {r[key] for r in records for key in ("image", "normalized")}
    assert set(hub.files(dataset)) == expected
    assert REPO not in hub.state.repos, "no model repo was touched"

    store.add(Image.new("L", (30, 30), 255), np.zeros((28, 28), np.float32), "8", "3", "bundled")
    assert run_push_cli(hub, store.directory, TOKEN, tmp_path / "home", "--corrections", "--repo",
                        f"{USER}/fixes").returncode == 0
    assert len(hub.history(dataset)) == 3, "initial commit and two pushes"
    downloaded = Path(snapshot_download(f"{USER}/fixes", repo_type="dataset", token=TOKEN,
                                        local_dir=tmp_path / "downloaded"))
    images, labels, _ = corrections.load(downloaded, strict=True)
    local_images, local_labels, _ = corrections.load(store.directory, strict=True)
    assert labels.tolist() == local_labels.tolist() == [7, 1, 3]
    np.testing.assert_array_equal(images, local_images)

    rejected = run_push_cli(hub, store.directory, BAD_TOKEN, tmp_path / "home", "--corrections", "--repo",
                            f"{USER}/fixes")
    assert rejected.returncode == 1 and "401" in rejected.stderr and BAD_TOKEN not in rejected.stderr


def test_corrections_are_never_pushed_to_a_public_dataset_repo(hub, tmp_path):
    """A dataset repo made public beforehand (by hand, or a typo naming someone's public one) is
    refused with one line saying why: users' drawings are not published, and nothing is uploaded."""
    store = CorrectionStore(tmp_path / "corrections")
    store.add(Image.new("L", (30, 30), 255), np.zeros((28, 28), np.float32), "8", "3", "bundled")
    HfApi(token=TOKEN).create_repo(f"{USER}/open-data", repo_type="dataset", private=False)
    dataset = f"datasets/{USER}/open-data"
    before = hub.files(dataset)

    pushed = run_push_cli(hub, store.directory, TOKEN, tmp_path / "home", "--corrections", "--repo", f"{USER}/open-data")

    assert pushed.returncode == 1 and "is public" in pushed.stderr and "Traceback" not in pushed.stderr, pushed.stderr
    assert hub.files(dataset) == before and not hub.state.repos[dataset].private, "nothing uploaded or changed"


def test_train_with_push_checks_the_token_and_repo_before_training(hub, tmp_path):
    """``train --push`` with a token the Hub rejects, or a namespace the token's user may not
    write to, stops at once with one line saying so: no training run that cannot be published."""
    env = subprocess_env(hub.endpoint, tmp_path / "home")
    train = [sys.executable, "-m", "training.train", "--data", "sklearn-digits", "--out", str(tmp_path / "out"),
             "--quick", "--models", "logreg", "--push"]
    for token, repo, message in ((BAD_TOKEN, REPO, "401"), (TOKEN, "someone-else/digitrec", "may not write"),
                                 (TOKEN, "no-slash", "expected OWNER/NAME")):
        done = subprocess.run([*train, repo], cwd=ROOT, env={**env, "HF_TOKEN": token}, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert not (tmp_path / "out").exists() and token not in done.stderr
    assert REPO not in hub.state.repos

    done = subprocess.run([*train, REPO], cwd=ROOT, env={**env, "HF_TOKEN": TOKEN}, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"commit: {hub.head(REPO)}" in done.stdout and set(hub.files(REPO)) >= {MODEL_FILE, CONFIG_FILE}


def test_a_push_from_a_smaller_store_keeps_the_corrections_pushed_before(hub, tmp_path):
    """Two stores pushed to one dataset repo (a Space's storage reset, or a second replica):
    the repo's log keeps the first store's corrections and adds the second's, once each,
    however often either is pushed; downloaded, it trains on all of them."""
    rng = np.random.default_rng(5)
    stores = [CorrectionStore(tmp_path / name) for name in ("before-reset", "after-reset")]
    for store, labels in zip(stores, ("0123", "45")):
        for corrected in labels:
            drawing = Image.fromarray(rng.integers(0, 255, (30, 30), dtype=np.uint8))
            store.add(drawing, rng.random((28, 28), dtype=np.float32), "9", corrected, "bundled")
    for store in (stores[0], stores[1], stores[1], stores[0]):
        corrections.push_to_hub(store.directory, f"{USER}/shared-fixes", token=TOKEN)

    downloaded = Path(snapshot_download(f"{USER}/shared-fixes", repo_type="dataset", token=TOKEN,
                                        local_dir=tmp_path / "downloaded"))
    _, labels, records = corrections.load(downloaded, strict=True)
    assert labels.tolist() == [0, 1, 2, 3, 4, 5] and len({r["id"] for r in records}) == 6


def test_the_readme_space_deploy_uploads_the_tracked_files_with_binaries_in_lfs(hub, tmp_path):
    """The README's "Running it as a Space" commands, run as written (OWNER and the scratch
    directory replaced): the Space gets exactly the repository's tracked files, the model and
    the images through LFS (the Hub refuses binary files otherwise), and no user corrections."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("### Running it as a Space", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    scratch = tmp_path / "space-files"
    env = subprocess_env(hub.endpoint, tmp_path / "home", HF_TOKEN=TOKEN)
    for command in block.strip().splitlines():
        command = command.replace("OWNER", USER).replace("/tmp/digitrec-space", str(scratch))
        done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stderr[-2000:])

    space = f"spaces/{USER}/digitrec"
    files = hub.files(space)
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert set(files) - {".gitattributes"} == set(tracked) - {".gitattributes"}
    binary = [name for name in tracked if b"\0" in (ROOT / name).read_bytes()[:8000]]
    assert "models/digitrec-mnist/model.skops" in binary and all(files[name].is_lfs for name in binary)
    assert hub.read(space, "app.py") == (ROOT / "app.py").read_bytes()
