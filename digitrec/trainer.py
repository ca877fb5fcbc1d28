"""One training run: normalize, augment, select, refit, calibrate, evaluate, write artifacts
(with a piece verifier for reading whole numbers)."""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import GroupKFold, train_test_split

from digitrec import plots
from digitrec.artifacts import CONFIG_FILE, METRICS_FILE, MODEL_FILE, writable_output, write_json
from digitrec.augment import Distortion, augment
from digitrec.corrections import LOG_FILE as CORRECTIONS_LOG
from digitrec.corrections import load as load_corrections
from digitrec.card import DEFAULT_REPO_ID
from digitrec.data import DigitDataset, describe_source
from digitrec.errors import DatasetError
from digitrec.evaluation import evaluate, per_image_predict_ms
from digitrec.normalize import NORMALIZATION_VERSION, normalize_many
from digitrec.piece_verifier import N_NUMBERS, add_piece_verifier
from digitrec.selection import (CandidateResult, ExtraRows, Progress, chosen, grid_points, served_digits,
                                training_rows, tune)
from digitrec.serialization import save_model
from digitrec.styles import cut_pieces, non_digits, sketched_digits, style_digits, touching_pairs
from digitrec.zoo import CANDIDATES, Candidate

CLASSES = [str(d) for d in range(10)]
QUICK_SIZES = (3000, 1000)  # training and test images in --quick runs
QUICK_STYLE_DIGITS = 100
QUICK_VERIFIER_NUMBERS = 60  # numbers composed to train the piece verifier in --quick runs
VALIDATION_SIZE = 5000  # full runs (at most a fifth of the training split); quick runs hold out 20%
CALIBRATION_FOLDS = 3


