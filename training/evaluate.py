"""Re-evaluate a saved model on a dataset's test split; prints one JSON object.

    python -m training.evaluate --model models/digitrec-mnist --data ../shared/data/mnist.npz
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from digitrec.classifier import load_model
from digitrec.data import load_mnist
from digitrec.errors import DigitrecError
from digitrec.evaluation import evaluate
from digitrec.normalize import normalize_many


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="artifacts directory or OWNER/NAME[@REV] (default: bundled)")
    parser.add_argument("--data", required=True, help="'openml', an .npz file, an IDX directory or 'sklearn-digits'")
    parser.add_argument("--cache-dir", default=None, help="OpenML download cache")
    args = parser.parse_args(argv)
    try:
        classifier = load_model(args.model, fallback=False)
        dataset = load_mnist(args.data, cache_dir=args.cache_dir)
        start = time.perf_counter()
        proba = classifier.predict_proba_normalized(normalize_many(dataset.x_test))
        seconds = time.perf_counter() - start
    except DigitrecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = evaluate(proba, dataset.y_test, classifier.classes)
    print(json.dumps({
        "test_accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "ece": report["ece"],
        "roc_auc_ovr": report["roc_auc_ovr"], "n": report["n"], "model": classifier.origin,
        "data": dataset.source, "seconds": round(seconds, 2),
        "recorded_test_accuracy": classifier.metrics.get("test_accuracy"), "notes": classifier.notes,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
