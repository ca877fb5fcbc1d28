"""Train the piece verifier that helps read whole numbers, for an artifacts directory's model.

    python -m training.train_verifier --data ../shared/data/mnist.npz --model DIR [--numbers 2000]

``python -m training.train`` already does this for the model it trains; run this to add
or retrain the verifier of an existing model without retraining the model. The verifier
is written next to the model (``piece_verifier.skops``); ``config.json`` gets its trusted
types and the map from its and the model's probabilities to each digit's confidence
(fitted with it), ``metrics.json`` the report, and the card is rewritten. Prints the
training report as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from digitrec.artifacts import BUNDLED_DIR
from digitrec.cli import seed, whole_number
from digitrec.data import load_mnist
from digitrec.errors import DigitrecError
from digitrec.piece_verifier import N_NUMBERS, add_piece_verifier


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train_verifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True,
                        help="digits to compose numbers from (their training split): as for training.train")
    parser.add_argument("--model", type=Path, required=True,
                        help=f"artifacts directory whose files are rewritten (the bundled model: {BUNDLED_DIR})")
    parser.add_argument("--numbers", type=whole_number(1), default=N_NUMBERS,
                        help="numbers composed for training (default: %(default)s)")
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--repo-id", default=None, help="repo id the card names (default: the card's own)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="OpenML download cache")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        dataset = load_mnist(args.data, cache_dir=args.cache_dir)
        report = add_piece_verifier(args.model, dataset.x_train, dataset.y_train, args.numbers, args.seed, args.repo_id)
    except DigitrecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
