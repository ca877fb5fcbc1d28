"""Model selection: tune each candidate on a validation split carved from training data.

The test split never enters here; it is scored once, after selection, by the trainer.
"""

from __future__ import annotations

import itertools
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TextIO

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning

from digitrec.evaluation import per_image_predict_ms
from digitrec.styles import NOT_A_DIGIT
from digitrec.zoo import CANDIDATES, Candidate


@dataclass
class CandidateResult:
    """What selection learned about one candidate (test accuracy is filled in later)."""

    name: str
    description: str
    best_params: dict[str, Any]
    val_accuracy: float
    fit_seconds: float
    predict_ms_per_image: float
    n_train: int
    grid_scores: list[dict[str, Any]] = field(default_factory=list)
    test_accuracy: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Progress:
    """Prints which candidate is running, elapsed time and an estimate of what is left."""

    def __init__(self, total_fits: int, stream: TextIO = sys.stdout):
        self.total, self.done, self.start, self.stream = total_fits, 0, time.monotonic(), stream

    def step(self, message: str) -> None:
        elapsed = time.monotonic() - self.start
        if self.done:
            left = f", about {_fmt(elapsed / self.done * (self.total - self.done))} left"
        else:
            left = ""
        print(f"[{self.done + 1}/{self.total}] {message} (elapsed {_fmt(elapsed)}{left})",
              file=self.stream, flush=True)
        self.done += 1

    def note(self, message: str) -> None:
        print(f"      {message}", file=self.stream, flush=True)


