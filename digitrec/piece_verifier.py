"""Learn how likely a candidate piece of a written number is exactly one whole digit.

Numbers are read by segmentation by recognition (:mod:`digitrec.segment`): touching
digits are cut at candidate places and the cheapest reading wins. The digit classifier
alone hardly tells a right cut from a wrong one, since it gives about 0.98 to a fragment
of a digit as readily as to a whole digit (two merged digits it mostly doubts, having
learned touching pairs as "not a digit", but not always). A piece verifier
can: a small gradient-boosted tree model over :data:`~digitrec.segment.PIECE_FEATURES`
(the piece's shape against the line, and the classifier's probabilities, together).

It is trained on every candidate the reader weighs in numbers composed from MNIST
*training* digits (:func:`~digitrec.synthetic.compose_number`, in the mixes of
:data:`TRAINING_NUMBERS`), each candidate labelled by the ink it holds: a whole digit
when at least ``PURE`` of its ink is one digit's and it holds at least ``COMPLETE`` of
that digit's ink; not one when under ``MIXED`` is one digit's, or it holds under
``PARTIAL``, or it also holds at least ``SWALLOWED`` of another digit's ink (a narrow 1
merged into its neighbour is a small share of the piece, but most of a digit); in
between, left out. Its probabilities are features, so a verifier belongs
to one classifier: it is saved beside it in the artifacts directory
(:data:`~digitrec.artifacts.PIECE_VERIFIER_FILE`) by :func:`add_piece_verifier`.

With the verifier comes the map from the model's probability for a digit read and the
verifier's probability that its ink is one whole digit to how likely that digit is right
(:func:`fit_digit_confidence`, used by :func:`~digitrec.segment.digit_confidence`). The model
alone gives about 0.97 to nearly every piece, right or wrong, so without the map a
doubtful cut would look as sure as a clean digit. The map is fitted on numbers composed
from distorted copies of the training digits (:func:`~digitrec.augment.augment`), which the
model misreads about as often as new digits; it reads its own training digits almost
without fault, so on those its probability would seem to tell nothing.
"""

from __future__ import annotations

import time
from dataclasses import replace
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from PIL import Image
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

from digitrec.artifacts import CARD_FILE, CONFIG_FILE, METRICS_FILE, PIECE_VERIFIER_FILE, write_json
from digitrec.augment import augment
from digitrec.card import DEFAULT_REPO_ID, repo_id_of_card, write_card
from digitrec.classifier import load_directory
from digitrec.errors import DatasetError, InvalidImageError
from digitrec.hub import verify_artifacts
from digitrec.normalize import ink_map
from digitrec.segment import PIECE_FEATURES, candidate_digits, confidence_logits, read_number
from digitrec.serialization import save_model
from digitrec.synthetic import NUMBER_STYLES

#: Numbers the verifier learns from: styles of :data:`~digitrec.synthetic.NUMBER_STYLES` and their
#: shares. Gaps from spaced to overlapping, as people write.
TRAINING_NUMBERS = {name: 0.125 for name in ("spaced", "close", "touching", "overlap", "sizes_baselines", "mixed",
                                             "len3", "len5")}
#: Numbers composed to train a verifier (about a minute on two cores).
N_NUMBERS = 2000
#: Labelling thresholds (shares of ink; see the module docstring).
PURE, COMPLETE, MIXED, PARTIAL, SWALLOWED = 0.9, 0.85, 0.75, 0.6, 0.5
#: Ink-map intensity above which a pixel counts as ink when labelling.
INK = 0.3
#: Share of the composed numbers held out to report the verifier's quality.
HELD_OUT = 0.2
#: Numbers read with the verifier to fit how likely a digit read is right (:func:`fit_digit_confidence`):
#: this share of those composed to train it (600 for 2,000: about 30 s), and at least ``MIN_CONFIDENCE_NUMBERS``
#: (a few hundred digits, some misread); composed from distorted copies of at most
#: ``CONFIDENCE_POOL`` training digits.
CONFIDENCE_SHARE, MIN_CONFIDENCE_NUMBERS, CONFIDENCE_POOL = 0.3, 100, 6000


def make_verifier(seed: int = 0) -> HistGradientBoostingClassifier:
    """The untrained verifier: 100 trees of at most 15 leaves (under 0.2 MB saved, about 1 ms per call)."""
    return HistGradientBoostingClassifier(max_iter=100, max_leaf_nodes=15, learning_rate=0.1,
                                          early_stopping=False, random_state=seed)


