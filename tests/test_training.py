"""The whole training pipeline end to end, on scikit-learn's bundled digits (fresh-clone safe)."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from huggingface_hub import ModelCard
from PIL import Image
from sklearn.svm import SVC

import digitrec
from digitrec import plots, serving
from digitrec.card import write_card
from digitrec.data import describe_source, load_sklearn_digits
from digitrec.normalize import normalize_many
from digitrec.selection import CandidateResult, chosen, served_digits
from digitrec.styles import NOT_A_DIGIT, cut_pieces, sketched_digits, touching_pairs
from digitrec.zoo import CANDIDATES
from training import train, train_verifier

ROOT = Path(__file__).resolve().parent.parent
PLOTS = ["confusion_matrix.png", "roc_curves.png", "precision_recall_curves.png", "misclassified.png",
         "comparison.png"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("artifacts") / "digitrec-quick"
    proc = subprocess.run(
        [sys.executable, "-m", "training.train", "--data", "sklearn-digits", "--out", str(out), "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


def test_every_family_compared(quick_run):
    out, stdout = quick_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert [c["name"] for c in metrics["candidates"]] == list(CANDIDATES)
    for c in metrics["candidates"]:
        assert 0.5 < c["val_accuracy"] <= 1 and 0.5 < c["test_accuracy"] <= 1
        assert c["fit_seconds"] > 0 and c["predict_ms_per_image"] > 0
    top = max(c["val_accuracy"] for c in metrics["candidates"])
    tied = [c["name"] for c in metrics["candidates"] if c["val_accuracy"] == top]  # chosen on validation, not test
    assert metrics["chosen"]["name"] == max(tied, key=lambda name: CANDIDATES[name].augment_copies)
    assert "elapsed" in stdout and "left" in stdout


def test_artifacts_complete(quick_run):
    out, _ = quick_run
    for name in ["model.skops", "piece_verifier.skops", "README.md", "config.json", "metrics.json", *PLOTS]:
        assert (out / name).is_file(), name
    for name in PLOTS:
        assert Image.open(out / name).size[0] > 300
    config = json.loads((out / "config.json").read_text())
    assert config["classes"] == [str(d) for d in range(10)]
    assert config["input"]["normalization_version"] == digitrec.NORMALIZATION_VERSION
    assert "scikit-learn" in config["library_versions"]
    assert all(t.split(".")[0] in ("sklearn", "numpy", "scipy", "digitrec") for t in config["trusted_types"])
    assert digitrec.load_model(out).piece_verifier is not None


def test_card_parses_with_model_index(quick_run):
    out, _ = quick_run
    card = ModelCard.load(out / "README.md")
    metrics = json.loads((out / "metrics.json").read_text())
    data = card.data
    assert data.library_name == "sklearn" and data.license and data.tags
    accuracy = next(r for r in data.eval_results if r.metric_type == "accuracy")
    assert accuracy.metric_value == round(metrics["test_accuracy"], 4)
    for section in ["Model description", "Intended uses & limitations", "Training data", "Training procedure",
                    "Hyperparameters", "Evaluation", "Reading whole numbers", "How to use", "Citation"]:
        assert f"# {section}" in card.text, section
    for title, name in [("Confusion matrix", plots.CONFUSION_PNG), ("ROC curves", plots.ROC_PNG),
                        ("Precision-recall curves", plots.PR_PNG), ("Misclassified digits", plots.ERRORS_PNG),
                        ("Candidate comparison", plots.COMPARISON_PNG)]:
        assert f"![{title}]({name})" in card.text, "each plot's alt text names it"
    assert metrics["cpu_count"] == os.cpu_count()
    assert f"minutes on {os.cpu_count()} CPU cores)." in card.text


def test_a_run_on_sklearn_digits_never_calls_its_data_mnist(quick_run, tmp_path):
    """The card's metadata, text and confusion matrix name the data the model was trained and
    tested on: scikit-learn's digits, not MNIST (whose images' scale the card still refers to)."""
    out, _ = quick_run
    metrics = json.loads((out / "metrics.json").read_text())
    card = ModelCard.load(out / "README.md")
    assert metrics["data"]["source"] == "sklearn-digits"
    assert not card.data.datasets and "mnist" not in card.data.tags
    assert {r.dataset_name for r in card.data.eval_results} == {"scikit-learn digits"}
    assert "accuracy on the scikit-learn digits test split" in card.text
    assert "numbers from scikit-learn digits training digits" in card.text
    assert card.text.count("MNIST") == card.text.count("MNIST's scale"), "only the image scale is MNIST's"
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # the title as text, not glyph outlines
        svg = plots.confusion(metrics["confusion_matrix"], [str(d) for d in range(10)],
                              describe_source(metrics["data"]["source"]).name, tmp_path / "confusion.svg")
    assert "Confusion matrix (scikit-learn digits test)" in svg.read_text()


def test_card_commands_reproduce_the_run(quick_run):
    """The card's "Reproduce with" commands parse with the training CLIs and give the options
    the run was made with."""
    out, _ = quick_run
    metrics = json.loads((out / "metrics.json").read_text())
    train_line, verifier_line = _reproduce_commands((out / "README.md").read_text())
    assert train_line[:3] == ["python", "-m", "training.train"]
    args = train.parse_args(train_line[3:])
    assert (args.data, args.quick, args.models, args.seed, args.extra_data) == (
        "sklearn-digits", True, list(CANDIDATES), 0, None)
    assert verifier_line[:3] == ["python", "-m", "training.train_verifier"]
    args = train_verifier.parse_args(verifier_line[3:])
    assert (args.data, args.numbers, args.seed) == ("sklearn-digits", metrics["piece_verifier"]["n_numbers"], 0)
    assert metrics["piece_verifier"]["n_numbers"] == 60


def _reproduce_commands(card: str) -> list[list[str]]:
    """The card's "Reproduce with `...`" commands, split into arguments."""
    return [shlex.split(command) for command in re.findall(r"Reproduce with `([^`]*)`", card)]


