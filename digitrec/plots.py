"""PNG figures for the model card: confusion matrix, ROC and PR curves, errors, comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay  # noqa: E402

CONFUSION_PNG = "confusion_matrix.png"
ROC_PNG = "roc_curves.png"
PR_PNG = "precision_recall_curves.png"
ERRORS_PNG = "misclassified.png"
COMPARISON_PNG = "comparison.png"


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def confusion(cm: list[list[int]], classes: list[str], dataset: str, path: Path) -> Path:
    """Confusion matrix of the test split of ``dataset`` (its name), counts in each cell."""
    fig, ax = plt.subplots(figsize=(6, 5.5))
    ConfusionMatrixDisplay(np.asarray(cm), display_labels=classes).plot(ax=ax, colorbar=False, values_format="d")
    ax.set_title(f"Confusion matrix ({dataset} test)")
    return _save(fig, path)


def one_vs_rest_curves(proba: np.ndarray, y_true: np.ndarray, classes: list[str], roc_path: Path,
                       pr_path: Path) -> tuple[Path, Path]:
    """One-vs-rest ROC and precision-recall curves, one line per class."""
    figs = {}
    for kind, display in (("roc", RocCurveDisplay), ("pr", PrecisionRecallDisplay)):
        fig, ax = plt.subplots(figsize=(6, 5.5))
        for i, label in enumerate(classes):
            display.from_predictions(np.asarray(y_true) == i, proba[:, i], name=f"digit {label}", ax=ax,
                                     plot_chance_level=False)
        ax.set_title("One-vs-rest ROC curves" if kind == "roc" else "One-vs-rest precision-recall curves")
        ax.legend(fontsize=7, loc="lower right" if kind == "roc" else "lower left")
        figs[kind] = fig
    return _save(figs["roc"], roc_path), _save(figs["pr"], pr_path)


def misclassified_grid(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, classes: list[str],
                       path: Path, limit: int = 40) -> Path:
    """A grid of misclassified test digits titled 'true -> predicted'."""
    wrong = np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))[:limit]
    cols = 10
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.3), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), wrong):
        ax.imshow(images[i].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{classes[y_true[i]]}→{classes[y_pred[i]]}", fontsize=9)
    fig.suptitle(f"Misclassified test digits (true→predicted), first {len(wrong)}")
    return _save(fig, path)


def comparison(results: list[dict[str, Any]], path: Path) -> Path:
    """Validation and test accuracy, and per-image predict time, of every candidate."""
    names = [r["name"] for r in results]
    x = np.arange(len(names))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    ax1.bar(x - 0.2, [r["val_accuracy"] for r in results], 0.4, label="validation")
    ax1.bar(x + 0.2, [r["test_accuracy"] for r in results], 0.4, label="test")
    low = min(min(r["val_accuracy"], r["test_accuracy"]) for r in results)
    ax1.set_ylim(max(0.0, low - 0.02), 1.0)
    ax1.set_ylabel("accuracy")
    ax1.legend()
    ax2.bar(x, [r["predict_ms_per_image"] for r in results], color="tab:gray")
    ax2.set_ylabel("ms per image (single predict)")
    ax2.set_yscale("log")
    for ax in (ax1, ax2):
        ax.set_xticks(x, names, rotation=35, ha="right")
    fig.suptitle("Candidate pipelines")
    return _save(fig, path)
