"""Model selection: tune each candidate on a validation split carved from training data.

The test split never enters here; it is scored once, after selection, by the trainer.
"""

from __future__ import annotations

import itertools
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning

from digitrec.evaluation import per_image_predict_ms
from digitrec.styles import NOT_A_DIGIT
from digitrec.zoo import Candidate


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


def training_rows(candidate: Candidate, X: np.ndarray, y: np.ndarray, X_aug: np.ndarray, y_aug: np.ndarray,
                  copies_available: int, X_style: np.ndarray, y_style: np.ndarray, X_other: np.ndarray,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows a candidate trains on: a subsample for slow families, plus its augmented
    copies, style digits and not-a-digit images (in that order)."""
    if candidate.max_train and len(X) > candidate.max_train:
        keep = np.random.default_rng(seed).permutation(len(X))[: candidate.max_train]
        X, y = X[keep], y[keep]
    if candidate.augment_copies and copies_available:
        per_copy = len(X_aug) // copies_available
        take = per_copy * min(candidate.augment_copies, copies_available)
        X, y = np.concatenate([X, X_aug[:take]]), np.concatenate([y, y_aug[:take]])
    if candidate.style_digits:
        n = min(candidate.style_digits, len(y_style))
        X, y = np.concatenate([X, X_style[:n]]), np.concatenate([y, y_style[:n]])
    if candidate.non_digits:
        n = min(candidate.non_digits, len(X_other))
        X, y = np.concatenate([X, X_other[:n]]), np.concatenate([y, np.full(n, NOT_A_DIGIT)])
    return X, y


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
        accuracy = float((model.predict(X_val) == y_val).mean())
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