def test_card_layout_is_short_and_tidy(classifier, tmp_path):
    """Every parameter of the model in a short cell (the calibration folds' row indices once
    filled cells of thousands of characters), no heading right above another, and one
    distorted copy in the singular."""
    metrics = {**classifier.metrics, "augmentation": {**classifier.metrics["augmentation"], "copies": 1}}
    card = write_card(tmp_path, classifier.model, classifier.config, metrics).read_text(encoding="utf-8")
    table = card.split("## Hyperparameters", 1)[1].split("</details>", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("|")]
    cells = [cell.strip() for row in rows for cell in row.strip("|").split("|")]
    assert len(rows) > 20 and "cv" in cells
    assert max(len(cell) for cell in cells) <= 100, max(cells, key=len)
    lines = [line for line in card.splitlines() if line.strip()]
    assert not any(a.startswith("#") and b.startswith("# ") for a, b in zip(lines, lines[1:]))
    assert "## Candidates" in card and "## Evaluation/" not in card
    assert "plus 1 distorted copy of each image" in card


def test_card_names_the_cpu_cores_only_when_the_metrics_record_them(classifier, tmp_path):
    """Metrics that predate ``cpu_count`` give the training time alone; with it, the cores too."""
    metrics = {key: value for key, value in classifier.metrics.items() if key != "cpu_count"}
    took = f"(took {metrics['training_seconds'] / 60:.1f} minutes"
    card = write_card(tmp_path, classifier.model, classifier.config, metrics).read_text(encoding="utf-8")
    assert f"{took})." in card and "CPU cores" not in card
    metrics["cpu_count"] = 3
    card = write_card(tmp_path, classifier.model, classifier.config, metrics).read_text(encoding="utf-8")
    assert f"{took} on 3 CPU cores)." in card


