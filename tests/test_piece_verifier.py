"""The piece verifier: composed numbers, labels, training, saving beside a model, loading.

Numbers are composed from scikit-learn's bundled digits (upscaled to MNIST's format), so
these tests run on a fresh clone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from digitrec.artifacts import BUNDLED_DIR, CARD_FILE, CONFIG_FILE, METRICS_FILE, PIECE_VERIFIER_FILE, read_json, write_json
from digitrec.classifier import load_directory
from digitrec.data import load_sklearn_digits
from digitrec.piece_verifier import (add_piece_verifier, digits_read_right, distorted_pool, fit_digit_confidence,
                                     labelled_candidates, train_piece_verifier, whole_digit_labels)
from digitrec.normalize import ink_map
from digitrec.segment import PIECE_FEATURES, candidate_digits, digit_confidence, read_number
from digitrec.synthetic import NUMBER_STYLES, compose_number
from test_segment import BROKEN_4, draw_number, template

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """Digit images (n, 28, 28) uint8 with 255 = ink, and their labels."""
    data = load_sklearn_digits()
    return data.x_train, data.y_train


def test_compose_number_says_which_digit_each_ink_pixel_belongs_to(digits):
    images, _ = digits
    image, owner = compose_number(list(images[:3]), np.random.default_rng(0), gap=(-3, -2))

    assert owner.shape == (image.height, image.width)
    ink = np.asarray(image) < 128
    assert set(np.unique(owner[ink])) == {1, 2, 3}, "every ink pixel belongs to a digit"
    assert not owner[np.asarray(image) == 255].any(), "paper belongs to no digit"
    centres = [np.nonzero(owner == k)[1].mean() for k in (1, 2, 3)]
    assert centres == sorted(centres), "digits are written left to right"

    large, large_owner = compose_number(list(images[:3]), np.random.default_rng(0), gap=(-3, -2), upscale=4)
    assert large.size == (4 * image.width, 4 * image.height)
    assert (large_owner[::4, ::4] == owner).all()



def test_number_styles_write_their_digits_as_named(digits):
    images, _ = digits
    picked = list(images[:4])

    base, base_owner, drawn = NUMBER_STYLES["sizes_baselines"].compose(picked, np.random.default_rng(0))
    assert all(d is p for d, p in zip(drawn, picked)), "digits are written as given"
    assert set(np.unique(base_owner)) == {0, 1, 2, 3, 4}
    large, _, _ = NUMBER_STYLES["large"].compose(picked, np.random.default_rng(0))
    assert large.size == (4 * base.width, 4 * base.height), "the same number, 4x larger"

    pen, pen_owner, redrawn = NUMBER_STYLES["pen_touching"].compose(picked, np.random.default_rng(0))
    assert [d.shape[0] > 3 * p.shape[0] for d, p in zip(redrawn, picked)] == [True] * 4, "redrawn with a pen"
    assert pen.height > 96 and set(np.unique(pen_owner)) == {0, 1, 2, 3, 4}

def test_pieces_are_labelled_by_the_ink_they_hold():
    owner = np.zeros((10, 20), np.uint8)
    owner[2:8, 2:8], owner[2:8, 10:16] = 1, 2

    def piece(x0: int, x1: int) -> tuple[np.ndarray, tuple[int, int], np.ndarray]:
        crop = np.zeros((10, 20), np.float32)
        crop[:, x0:x1] = (owner[:, x0:x1] > 0).astype(np.float32)
        return crop, (0, 0), np.zeros(len(PIECE_FEATURES))

    whole_first, whole_second, both, half, nothing = piece(0, 9), piece(9, 20), piece(0, 20), piece(0, 5), piece(17, 20)

    assert whole_digit_labels([whole_first, whole_second, both, half, nothing], owner) == [1, 1, 0, 0, None]
    # a piece holding 80% of a digit (between "part" and "whole") is left out of training
    assert whole_digit_labels([piece(0, 7)], owner) == [None]
    # a narrow 1 merged into its neighbour: 86% of the ink is the neighbour's, but the 1 is all there
    owner[2:8, 10:16], owner[2:8, 10] = 0, 2
    assert whole_digit_labels([piece(0, 9), piece(0, 12)], owner) == [1, 0]


def test_candidates_of_a_composed_number_include_each_whole_digit(classifier, digits):
    images, labels = digits
    picked = [int(np.flatnonzero(labels == d)[0]) for d in (2, 0, 7)]
    candidates = labelled_candidates(classifier, *compose_number(list(images[picked]), np.random.default_rng(1),
                                                                 gap=(6, 8), upscale=3))

    assert all(features.shape == (len(PIECE_FEATURES),) for features, _ in candidates)
    assert [label for _, label in candidates].count(1) == 3  # spaced digits: each one a whole candidate


def _features(classifier, image) -> dict[str, np.ndarray]:
    """Each of :data:`PIECE_FEATURES` over the candidate digits of ``image``."""
    table = np.stack([c.features for c in candidate_digits(classifier, ink_map(image))])
    return dict(zip(PIECE_FEATURES, table.T))


def test_features_say_how_a_piece_was_cut_or_joined(classifier):
    """Cut pieces carry the ink their cuts cross, uncut ones none; a 4 drawn in two strokes is a joined candidate."""
    touching, _ = draw_number([template(2), template(0)], gap=-6)
    features = _features(classifier, touching)
    cut = features["cut"] == 1
    assert cut.any() and (~cut).any()
    assert (features["cut_ink"][~cut] == 0).all() and (features["cut_ink"][cut] > 0).any()
    assert not features["joined"].any()

    broken, _ = draw_number([BROKEN_4])
    assert _features(classifier, broken)["joined"].any()


def test_trained_verifier_tells_whole_digits_from_pieces(classifier, digits):
    verifier, report = train_piece_verifier(classifier, digits[0], n_numbers=60, seed=0)

    assert report["n_numbers"] == 60 and report["features"] == list(PIECE_FEATURES)
    assert 0 < report["whole_share"] < 1
    assert report["held_out"]["roc_auc"] > 0.8, report
    assert verifier.n_features_in_ == len(PIECE_FEATURES)


def test_verifier_is_saved_beside_the_model_and_loaded_with_it(classifier, digits, tmp_path):
    directory = tmp_path / "run"
    shutil.copytree(BUNDLED_DIR, directory)
    config = read_json(directory / CONFIG_FILE)
    config.pop("piece_verifier", None)
    write_json(directory / CONFIG_FILE, config)
    (directory / PIECE_VERIFIER_FILE).unlink(missing_ok=True)
    assert load_directory(directory, "test").piece_verifier is None

    report = add_piece_verifier(directory, *digits, n_numbers=40, seed=1, repo_id="someone/digits")

    config = read_json(directory / CONFIG_FILE)
    assert config["piece_verifier"]["trusted_types"] == [
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
    assert set(config["piece_verifier"]["digit_confidence"]) == {"intercept", "model", "verifier"}
    assert read_json(directory / METRICS_FILE)["piece_verifier"] == report
    card = (directory / CARD_FILE).read_text(encoding="utf-8")
    assert "# someone/digits" in card and "# Reading whole numbers" in card and f"{report['n_numbers']:,} numbers" in card
    assert f"{report['digit_confidence']['n_digits']:,} digits read" in card
    loaded = load_directory(directory, "test")
    features = np.stack([x for x, _ in labelled_candidates(loaded, *compose_number(list(digits[0][:4]), 3))])
    assert loaded.piece_verifier.predict_proba(features).shape == (len(features), 2)


def test_bundled_model_has_a_verifier(classifier):
    assert classifier.piece_verifier is not None
    report = classifier.metrics["piece_verifier"]
    assert report["n_numbers"] >= 1000 and report["held_out"]["roc_auc"] > 0.95
    assert report["digit_confidence"]["log_loss"] < report["digit_confidence"]["log_loss_model_alone"]


def test_a_digit_read_is_right_when_it_lines_up_with_the_number():
    assert digits_read_right("2026", "2026") == [True] * 4
    assert digits_read_right("516", "1516") == [True] * 3, "a digit missed leaves the others right"
    extra = digits_read_right("41103", "4103")
    assert len(extra) == 5 and sum(extra) == 4, "one digit too many is wrong, the others right"
    assert digits_read_right("7", "1") == [False] and digits_read_right("", "12") == []


def test_digit_confidence_follows_the_verifiers_doubt(classifier, digits):
    """Fitted on numbers of distorted digits the bundled model reads: a digit the verifier doubts is less likely right."""
    weights, report = fit_digit_confidence(classifier, classifier.piece_verifier, *distorted_pool(*digits, seed=3),
                                           n_numbers=60, seed=3)
    assert weights["verifier"] > 0 and weights["model"] >= 0
    assert report["n_digits"] >= 120 and 0.5 < report["share_right"] < 1
    assert report["log_loss"] < report["log_loss_model_alone"]

    sure, doubted = (digit_confidence(classifier, 0.97, whole) for whole in (0.999, 0.05))
    assert sure > 0.97 > 0.8 > doubted, (sure, doubted)
    assert digit_confidence(classifier, 0.03, 0.999) <= sure, "a lower probability never raises the confidence"
    assert digit_confidence(replace(classifier, piece_verifier=None), 0.97, 0.05) == 0.97, "no verifier: the model's"


@pytest.mark.parametrize("number", ["575", "355", "822", "811"])
def test_verifier_separates_overlapping_pen_drawn_digits(classifier, number):
    """Read by the model alone, each of these loses a digit (two overlapping digits read as one)."""
    image, _ = draw_number([template(int(d)) for d in number], gap=-4)
    assert read_number(classifier, image).number == number


def test_train_verifier_cli(tmp_path):
    directory = tmp_path / "run"
    shutil.copytree(BUNDLED_DIR, directory)
    run = [sys.executable, "-m", "training.train_verifier", "--data", "sklearn-digits", "--numbers", "30"]

    done = subprocess.run([*run, "--model", str(directory)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == read_json(directory / METRICS_FILE)["piece_verifier"]
    assert json.loads(done.stdout)["n_numbers"] == 30

    wrong = subprocess.run([*run, "--model", str(tmp_path / "nothing")], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    assert wrong.returncode == 2 and "not a digitrec artifacts directory" in wrong.stderr
    unnamed = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert unnamed.returncode == 2 and "--model" in unnamed.stderr, "the bundled model is rewritten only when named"
