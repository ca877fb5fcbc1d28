"""Train and compare the candidate pipelines, and write the best one's artifacts directory.

    python -m training.train --data ../shared/data/mnist.npz --out models/digitrec-mnist
    python -m training.train --data sklearn-digits --out /tmp/quick --quick
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from digitrec.artifacts import BUNDLED_DIR
from digitrec.card import DEFAULT_REPO_ID
from digitrec.cli import names, seed
from digitrec.data import load_mnist
from digitrec.errors import DigitrecError
from digitrec.hub import check_push_access
from digitrec.trainer import run_training
from digitrec.zoo import CANDIDATES
from training.push import PRIVATE_HELP, push_and_report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True,
                        help="'openml', an .npz file (x_train, y_train, x_test, y_test), a directory of the "
                             "four MNIST IDX files, or 'sklearn-digits' (small bundled sample)")
    parser.add_argument("--out", type=Path, required=True,
                        help="artifacts directory: new, empty, or one a run wrote (its files are replaced; "
                             f"the bundled model is {BUNDLED_DIR.relative_to(BUNDLED_DIR.parents[1])})")
    parser.add_argument("--models", type=names(CANDIDATES, "model"), default=",".join(CANDIDATES),
                        help="comma-separated candidates (default: all): %(default)s")
    parser.add_argument("--quick", action="store_true", help="small subset and grids: the whole pipeline in <1 min")
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--cache-dir", type=Path, default=None, help="OpenML download cache")
    parser.add_argument("--extra-data", type=Path, default=None, metavar="DIR",
                        help="a corrections directory collected by the app: its images join the training rows")
    parser.add_argument("--push", metavar="OWNER/NAME", default=None, help="publish the artifacts to this Hub repo")
    parser.add_argument("--private", action="store_true", help=PRIVATE_HELP)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.push:
            check_push_access(args.push)  # before training, not after it
        dataset = load_mnist(args.data, cache_dir=args.cache_dir)
        run_training(dataset, args.out, args.models, quick=args.quick, seed=args.seed,
                     repo_id=args.push or DEFAULT_REPO_ID, extra_data=args.extra_data)
    except (DigitrecError, OSError) as exc:  # OSError: a file that could not be read or written
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.push:
        try:
            push_and_report(args.out, args.push, private=args.private, message=None)
        except DigitrecError as exc:
            print(f"error: {exc}\nThe trained model is in {args.out}: push it with "
                  f"python -m training.push {args.out} --repo {args.push}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
