"""Test accuracy and single-image predict time: the bundled model vs reference families.

The reference pipelines are trained here, in the same run, on the same normalized MNIST
training set, so the numbers are comparable. Prints one JSON object.

    python bench/accuracy.py [--data ../shared/data/mnist.npz] [--train-size 60000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitrec import load_model  # noqa: E402
from digitrec.cli import argument_errors, whole_number  # noqa: E402
from digitrec.data import load_mnist  # noqa: E402
from digitrec.evaluation import per_image_predict_ms  # noqa: E402
from digitrec.features import Deskew  # noqa: E402
from digitrec.normalize import normalize_many  # noqa: E402

REFERENCES = {
    "LogisticRegression": lambda: LogisticRegression(max_iter=200),
    "RandomForest": lambda: RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=0),
    "PCA+kNN": lambda: make_pipeline(PCA(40, random_state=0), KNeighborsClassifier(3, n_jobs=-1)),
    "PCA+SVC": lambda: make_pipeline(PCA(50, random_state=0), SVC(C=10)),
    "deskew+PCA+SVC": lambda: make_pipeline(Deskew(), PCA(50, random_state=0), SVC(C=10)),
}
#: The fewest training images the references fit on: their largest PCA keeps 50 components.
MIN_TRAIN_SIZE = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/mnist.npz"))
    parser.add_argument("--train-size", type=whole_number(MIN_TRAIN_SIZE), default=60_000,
                        help="training images for the references")
    parser.add_argument("--model", default=None, help="artifacts dir to compare (default: bundled)")
    args = parser.parse_args()

    with argument_errors(parser):
        classifier = load_model(args.model, fallback=False)
        data = load_mnist(args.data)
    X_train = normalize_many(data.x_train[: args.train_size]).reshape(-1, 784)
    y_train = data.y_train[: args.train_size]
    X_test = normalize_many(data.x_test).reshape(-1, 784)
    start = time.perf_counter()
    bundled_pred = classifier.predict_proba_normalized(X_test.reshape(-1, 28, 28)).argmax(axis=1)
    batch_seconds = time.perf_counter() - start
    results = {
        "bundled": {
            "model": classifier.config["model"]["name"],
            "test_accuracy": float((bundled_pred == data.y_test).mean()),
            "predict_ms_per_image": per_image_predict_ms(classifier.model, X_test),
            "predict_ms_per_image_with_normalization": _end_to_end_ms(classifier, data.x_test),
            "batch_seconds": batch_seconds,
        }
    }
    for name, build in REFERENCES.items():
        model = build()
        start = time.perf_counter()
        model.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - start
        results[name] = {
            "test_accuracy": float((model.predict(X_test) == data.y_test).mean()),
            "predict_ms_per_image": per_image_predict_ms(model, X_test),
            "fit_seconds": fit_seconds,
        }
    best_reference = max((r["test_accuracy"], n) for n, r in results.items() if n != "bundled")
    print(json.dumps({
        "data": data.source, "reference_train_size": len(y_train), "n_test": len(data.y_test),
        "results": results,
        "bundled_minus_best_reference": results["bundled"]["test_accuracy"] - best_reference[0],
        "best_reference": best_reference[1],
    }, indent=2))


def _end_to_end_ms(classifier, images: np.ndarray, repeats: int = 50) -> float:
    """Median time to normalize and classify one raw image."""
    times = []
    for image in images[:repeats]:
        start = time.perf_counter()
        classifier.predict_proba(image)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


if __name__ == "__main__":
    main()