def whole_digit_labels(candidates: Sequence[tuple[Any, ...]], owner: np.ndarray) -> list[int | None]:
    """1 for candidates (as from :func:`~digitrec.segment.candidate_digits`) that are one whole
    digit, 0 for those that are not, None when unclear; ``owner`` says which digit (1, 2, ...,
    0 for paper) each pixel of the ink map belongs to."""
    labels: list[int | None] = []
    for main, purity, coverages in zip(*main_digits(candidates, owner)):
        if main == 0:
            labels.append(None)
            continue
        coverage = coverages[main]
        swallowed = np.delete(coverages[1:], main - 1).max(initial=0.0)
        labels.append(0 if purity < MIXED or coverage < PARTIAL or swallowed >= SWALLOWED
                      else 1 if purity >= PURE and coverage >= COMPLETE else None)
    return labels


def main_digits(candidates: Sequence[tuple[Any, ...]], owner: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which digit each candidate mostly is, from the ink it holds (arguments as for
    :func:`ink_counts`): the digit most of its ink belongs to (1, 2, ...; 0 when it holds
    no ink), the share of its ink that is that digit's, and the share of each digit's ink
    it holds (row per candidate, column ``k`` for digit ``k``)."""
    counts, totals = ink_counts(candidates, owner)
    main = counts.argmax(axis=1)
    purity = counts[np.arange(len(counts)), main] / np.maximum(counts.sum(axis=1), 1)
    return main, purity, counts / np.maximum(totals, 1)


def ink_counts(candidates: Sequence[tuple[Any, ...]], owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many ink pixels of each candidate (crop and origin first, as from
    :func:`~digitrec.segment.candidate_digits`) belong to each digit: row per candidate,
    column ``k`` for digit ``k`` (column 0, paper, stays 0); and each digit's ink in all
    (``owner`` as for :func:`whole_digit_labels`)."""
    totals = np.bincount(owner.ravel(), minlength=int(owner.max()) + 1)
    counts = np.zeros((len(candidates), len(totals)), dtype=np.int64)
    for row, (crop, (y, x), *_) in zip(counts, candidates):
        rows, cols = np.nonzero(crop > INK)
        digits = owner[y + rows, x + cols]
        row[:] = np.bincount(digits[digits > 0], minlength=len(totals))
    return counts, totals


def ink_owners(image: Image.Image, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ink map the reader sees of a composed number, and which digit (1, 2, ..., 0 for
    none) each of its pixels belongs to (``image`` and ``owner`` from
    :func:`~digitrec.synthetic.compose_number`; pixels fainter than ``INK`` belong to none)."""
    ink = ink_map(image)
    owner = np.asarray(Image.fromarray(owner).resize(ink.shape[::-1], Image.Resampling.NEAREST))
    return ink, np.where(ink / max(float(ink.max()), 1e-6) > INK, owner, 0)


def labelled_candidates(classifier: Any, image: Image.Image, owner: np.ndarray) -> list[tuple[np.ndarray, int | None]]:
    """The features and label (:func:`whole_digit_labels`) of every candidate digit the
    reader weighs in a composed number (``image`` and ``owner`` from
    :func:`~digitrec.synthetic.compose_number`)."""
    ink, owner = ink_owners(image, owner)
    candidates = candidate_digits(classifier, ink)
    return [(c.features, y) for c, y in zip(candidates, whole_digit_labels(candidates, owner))]


def composed_numbers(digits: np.ndarray, n_numbers: int,
                     seed: int) -> Iterator[tuple[int, np.ndarray, Image.Image, np.ndarray]]:
    """``n_numbers`` numbers composed from ``digits`` ((n, 28, 28) uint8, 255 = ink) in the mix of
    :data:`TRAINING_NUMBERS`: each one's index, the indices of its digits, its image and which
    digit each pixel belongs to (:func:`~digitrec.synthetic.compose_number`). Numbers that
    cannot be composed are left out."""
    rng = np.random.default_rng(seed)
    styles = [NUMBER_STYLES[name] for name in TRAINING_NUMBERS]
    shares = np.array(list(TRAINING_NUMBERS.values()))
    for number in range(n_numbers):
        style = styles[rng.choice(len(styles), p=shares / shares.sum())]
        picked = rng.choice(len(digits), size=style.digits, replace=False)
        try:
            image, owner, _ = style.compose(list(digits[picked]), rng)
        except InvalidImageError:
            continue
        yield number, picked, image, owner


def training_set(classifier: Any, digits: np.ndarray, n_numbers: int,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and number index of every clearly labelled candidate digit in
    ``n_numbers`` numbers composed from ``digits`` ((n, 28, 28) uint8, 255 = ink)."""
    features, labels, numbers = [], [], []
    for number, _, image, owner in composed_numbers(digits, n_numbers, seed):
        try:
            candidates = labelled_candidates(classifier, image, owner)
        except InvalidImageError:
            continue
        for x, y in candidates:
            if y is not None:
                features.append(x)
                labels.append(y)
                numbers.append(number)
    return (np.array(features).reshape(-1, len(PIECE_FEATURES)), np.array(labels, dtype=np.int64),
            np.array(numbers, dtype=np.int64))


def train_piece_verifier(classifier: Any, digits: np.ndarray, n_numbers: int = N_NUMBERS,
                         seed: int = 0) -> tuple[HistGradientBoostingClassifier, dict[str, Any]]:
    """A verifier for ``classifier`` trained on numbers composed from ``digits``, and a report.

    The last ``HELD_OUT`` of the numbers are kept out of training and measure it (ROC AUC
    and log loss of "is one whole digit" over their candidates).
    """
    start = time.monotonic()
    reader = _without_verifier(classifier)
    X, y, numbers = training_set(reader, digits, n_numbers, seed)
    held_out = numbers >= round(n_numbers * (1 - HELD_OUT))
    if len(np.unique(y[~held_out])) < 2:
        raise DatasetError(f"{n_numbers} numbers gave too few labelled candidates to train a piece verifier; "
                           "compose more numbers")
    verifier = make_verifier(seed).fit(X[~held_out], y[~held_out])
    report: dict[str, Any] = {
        "n_numbers": n_numbers, "seed": seed, "n_candidates": int(len(y)), "whole_share": round(float(y.mean()), 4),
        "features": list(PIECE_FEATURES), "training_seconds": round(time.monotonic() - start, 1),
    }
    if len(np.unique(y[held_out])) == 2:
        p = verifier.predict_proba(X[held_out])[:, 1]
        report["held_out"] = {"share": HELD_OUT, "n_candidates": int(held_out.sum()), "roc_auc": round(float(roc_auc_score(y[held_out], p)), 4),
                              "log_loss": round(float(log_loss(y[held_out], p)), 4)}
    return verifier, report


def digits_read_right(read: str, truth: str) -> list[bool]:
    """Whether each digit of a reading is right: one of the digits it has in common with the
    number, in order, as :class:`difflib.SequenceMatcher` aligns them (a reading with a digit
    too many or too few keeps the others right)."""
    right = [False] * len(read)
    for block in SequenceMatcher(None, read, truth, autojunk=False).get_matching_blocks():
        right[block.a:block.a + block.size] = [True] * block.size
    return right


def fit_digit_confidence(classifier: Any, verifier: Any, digits: np.ndarray, labels: np.ndarray,
                         n_numbers: int, seed: int = 1) -> tuple[dict[str, float] | None, dict[str, Any]]:
    """How likely a digit read with ``verifier`` is right, from the model's probability for its
    label and the verifier's that it is one whole digit: a logistic regression on their logits
    (:func:`~digitrec.segment.confidence_logits`) over the digits read in ``n_numbers`` numbers
    composed from ``digits`` and their ``labels`` (right: :func:`digits_read_right`), with
    weights of at least 0, so that neither a lower probability ever raises the confidence
    (an input fitted a negative weight is left out and the rest fitted again; the loss is
    convex, so that is the best fit with weights of at least 0).

    Returns the map's weights (``config.json``'s ``piece_verifier.digit_confidence``) and a
    report: how many digits, the share right, and the log loss of the model's probability
    alone and of the map on them (fitted there: a little optimistic). When every digit was
    read right (a model reading its own training digits, as in quick runs), or every one
    wrong, there is nothing to fit: no weights, and the report says so.
    """
    reader = replace(classifier, piece_verifier=verifier)
    evidence, right = [], []
    for _, picked, image, _ in composed_numbers(digits, n_numbers, seed):
        try:
            reading = read_number(reader, image)
        except InvalidImageError:
            continue
        evidence += [(d.probability, d.whole) for d in reading.digits]
        right += digits_read_right(reading.number, "".join(str(int(v)) for v in labels[picked]))
    y = np.array(right, dtype=int)
    report = {"n_numbers": n_numbers, "seed": seed, "n_digits": int(len(y)),
              "share_right": round(float(y.mean()), 4) if len(y) else None}
    if len(np.unique(y)) < 2:
        report["not_fitted"] = "every digit read was right or every one wrong: the model's probability is kept"
        return None, report
    probability, whole = np.array(evidence).T
    X = confidence_logits(probability, whole)
    inputs = [0, 1]  # the model's, the verifier's
    while True:
        fitted = LogisticRegression().fit(X[:, inputs], y)
        kept = [k for k, w in zip(inputs, fitted.coef_[0]) if w >= 0]
        if kept == inputs:
            break
        if not kept:
            report["not_fitted"] = "neither probability made a digit more likely right: the model's is kept"
            return None, report
        inputs = kept
    coef = dict(zip(inputs, fitted.coef_[0]))
    weights = {"intercept": float(fitted.intercept_[0]), "model": float(coef.get(0, 0.0)),
               "verifier": float(coef.get(1, 0.0))}
    report["log_loss_model_alone"] = round(float(log_loss(y, probability)), 4)
    report["log_loss"] = round(float(log_loss(y, fitted.predict_proba(X[:, inputs])[:, 1])), 4)
    return weights, report


def distorted_pool(digits: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One distorted copy (:func:`~digitrec.augment.augment`) of each of at most ``CONFIDENCE_POOL``
    of ``digits`` ((n, 28, 28) uint8, 255 = ink), in the same format, and their labels."""
    picked = np.random.default_rng(seed).choice(len(digits), min(CONFIDENCE_POOL, len(digits)), replace=False)
    distorted, _ = augment(digits[picked] / 255.0, copies=1, seed=seed)
    return (np.clip(distorted, 0.0, 1.0) * 255).round().astype(np.uint8), np.asarray(labels)[picked]


def add_piece_verifier(directory: str | Path, digits: np.ndarray, labels: np.ndarray, n_numbers: int = N_NUMBERS,
                       seed: int = 0, repo_id: str | None = None) -> dict[str, Any]:
    """Train a verifier for the model in an artifacts directory, and its digit confidences
    (:func:`fit_digit_confidence`), from ``digits`` and their ``labels``, and save them there.

    Writes :data:`~digitrec.artifacts.PIECE_VERIFIER_FILE`, records it in ``config.json``
    (its trusted types and the confidence map) and ``metrics.json`` (the report), and rewrites
    the card (for ``repo_id``, by default the one the card already names). Returns the report.
    """
    directory = Path(directory)
    verify_artifacts(directory)  # a clear error for a wrong directory, before minutes of work
    classifier = load_directory(directory, origin=f"local:{directory}")
    verifier, report = train_piece_verifier(classifier, digits, n_numbers, seed)
    confidence_numbers = max(MIN_CONFIDENCE_NUMBERS, round(CONFIDENCE_SHARE * n_numbers))
    confidence, report["digit_confidence"] = fit_digit_confidence(
        classifier, verifier, *distorted_pool(digits, labels, seed=seed + 1), confidence_numbers, seed=seed + 1)
    config, metrics = dict(classifier.config), dict(classifier.metrics)
    config["piece_verifier"] = {"trusted_types": save_model(verifier, directory / PIECE_VERIFIER_FILE),
                                **({"digit_confidence": confidence} if confidence else {})}
    metrics["piece_verifier"] = report
    write_json(directory / CONFIG_FILE, config)
    write_json(directory / METRICS_FILE, metrics)
    # the loaded model renders the same card as the saved one (serving swaps only fitted parts)
    write_card(directory, classifier.model, config, metrics,
               repo_id or repo_id_of_card(directory / CARD_FILE) or DEFAULT_REPO_ID)
    return report


def _without_verifier(classifier: Any) -> Any:
    """``classifier`` reading numbers as if it had no piece verifier (the candidates to learn from)."""
    if getattr(classifier, "piece_verifier", None) is None:
        return classifier
    return replace(classifier, piece_verifier=None)