def test_loaded_model_classifies_and_evaluate_cli_agrees(quick_run):
    out, _ = quick_run
    classifier = digitrec.load_model(out)
    data = load_sklearn_digits()
    proba = classifier.predict_proba(list(data.x_test))
    assert proba.shape == (len(data.y_test), 10) and (proba.sum(axis=1) <= 1 + 1e-9).all()
    assert (proba.argmax(axis=1) == data.y_test).mean() > 0.8
    proc = subprocess.run([sys.executable, "-m", "training.evaluate", "--model", str(out), "--data", "sklearn-digits"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(proc.stdout)
    assert report["test_accuracy"] > 0.8 and report["n"] == len(data.y_test)


def test_a_model_made_for_another_normalization_says_so(quick_run, tmp_path):
    """A model whose config names another normalization version is served, with a note that
    the page shows beside it and the evaluation reports (it used to be a log line only)."""
    out, _ = quick_run
    older = tmp_path / "older"
    shutil.copytree(out, older)
    config = json.loads((older / "config.json").read_text())
    config["input"]["normalization_version"] = "9"
    (older / "config.json").write_text(json.dumps(config))
    assert digitrec.load_model(out).notes == []
    assert "⚠️ this model was made for normalization v9" in serving.model_summary(digitrec.load_model(older))
    proc = subprocess.run([sys.executable, "-m", "training.evaluate", "--model", str(older), "--data", "sklearn-digits"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    assert any("normalization v9" in note for note in json.loads(proc.stdout)["notes"])


@pytest.mark.parametrize("edit, message", [
    (lambda config: [config], "must each hold a JSON object"),
    (lambda config: {k: v for k, v in config.items() if k != "trusted_types"}, "has no trusted_types list"),
    (lambda config: {k: v for k, v in config.items() if k != "classes"}, "has no classes list"),
    (None, "piece_verifier.skops is missing"),
], ids=["a-list", "no-trusted-types", "no-classes", "no-verifier-file"])
def test_a_broken_config_is_named_not_a_traceback(quick_run, tmp_path, edit, message):
    """A hand-edited or broken config.json stops loading with a message naming what it lacks."""
    out, _ = quick_run
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    if edit is None:
        (broken / "piece_verifier.skops").unlink()
    else:
        (broken / "config.json").write_text(json.dumps(edit(json.loads((out / "config.json").read_text()))))
    proc = subprocess.run([sys.executable, "-m", "training.evaluate", "--model", str(broken), "--data", "sklearn-digits"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_evaluate_cli_never_scores_another_model_than_named(tmp_path):
    """A mistyped directory is not taken for a Hub repo (whose fallback is the bundled model),
    and a directory that is not a model says what it lacks."""
    (tmp_path / "empty").mkdir()
    for model, message in (("models/digitrec-mnst", "no such artifacts directory"),
                           (str(tmp_path / "empty"), "missing model.skops, config.json, metrics.json")):
        proc = subprocess.run([sys.executable, "-m", "training.evaluate", "--model", model, "--data", "sklearn-digits"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stdout == ""


def test_cli_rejects_unknown_model_and_bad_data(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "training.train", "--data", "sklearn-digits", "--models", "nope",
                           "--out", str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown model" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "training.train", "--data", str(tmp_path / "x.npz"),
                           "--out", str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "x.npz" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command, option, value, message", [
    ("training.train", "--seed", "-1", "must be between 0 and 4294967295"),
    ("training.train", "--seed", "1.5", "expected a whole number"),
    ("training.train_verifier", "--numbers", "0", "must be at least 1"),
    ("training.train_verifier", "--seed", "4294967296", "must be between 0 and 4294967295"),
])
def test_cli_rejects_a_bad_number_before_any_work(tmp_path, command, option, value, message):
    """A numeric option out of range is argparse's one-line error naming it, not a traceback
    from the training (a seed of -1 was a ValueError from numpy), and nothing is written."""
    target = ["--out", str(tmp_path / "out")] if command == "training.train" else ["--model", str(tmp_path / "out")]
    proc = subprocess.run([sys.executable, "-m", command, "--data", "sklearn-digits", *target, option, value],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert errors == [f"python -m {command}: error: argument {option}: {message}, not {value!r}"], proc.stderr
    assert proc.stdout == "" and not (tmp_path / "out").exists()


def test_cli_refuses_a_wrong_out_or_extra_data_before_training(tmp_path):
    """No --out (it once defaulted to the bundled model), a directory of other files (they
    would be published with the model), a path under a file, or --extra-data that holds no
    corrections: a one-line error at once, not after the training, and nothing written."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "README.md").write_text("my own notes")
    (tmp_path / "file").write_text("x")
    cases = [
        ([], "--out"),
        (["--out", str(notes)], "not a digitrec artifacts directory"),
        (["--out", str(tmp_path / "file" / "out")], "--out"),
        (["--out", str(tmp_path / "new"), "--extra-data", str(tmp_path / "no-such-store")], "no usable corrections"),
    ]
    for args, message in cases:
        proc = subprocess.run([sys.executable, "-m", "training.train", "--data", "sklearn-digits", "--quick",
                               "--models", "knn", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
        assert "augmentation" not in proc.stdout and "candidate" not in proc.stdout, "it stopped before training"
    assert (notes / "README.md").read_text() == "my own notes"
    assert sorted(p.name for p in notes.iterdir()) == ["README.md"]


def test_extra_data_from_corrections_is_used_and_reported(tmp_path):
    from digitrec.corrections import CorrectionStore

    data = load_sklearn_digits()
    store = CorrectionStore(tmp_path / "corrections")
    for image, label in zip(data.x_test[:12], data.y_test[:12]):
        store.add(Image.fromarray(image), digitrec.to_mnist(image), "0", str(label), "bundled")
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "training.train", "--data", "sklearn-digits", "--quick", "--models", "knn",
                    "--out", str(out), "--extra-data", str(tmp_path / "corrections")],
                   cwd=ROOT, capture_output=True, text=True, check=True, timeout=300)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["extra_data"]["n"] == 12
    assert metrics["candidates"][0]["n_train"] == 1200 + 12
    card = (out / "README.md").read_text()
    assert "12 images corrected by users" in card
    args = train.parse_args(_reproduce_commands(card)[0][3:])
    assert (args.models, args.quick, args.extra_data) == (["knn"], True, Path("corrections"))


def test_touching_pairs_are_two_digits_as_one_mark():
    """Each touching pair is one MNIST-format image of two digits side by side: much wider
    than the digits it is made of; the same for a seed."""
    digits = load_sklearn_digits().x_train[:200]
    pairs, sources, description = touching_pairs(digits, 60, seed=3, n_jobs=1)
    assert pairs.shape == (60, 28, 28) and description["n"] == 60 and pairs.max() <= 1.0
    assert sources.shape == (60,) and 0 <= sources.min() and sources.max() < len(digits)
    np.testing.assert_array_equal(pairs, touching_pairs(digits, 60, seed=3, n_jobs=1)[0])

    def width_to_height(images: np.ndarray) -> float:
        ratios = []
        for image in images:
            rows, cols = np.nonzero(image > 0.3)
            ratios.append((np.ptp(cols) + 1) / (np.ptp(rows) + 1))
        return float(np.median(ratios))

    assert width_to_height(pairs) > 1.5 * width_to_height(normalize_many(digits[:60], n_jobs=1))


def test_cut_pieces_are_the_digits_they_were_cut_from():
    """Digits cut out of numbers run together keep their labels: one digit wide, labelled
    as a model of plain digits mostly reads them; the same for a seed."""
    data = load_sklearn_digits()
    pieces, labels, sources, description = cut_pieces(data.x_train[:300], data.y_train[:300], 120, seed=2, n_jobs=1)
    assert pieces.shape == (120, 28, 28) and len(labels) == 120 == description["n"]
    np.testing.assert_array_equal(labels, data.y_train[:300][sources])
    # each piece is a near-copy of its source digit: closer to it than to most other digits
    assert np.median(_source_ranks(pieces, sources, data.x_train[:300])) <= 3, \
        "the source is among the piece's nearest training digits"
    np.testing.assert_array_equal(pieces, cut_pieces(data.x_train[:300], data.y_train[:300], 120, seed=2, n_jobs=1)[0])
    assert len(np.unique(labels)) == 10
    assert _plain_digits_model(data).score(pieces.reshape(120, -1), labels) >= 0.8


def _source_ranks(made: np.ndarray, sources: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """For each image made from one of ``digits`` (its index in ``sources``), how many of
    ``digits`` (normalized) are more like it than its source (cosine similarity of pixels)."""
    flat = made.reshape(len(made), -1)
    sourced = normalize_many(digits, n_jobs=1).reshape(len(digits), -1)
    similarity = (flat / np.linalg.norm(flat, axis=1, keepdims=True)) @ (
        sourced / np.linalg.norm(sourced, axis=1, keepdims=True)).T
    return (similarity > similarity[np.arange(len(made)), sources][:, None]).sum(axis=1)


def _plain_digits_model(data) -> SVC:
    """An SVC trained on 1,000 plain (normalized) digits of ``data``."""
    return SVC().fit(normalize_many(data.x_train[:1000], n_jobs=1).reshape(1000, -1), data.y_train[:1000])


def test_sketched_digits_are_the_training_digits_they_redraw():
    """Training digits redrawn as sketchpad strokes keep their labels: each closer to the
    digit it redraws than to most others, mostly read as their label by a model of plain
    digits; each source used once, the same for a seed."""
    data = load_sklearn_digits()
    sketches, labels, sources, description = sketched_digits(data.x_train[:300], data.y_train[:300], 120, seed=2,
                                                             n_jobs=1)
    assert sketches.shape == (120, 28, 28) and len(labels) == 120 == description["n"]
    assert len(np.unique(sources)) == 120
    np.testing.assert_array_equal(labels, data.y_train[:300][sources])
    np.testing.assert_array_equal(sketches, sketched_digits(data.x_train[:300], data.y_train[:300], 120, seed=2,
                                                            n_jobs=1)[0])
    # a tenth of the 300 have its label: a sketch of another digit of that label would rank about 15th
    assert np.median(_source_ranks(sketches, sources, data.x_train[:300])) <= 5, \
        "the source is among the sketch's nearest training digits"
    # chance is 0.1; the redrawn strokes of these 8x8 scans differ from them (what training on sketches is for)
    assert _plain_digits_model(data).score(sketches.reshape(120, -1), labels) >= 0.6


def test_candidates_are_scored_by_the_digit_the_app_serves():
    """A model with a "not a digit" class is scored by its most likely *digit*, as served:
    never "not a digit", and its own answer whenever that answer is a digit."""
    data = load_sklearn_digits()
    digits = normalize_many(data.x_train[:400], n_jobs=1).reshape(400, -1)
    pairs = touching_pairs(data.x_train[:400], 150, n_jobs=1)[0].reshape(150, -1)
    model = SVC().fit(np.vstack([digits, pairs]), np.r_[data.y_train[:400], np.full(150, NOT_A_DIGIT)])
    rows = np.vstack([normalize_many(data.x_test[:200], n_jobs=1).reshape(200, -1),
                      touching_pairs(data.x_test[:200], 50, seed=1, n_jobs=1)[0].reshape(50, -1)])
    answers, served = model.predict(rows), served_digits(model, rows)
    assert (answers == NOT_A_DIGIT).sum() >= 25  # the pairs, mostly
    assert set(served) <= set(range(10))
    np.testing.assert_array_equal(served[answers != NOT_A_DIGIT], answers[answers != NOT_A_DIGIT])


def test_a_validation_tie_goes_to_the_candidate_trained_with_more_distorted_copies():
    """Selection keeps the best validation accuracy; on a tie (the bundled model's last
    retraining: svc_hog and svc_hog_augmented both 0.9942) the augmented candidate wins,
    whichever comes first."""
    def result(name, accuracy):
        return CandidateResult(name, "", {}, accuracy, 0.0, 0.0, 0)

    plain, augmented = result("svc_hog", 0.9942), result("svc_hog_augmented", 0.9942)
    assert CANDIDATES["svc_hog_augmented"].augment_copies > CANDIDATES["svc_hog"].augment_copies
    assert chosen([plain, augmented]) is augmented and chosen([augmented, plain]) is augmented
    better = result("svc_hog", 0.9944)
    assert chosen([better, augmented]) is better


def test_a_full_run_on_a_small_dataset_holds_out_a_fifth(tmp_path):
    """Without --quick, 5,000 validation images are held out: more than sklearn-digits has
    (1,500 training images), which raised a traceback. At most a fifth is held out."""
    proc = subprocess.run([sys.executable, "-m", "training.train", "--data", "sklearn-digits", "--models", "knn",
                           "--out", str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["data"]["n_validation"] == 300


def test_calibration_groups_keep_made_rows_with_their_source_digit():
    """Distorted copies, sketched digits, touching pairs and cut pieces are grouped with the
    training digit they were made from (a cut piece is a near-copy of it), so no out-of-fold score comes
    from a model that trained on its source; style digits and corrections stand alone."""
    from dataclasses import replace

    from digitrec.selection import ExtraRows, training_rows

    n, rng = 50, np.random.default_rng(0)
    X, y = rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)

    def rows(k: int) -> np.ndarray:
        return rng.random((k, 784), dtype=np.float32)

    extra = ExtraRows(rows(100), np.repeat(y, 2), np.repeat(np.arange(n), 2), 2, rows(5), np.arange(5),
                      rows(8), rng.integers(0, 10, 8), rng.integers(0, n, 8), rows(5),
                      rows(20), rng.integers(0, n, 20), rows(30), rng.integers(0, 10, 30), rng.integers(0, n, 30),
                      rows(3), np.arange(3))
    candidate = replace(next(iter(CANDIDATES.values())), augment_copies=2, style_digits=5, sketched_digits=8,
                        non_digits=5, touching_pairs=20, cut_pieces=30, max_train=None)
    _, _, groups = training_rows(candidate, X, y, extra)
    assert len(groups) == n + 100 + 5 + 8 + 5 + 20 + 30 + 3
    start = n
    np.testing.assert_array_equal(groups[:n], np.arange(n))
    np.testing.assert_array_equal(groups[start: start + 100], extra.aug_source)
    np.testing.assert_array_equal(groups[start + 105: start + 113], extra.sketched_source)
    np.testing.assert_array_equal(groups[start + 118: start + 138], extra.pairs_source)
    np.testing.assert_array_equal(groups[start + 138: start + 168], extra.pieces_source)
    alone = np.concatenate([groups[start + 100: start + 105], groups[start + 113: start + 118], groups[-3:]])
    assert len(np.unique(alone)) == 13 and not np.isin(alone, np.arange(n)).any()
