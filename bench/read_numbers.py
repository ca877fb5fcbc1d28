"""Whole-number reading accuracy on numbers composed from MNIST *test* digits.

Each number is made of 2 to 6 MNIST test digits (cropped to their ink), placed left to
right with a chosen gap between their ink boxes (negative gaps overlap: the digits may
touch or cross), optionally resized one by one and shifted up or down off a common
baseline, and saved as dark ink on white. :func:`digitrec.segment.read_number` reads it.

Conditions (4-digit numbers unless named ``len<k>``):

* ``spaced`` gaps of 4-10 px; ``close`` 1-3 px; ``touching`` -1-0 px; ``overlap`` -4 to -2 px
  (the MNIST digits are about 20 px tall);
* ``sizes_baselines``: each digit scaled 0.75-1.25x and shifted up to 15% of its height,
  gaps -2-8 px;
* ``large``: the very numbers of ``sizes_baselines`` (same digits, sizes and gaps) drawn 4x
  larger, so the two differ only in resolution (the reader works at 256 px);
* ``mixed``: everyday handwriting: gaps of 1-10 px (70%), touching (20%) or overlapping
  by 2-3 px (10%), digits scaled 0.9-1.1x and shifted up to 5%;
* ``len2``..``len6``: the ``sizes_baselines`` mix with 2, 3, 5 and 6 digits;
* ``pen_spaced``, ``pen_touching``, ``pen_mixed``: numbers drawn as on the Space's
  sketchpad: each digit redrawn with a round pen about 96 px tall
  (:func:`digitrec.synthetic.pen_digit`), with gaps of 16-40 px, -4-0 px (strokes touch),
  or the ``mixed`` mix scaled to that size. They have their own overall figure.

Prints one JSON object: per condition the whole-number accuracy, the digit accuracy
(1 - edit distance / digits), the share read with the right number of digits, the
whole-number accuracy the classifier alone would reach on the same digits presented one
by one (the ceiling for perfect segmentation), with ``--candidates`` the share of numbers
whose every digit is among the reader's candidates as a piece the model reads right (at
least ``READABLE`` of the piece's ink is that digit's, and it holds at least ``READABLE`` of
the digit's ink: the ceiling for perfect choices among the candidates; it about doubles
the run time), and the mean time per number; and the
overall whole-number accuracy and mean time per number of the 4-digit conditions not drawn
with a pen (target: at least 95%, well under 300 ms), and of the pen-drawn ones.

With ``--without-verifier`` the model's piece verifier (:mod:`digitrec.piece_verifier`) is
left out, for a side-by-side comparison on the same numbers.

    python bench/read_numbers.py [--n 60] [--seed 0] [--data mnist.npz] [--model DIR] [--without-verifier]
        [--candidates]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from digitrec import load_model  # noqa: E402
from digitrec.data import load_mnist  # noqa: E402
from digitrec.normalize import mnist_from_ink  # noqa: E402
from digitrec.piece_verifier import ink_counts, ink_owners  # noqa: E402
from digitrec.segment import candidate_digits, read_number  # noqa: E402
from digitrec.synthetic import MIXED_GAPS, compose_number, pen_digit  # noqa: E402

#: The same for pen-drawn digits, about 4.8 times as tall.
PEN_MIXED_GAPS = (((4, 48), 0.7), ((-4, 0), 0.2), ((-14, -10), 0.1))
#: name -> (digits, gap range px (or weighted ranges), scale range, baseline shift (fraction of
#: height), upscale, redrawn with a pen)
CONDITIONS = {
    "spaced": (4, (4, 10), (1.0, 1.0), 0.0, 1, False),
    "close": (4, (1, 3), (1.0, 1.0), 0.0, 1, False),
    "touching": (4, (-1, 0), (1.0, 1.0), 0.0, 1, False),
    "overlap": (4, (-4, -2), (1.0, 1.0), 0.0, 1, False),
    "sizes_baselines": (4, (-2, 8), (0.75, 1.25), 0.15, 1, False),
    "large": (4, (-2, 8), (0.75, 1.25), 0.15, 4, False),
    "mixed": (4, MIXED_GAPS, (0.9, 1.1), 0.05, 1, False),
    "len2": (2, (-2, 8), (0.75, 1.25), 0.15, 1, False),
    "len3": (3, (-2, 8), (0.75, 1.25), 0.15, 1, False),
    "len5": (5, (-2, 8), (0.75, 1.25), 0.15, 1, False),
    "len6": (6, (-2, 8), (0.75, 1.25), 0.15, 1, False),
    "pen_spaced": (4, (16, 40), (1.0, 1.0), 0.0, 1, True),
    "pen_touching": (4, (-4, 0), (1.0, 1.0), 0.0, 1, True),
    "pen_mixed": (4, PEN_MIXED_GAPS, (0.9, 1.1), 0.05, 1, True),
}
#: Least share of a candidate's ink that is one digit's, and of that digit's ink it holds, for the
#: candidate to count as that digit (when the model reads it right) in the candidates' ceiling.
READABLE = 0.7
#: Conditions drawing the same numbers as another one (a paired comparison, free of sampling noise).
SAME_NUMBERS_AS = {"large": "sizes_baselines"}

def _share(totals: list) -> float | None:
    return round(totals[0] / totals[1], 4) if totals[1] else None


def _ms(totals: list) -> float | None:
    return round(1000 * totals[2] / totals[1], 1) if totals[1] else None


def candidates_hold_every_digit(classifier, image, owner: np.ndarray, truth: str) -> bool:
    """Whether every digit of a composed number is among the reader's candidates as a piece
    the model reads right (see ``READABLE``)."""
    ink, owner = ink_owners(image, owner)
    candidates = candidate_digits(classifier, ink)
    labels = classifier.predict_proba_normalized(np.stack([mnist_from_ink(crop) for crop, _, _ in candidates])).argmax(axis=1)
    all_counts, totals = ink_counts(candidates, owner)
    found = set()
    for counts, label in zip(all_counts, labels):
        main = int(counts.argmax())
        if (counts[main] >= READABLE * max(counts.sum(), 1) and counts[main] >= READABLE * totals[main]
                and classifier.classes[label] == truth[main - 1]):
            found.add(main)
    return len(found) == len(truth)


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/mnist.npz"))
    parser.add_argument("--n", type=int, default=60, help="numbers per condition")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None, help="artifacts dir (default: bundled)")
    parser.add_argument("--conditions", default=",".join(CONDITIONS), help="comma-separated subset")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="MNIST split the digits come from (tune on train, report on test)")
    parser.add_argument("--without-verifier", action="store_true", help="read without the piece verifier")
    parser.add_argument("--candidates", action="store_true",
                        help="also measure how often every digit is among the candidates, read right")
    parser.add_argument("--show-errors", type=int, default=0, help="save up to this many misreads to /tmp")
    args = parser.parse_args()

    data = load_mnist(args.data)
    x_digits, y_digits = (data.x_test, data.y_test) if args.split == "test" else (data.x_train, data.y_train)
    classifier = load_model(args.model)
    if args.without_verifier:
        classifier = replace(classifier, piece_verifier=None)
    results: dict[str, dict] = {}
    four = {False: [0, 0, 0.0], True: [0, 0, 0.0]}  # pen-drawn or not: right, numbers, seconds reading them
    saved = 0
    start_all = time.perf_counter()
    for name in args.conditions.split(","):
        length, gap, scale, shift, upscale, pen = CONDITIONS[name]
        rng = np.random.default_rng([args.seed, list(CONDITIONS).index(SAME_NUMBERS_AS.get(name, name))])
        right = edits = digits_total = count_right = ceiling_right = candidates_right = 0
        elapsed = 0.0
        for _ in range(args.n):
            idx = rng.choice(len(x_digits), size=length, replace=False)
            truth = "".join(str(int(d)) for d in y_digits[idx])
            digits = [pen_digit(x, rng) for x in x_digits[idx]] if pen else list(x_digits[idx])
            img, owner = compose_number(digits, rng, gap, scale, shift, upscale)
            t = time.perf_counter()
            reading = read_number(classifier, img)
            elapsed += time.perf_counter() - t
            alone = classifier.predict_proba_normalized(
                np.stack([mnist_from_ink(x.astype(np.float32) / 255.0) for x in digits])
            ).argmax(axis=1)
            ceiling_right += "".join(classifier.classes[i] for i in alone) == truth
            if args.candidates:
                candidates_right += candidates_hold_every_digit(classifier, img, owner, truth)
            right += reading.number == truth
            count_right += len(reading.number) == length
            edits += min(edit_distance(reading.number, truth), length)
            digits_total += length
            if reading.number != truth and saved < args.show_errors:
                img.save(f"/tmp/numbers_err_{saved}_{name}_{truth}_{reading.number}.png")
                saved += 1
        results[name] = {
            "digits": length,
            "n": args.n,
            "number_accuracy": round(right / args.n, 4),
            "digit_accuracy": round(1 - edits / digits_total, 4),
            "digit_count_accuracy": round(count_right / args.n, 4),
            "classifier_alone_number_accuracy": round(ceiling_right / args.n, 4),
            **({"candidates_number_accuracy": round(candidates_right / args.n, 4)} if args.candidates else {}),
            "ms_per_number": round(1000 * elapsed / args.n, 1),
        }
        if length == 4:
            totals = four[pen]
            totals[0] += right
            totals[1] += args.n
            totals[2] += elapsed
    print(json.dumps({
        "model": classifier.origin,
        "piece_verifier": classifier.piece_verifier is not None,
        "seed": args.seed,
        "split": args.split,
        "four_digit_number_accuracy": _share(four[False]),
        "four_digit_ms_per_number": _ms(four[False]),
        "four_digit_conditions": [name for name in results if CONDITIONS[name][0] == 4 and not CONDITIONS[name][5]],
        "target_four_digit": 0.95,
        "pen_four_digit_number_accuracy": _share(four[True]),
        "pen_four_digit_ms_per_number": _ms(four[True]),
        "pen_four_digit_conditions": [name for name in results if CONDITIONS[name][5]],
        "conditions": results,
        "seconds": round(time.perf_counter() - start_all, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