def run_training(dataset: DigitDataset, out: Path, names: list[str] | None = None, quick: bool = False,
                 seed: int = 0, repo_id: str = DEFAULT_REPO_ID, extra_data: Path | None = None,
                 stream: TextIO = sys.stdout) -> dict[str, Any]:
    """Train every candidate in ``names``, keep the best, and write the artifacts directory.

    ``extra_data`` is a corrections directory (:mod:`digitrec.corrections`): its images join
    every candidate's training rows (never the validation or test splits). Both it and
    ``out`` are checked first (:func:`~digitrec.artifacts.writable_output`), so that a wrong
    path stops the run at once rather than being ignored or failing after the training.
    """
    start = time.monotonic()
    out = writable_output(out)
    X_extra, y_extra = np.empty((0, 784), np.float32), np.empty((0,), np.int64)
    if extra_data is not None:
        images, labels, _ = load_corrections(extra_data)
        if not len(labels):
            raise DatasetError(f"--extra-data {extra_data}: no usable corrections there "
                               f"(a correction store holds {CORRECTIONS_LOG})")
        X_extra, y_extra = images.reshape(-1, 784), labels.astype(np.int64)
        print(f"extra data: {len(y_extra):,} corrected images from {extra_data}", file=stream, flush=True)
    candidates = [CANDIDATES[n] for n in (names or list(CANDIDATES))]
    if quick:
        dataset = dataset.subset(min(QUICK_SIZES[0], len(dataset.y_train)), min(QUICK_SIZES[1], len(dataset.y_test)), seed)
    print(f"data: {dataset.source}, {len(dataset.y_train):,} train / {len(dataset.y_test):,} test", file=stream, flush=True)

    X_all = normalize_many(dataset.x_train).reshape(len(dataset.x_train), -1)
    X_test = normalize_many(dataset.x_test).reshape(len(dataset.x_test), -1)
    y_all, y_test = dataset.y_train.astype(np.int64), dataset.y_test.astype(np.int64)
    val_size = max(10, len(y_all) // 5) if quick else min(VALIDATION_SIZE, len(y_all) // 5)
    train_idx, val_idx = train_test_split(np.arange(len(y_all)), test_size=val_size, stratify=y_all, random_state=seed)

    copies = _most(candidates, "augment_copies", 1 if quick else None)
    X_aug, aug_source = augment(dataset.x_train.astype(np.float32) / 255.0, copies, seed=seed)
    X_aug = X_aug.reshape(-1, 784)
    if copies:
        print(f"augmentation: {len(X_aug):,} distorted images ({time.monotonic() - start:.0f}s so far)",
              file=stream, flush=True)

    n_style = _most(candidates, "style_digits", QUICK_STYLE_DIGITS if quick else None)
    X_style, y_style, styles = style_digits(n_style, seed=seed)
    X_style = X_style.reshape(-1, 784)
    if n_style:
        print(f"style digits: {styles['from_fonts']:,} from {len(styles['font_families'])} font families, "
              f"{styles['from_stroke_templates']:,} from stroke templates", file=stream, flush=True)

    n_sketched = _most(candidates, "sketched_digits", QUICK_STYLE_DIGITS if quick else None)
    # validation digits stay out of sketches, pairs and pieces; their sources are indices of the whole training split
    X_sketched, y_sketched, sketched_sources, sketched = sketched_digits(dataset.x_train[train_idx], y_all[train_idx],
                                                                         n_sketched, seed=seed)
    X_sketched = X_sketched.reshape(-1, 784)
    if n_sketched:
        print(f"sketched digits: {len(y_sketched):,} training digits redrawn as sketchpad strokes "
              f"({time.monotonic() - start:.0f}s so far)", file=stream, flush=True)

    n_other = _most(candidates, "non_digits", QUICK_STYLE_DIGITS if quick else None)
    X_other, others = non_digits(n_other, seed=seed)
    X_other = X_other.reshape(-1, 784)
    n_pairs = _most(candidates, "touching_pairs", QUICK_STYLE_DIGITS if quick else None)
    X_pairs, pair_sources, pairs = touching_pairs(dataset.x_train[train_idx], n_pairs, seed=seed)
    X_pairs = X_pairs.reshape(-1, 784)
    n_pieces = _most(candidates, "cut_pieces", QUICK_STYLE_DIGITS if quick else None)
    X_pieces, y_pieces, piece_sources, pieces = cut_pieces(dataset.x_train[train_idx], y_all[train_idx], n_pieces,
                                                           seed=seed)
    X_pieces = X_pieces.reshape(-1, 784)

    extra = ExtraRows(X_aug, y_all[aug_source], aug_source, copies, X_style, y_style, X_sketched, y_sketched,
                      train_idx[sketched_sources], X_other, X_pairs,
                      train_idx[pair_sources], X_pieces, y_pieces, train_idx[piece_sources], X_extra, y_extra)
    extra_in_train = extra.restricted_to(train_idx)
    grids = [c.quick_grid if quick else c.grid for c in candidates]
    progress = Progress(sum(len(grid_points(g)) for g in grids) + 2, stream)  # + refit, verifier
    fitted: dict[str, BaseEstimator] = {}
    results: list[CandidateResult] = []
    for candidate, grid in zip(candidates, grids):
        X_fit, y_fit, _ = training_rows(candidate, X_all[train_idx], y_all[train_idx], extra_in_train,
                                        subsample_seed=seed)
        fitted[candidate.name], result = tune(candidate, X_fit, y_fit, X_all[val_idx], y_all[val_idx], grid, progress)
        results.append(result)

    best = chosen(results)
    candidate = CANDIDATES[best.name]
    progress.step(f"refitting {best.name} on the whole training set with calibration")
    X_final, y_final, groups = training_rows(candidate, X_all, y_all, extra)
    fit_start = time.perf_counter()
    model = _calibrated(candidate, best.best_params, X_final, y_final, groups, seed)
    final_fit_seconds = time.perf_counter() - fit_start

    for result in results:  # the test split, touched once, after selection
        result.test_accuracy = float((served_digits(fitted[result.name], X_test) == y_test).mean())
    proba = model.predict_proba(X_test)[:, : len(CLASSES)]  # digits; a not-a-digit column is dropped
    report = evaluate(proba, y_test, CLASSES)
    metrics = {
        "test_accuracy": report["accuracy"],
        "validation_accuracy": best.val_accuracy,
        **{k: report[k] for k in ("per_class", "macro_f1", "confusion_matrix", "roc_auc_ovr", "ece")},
        "predict_ms_per_image": per_image_predict_ms(model, X_test),
        "chosen": {"name": best.name, "description": best.description, "params": best.best_params,
                   "final_fit_seconds": final_fit_seconds, "n_train": len(y_final)},
        "candidates": [r.as_dict() for r in results],
        "data": {"source": dataset.source, "n_train": len(y_all), "n_validation": len(val_idx),
                 "n_test": len(y_test), "quick": quick},
        "augmentation": ({"copies": copies, "seed": seed, "distortion": Distortion().as_dict()}
                         if candidate.augment_copies and copies else None),
        "style_digits": styles if candidate.style_digits and n_style else None,
        "sketched_digits": sketched if candidate.sketched_digits and n_sketched else None,
        "not_a_digit": others if candidate.non_digits and n_other else None,
        "touching_pairs": pairs if candidate.touching_pairs and n_pairs else None,
        "cut_pieces": pieces if candidate.cut_pieces and n_pieces else None,
        "extra_data": {"source": str(extra_data), "n": len(y_extra)} if extra_data is not None else None,
        "seed": seed,  # with the data, candidates and extra data: the card's command to reproduce the run
        "training_seconds": time.monotonic() - start,
        "cpu_count": os.cpu_count(),  # the card says what the training time was measured on
    }
    _write_artifacts(Path(out), model, metrics, X_test, y_test, proba, results)
    progress.step("training the piece verifier for reading whole numbers")  # it also writes the card
    metrics["piece_verifier"] = add_piece_verifier(out, dataset.x_train, dataset.y_train,
                                                   QUICK_VERIFIER_NUMBERS if quick else N_NUMBERS,
                                                   seed=seed, repo_id=repo_id)
    print(f"chosen: {best.name}, test accuracy {metrics['test_accuracy']:.4f}, "
          f"{metrics['predict_ms_per_image']:.2f} ms/image, total {metrics['training_seconds'] / 60:.1f} min -> {out}",
          file=stream, flush=True)
    return metrics


def _most(candidates: list[Candidate], rows: str, cap: int | None) -> int:
    """The most extra rows of a kind (a count field of :class:`~digitrec.zoo.Candidate`) any
    candidate trains on, at most ``cap`` when given: they are made once and shared."""
    most = max((getattr(c, rows) for c in candidates), default=0)
    return most if cap is None else min(most, cap)


def _calibrated(candidate: Candidate, params: dict[str, Any], X: np.ndarray, y: np.ndarray, groups: np.ndarray,
                seed: int) -> CalibratedClassifierCV:
    """Fit on all rows; a temperature is learned from out-of-fold scores (folds split by source image)."""
    folds = list(GroupKFold(n_splits=CALIBRATION_FOLDS, shuffle=True, random_state=seed).split(X, y, groups))
    estimator = clone(candidate.build()).set_params(**params)
    return CalibratedClassifierCV(estimator, method="temperature", cv=folds, ensemble=False).fit(X, y)


def _write_artifacts(out: Path, model: Any, metrics: dict[str, Any], X_test: np.ndarray, y_test: np.ndarray,
                     proba: np.ndarray, results: list[CandidateResult]) -> None:
    """The model, its config and metrics, and the plots (the card comes with the piece verifier)."""
    out.mkdir(parents=True, exist_ok=True)
    trusted = save_model(model, out / MODEL_FILE)
    config = {
        "classes": CLASSES,
        "not_a_digit_class": metrics["not_a_digit"] is not None,
        "input": {
            "format": "784 float32 values in [0, 1] per image: a 28x28 grayscale image, row-major, 1 = ink",
            "normalization": "digitrec.normalize.to_mnist",
            "normalization_version": NORMALIZATION_VERSION,
        },
        "model": metrics["chosen"],
        "trusted_types": trusted,
        "library_versions": {
            "python": platform.python_version(),
            **{name: version(name) for name in ("scikit-learn", "numpy", "scipy", "skops", "scikit-image", "pillow")},
        },
    }
    write_json(out / CONFIG_FILE, config)
    write_json(out / METRICS_FILE, metrics)
    y_pred = proba.argmax(axis=1)
    plots.confusion(metrics["confusion_matrix"], CLASSES, describe_source(metrics["data"]["source"]).name,
                    out / plots.CONFUSION_PNG)
    plots.one_vs_rest_curves(proba, y_test, CLASSES, out / plots.ROC_PNG, out / plots.PR_PNG)
    plots.misclassified_grid(X_test, y_test, y_pred, CLASSES, out / plots.ERRORS_PNG)
    plots.comparison([r.as_dict() for r in results], out / plots.COMPARISON_PNG)
