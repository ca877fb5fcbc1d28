"""Metrics of a fitted classifier on a labelled test set."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, roc_auc_score

from digitrec.fast_svc import with_fast_svc
from digitrec.inference import compile_predict_proba

#: Bins of the expected-calibration-error histogram over the top confidence.
ECE_BINS = 15


def expected_calibration_error(proba: np.ndarray, y_true: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |accuracy - confidence| over equal-width bins of the top probability, weighted by bin size."""
    return calibration_error(proba.max(axis=1), proba.argmax(axis=1) == np.asarray(y_true), bins)


def calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size
    (``correct``: whether each answer given with that confidence was right)."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        in_bin = index == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def per_image_predict_ms(model: Any, X: np.ndarray, repeats: int = 50) -> float:
    """Median wall time of ``predict`` on one image at a time, in milliseconds, as served.

    Served means with RBF SVCs computed as matrix products (:func:`digitrec.fast_svc.with_fast_svc`)
    and ``predict_proba`` compiled to array operations (:mod:`digitrec.inference`), as
    :func:`digitrec.load_model` does.
    """
    model = with_fast_svc(model)
    rows = X[np.arange(repeats) % len(X)]
    method = compile_predict_proba(model) if hasattr(model, "predict_proba") else model.predict
    method(rows[:1])  # warm-up
    times = []
    for row in rows:
        start = time.perf_counter()
        method(row[None, :])
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def evaluate(proba: np.ndarray, y_true: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1, confusion matrix, one-vs-rest ROC AUC and ECE.

    ``proba`` rows may sum to less than 1 (a dropped "not a digit" class); ROC AUC then
    uses them renormalized, the rest as they are.
    """
    y_true = np.asarray(y_true)
    y_pred = proba.argmax(axis=1)
    report = classification_report(y_true, y_pred, labels=range(len(classes)), target_names=classes,
                                   output_dict=True, zero_division=0)
    present = np.unique(y_true)
    roc_auc = None
    if len(present) == len(classes):
        scores = proba / np.clip(proba.sum(axis=1, keepdims=True), 1e-12, None)
        roc_auc = float(roc_auc_score(y_true, scores, multi_class="ovr", labels=range(len(classes))))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "per_class": {c: {k: float(report[c][k]) for k in ("precision", "recall", "f1-score", "support")}
                      for c in classes},
        "macro_f1": float(report["macro avg"]["f1-score"]),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=range(len(classes))).tolist(),
        "roc_auc_ovr": roc_auc,
        "ece": expected_calibration_error(proba, y_true),
        "n": int(len(y_true)),
    }