def _fmt(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of a parameter grid, in a stable order."""
    keys = sorted(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))] or [{}]


@dataclass(frozen=True)
class ExtraRows:
    """Training rows beyond the dataset's own images.

    Distorted copies come copy-major (see :func:`digitrec.augment.augment`) with the
    labels and source indices of their originals; style digits, training digits redrawn as
    sketches, not-a-digit images (and touching pairs of training digits, also not one digit),
    training digits cut out of numbers and user corrections are used as they are. Sketches,
    pairs and pieces come with the index of the training digit they were made from (a pair:
    its first digit).
    """

    X_aug: np.ndarray
    y_aug: np.ndarray
    aug_source: np.ndarray
    copies: int
    X_style: np.ndarray
    y_style: np.ndarray
    X_sketched: np.ndarray
    y_sketched: np.ndarray
    sketched_source: np.ndarray
    X_other: np.ndarray
    X_pairs: np.ndarray
    pairs_source: np.ndarray
    X_pieces: np.ndarray
    y_pieces: np.ndarray
    pieces_source: np.ndarray
    X_extra: np.ndarray
    y_extra: np.ndarray

    def restricted_to(self, sources: np.ndarray) -> "ExtraRows":
        """The same rows, with only the distorted copies of ``sources``."""
        keep = np.isin(self.aug_source, sources)
        return replace(self, X_aug=self.X_aug[keep], y_aug=self.y_aug[keep], aug_source=self.aug_source[keep])


def training_rows(candidate: Candidate, X: np.ndarray, y: np.ndarray, extra: ExtraRows,
                  subsample_seed: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows a candidate trains on, and a group per row for cross-validation.

    In order: the dataset rows (a random subsample for slow families when
    ``subsample_seed`` is given), the candidate's distorted copies (grouped with the
    index of their source, so copies stay in one fold), style digits, sketched training
    digits, not-a-digit images, touching pairs and cut pieces (sketches, pairs and pieces
    grouped with the training digit they were made from: a sketch redraws it, a cut piece is
    a near-copy of it), and user corrections (each a group of its own). The groups are right
    for ``X`` being the whole training split (the final, calibrated fit).
    """
    groups = np.arange(len(y))
    if subsample_seed is not None and candidate.max_train and len(X) > candidate.max_train:
        keep = np.random.default_rng(subsample_seed).permutation(len(X))[: candidate.max_train]
        X, y, groups = X[keep], y[keep], groups[keep]
    parts_X, parts_y, parts_groups = [X], [y], [groups]

    def add(rows: np.ndarray, labels: np.ndarray, row_groups: np.ndarray | None = None) -> None:
        size = sum(len(g) for g in parts_groups)
        parts_X.append(rows)
        parts_y.append(labels)
        parts_groups.append(size + np.arange(len(labels)) if row_groups is None else row_groups)

    if candidate.augment_copies and extra.copies:
        take = len(extra.X_aug) // extra.copies * min(candidate.augment_copies, extra.copies)
        add(extra.X_aug[:take], extra.y_aug[:take], extra.aug_source[:take])
    if candidate.style_digits:
        n = min(candidate.style_digits, len(extra.y_style))
        add(extra.X_style[:n], extra.y_style[:n])
    if candidate.sketched_digits:
        n = min(candidate.sketched_digits, len(extra.y_sketched))
        add(extra.X_sketched[:n], extra.y_sketched[:n], extra.sketched_source[:n])
    if candidate.non_digits:
        n = min(candidate.non_digits, len(extra.X_other))
        add(extra.X_other[:n], np.full(n, NOT_A_DIGIT))
    if candidate.touching_pairs:
        n = min(candidate.touching_pairs, len(extra.X_pairs))
        add(extra.X_pairs[:n], np.full(n, NOT_A_DIGIT), extra.pairs_source[:n])
    if candidate.cut_pieces:
        n = min(candidate.cut_pieces, len(extra.y_pieces))
        add(extra.X_pieces[:n], extra.y_pieces[:n], extra.pieces_source[:n])
    add(extra.X_extra, extra.y_extra)
    return np.concatenate(parts_X), np.concatenate(parts_y), np.concatenate(parts_groups)


def chosen(results: list[CandidateResult]) -> CandidateResult:
    """The best candidate by validation accuracy. A tie says nothing of how each reads
    drawings unlike MNIST, so it goes to the one trained with more distorted copies."""
    return max(results, key=lambda r: (r.val_accuracy, CANDIDATES[r.name].augment_copies))


def served_digits(model: BaseEstimator, X: np.ndarray) -> np.ndarray:
    """The digit the app serves for each row: the most likely of 0-9, a "not a digit" class
    (when the model has one) left out, as :class:`~digitrec.classifier.DigitClassifier` does.

    Candidates are compared, and scored on the test split, by what users would see.
    """
    classes = np.asarray(model.classes_)
    digits = classes != NOT_A_DIGIT
    if digits.all():
        return model.predict(X)
    scores = model.decision_function(X) if hasattr(model, "decision_function") else model.predict_proba(X)
    return classes[digits][np.asarray(scores)[:, digits].argmax(axis=1)]


def tune(candidate: Candidate, X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray,
         y_val: np.ndarray, grid: dict[str, list[Any]], progress: Progress) -> tuple[BaseEstimator, CandidateResult]:
    """Fit every grid point on the training rows, keep the best by validation accuracy."""
    best: tuple[float, BaseEstimator, dict, float] | None = None
    scores = []
    for params in grid_points(grid):
        progress.step(f"{candidate.name} {params or ''} on {len(X_train):,} images")
        model = clone(candidate.build()).set_params(**params)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - start
        accuracy = float((served_digits(model, X_val) == y_val).mean())
        unconverged = " (stopped at its iteration limit)" if any(
            issubclass(w.category, ConvergenceWarning) for w in caught) else ""
        progress.note(f"validation accuracy {accuracy:.4f}, fit {fit_seconds:.1f}s{unconverged}")
        scores.append({"params": params, "val_accuracy": accuracy, "fit_seconds": fit_seconds})
        if best is None or accuracy > best[0]:
            best = (accuracy, model, params, fit_seconds)
    accuracy, model, params, fit_seconds = best
    result = CandidateResult(
        name=candidate.name, description=candidate.description, best_params=params,
        val_accuracy=accuracy, fit_seconds=fit_seconds,
        predict_ms_per_image=per_image_predict_ms(model, X_val), n_train=len(X_train), grid_scores=scores,
    )
    return model, result
