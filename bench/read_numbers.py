"""Whole-number reading accuracy on numbers composed from MNIST *test* digits.

Each number is made of 2 to 6 MNIST test digits (cropped to their ink), placed left to
right with a chosen gap between their ink boxes (negative gaps overlap: the digits may
touch or cross), optionally resized one by one and shifted up or down off a common
baseline, and saved as dark ink on white. :func:`digitrec.segment.read_number` reads it.

Conditions are the number styles of :data:`digitrec.synthetic.NUMBER_STYLES` (4-digit
numbers unless named ``len<k>``): ``spaced``, ``close``, ``touching`` and ``overlap`` gaps;
``sizes_baselines`` (digits of different sizes off a common baseline); ``large`` (the very
numbers of ``sizes_baselines`` drawn 4x larger, so the two differ only in resolution: the
reader works at 256 px); ``mixed`` (everyday handwriting); ``len2``..``len6``; and
``pen_spaced``, ``pen_touching``, ``pen_mixed``: numbers drawn as on the Space's sketchpad,
each digit redrawn with a round pen about 96 px tall (:func:`digitrec.synthetic.pen_digit`).
The pen-drawn ones have their own overall figure.

``--split train`` composes the numbers from MNIST *training* digits, to tune the reader
without looking at the test digits. The model trained on those digits and reads them,
fragments included, almost without fault (``classifier_alone_number_accuracy`` near 1), so
a change that gives the reader more candidate cuts looks better there than on new digits:
confirm such a change on the test split with two or more seeds before keeping it.

Prints one JSON object: per condition the whole-number accuracy, the digit accuracy
(1 - edit distance / digits), the share read with the right number of digits, the
whole-number accuracy the classifier alone would reach on the same digits presented one
by one (the ceiling for perfect segmentation), with ``--candidates`` the share of numbers
whose every digit is among the reader's candidates as a piece the model reads right (at
least ``READABLE`` of the piece's ink is that digit's, and it holds at least ``READABLE`` of
the digit's ink: the ceiling for perfect choices among the candidates; it about doubles
the run time), the mean confidence of the digits read and its expected calibration error
(15 bins; which digits read are right: :func:`~digitrec.piece_verifier.digits_read_right`), and the mean
time per number; and the overall whole-number accuracy and mean time per number of the
4-digit conditions not drawn with a pen (target: at least 95%, under 300 ms:
``target_met``), and of the pen-drawn ones, with how well their digits' confidences tell
right from wrong (calibration error, log loss, ROC AUC), beside the same for the model's
probability alone (what the confidence was before :func:`~digitrec.segment.digit_confidence`).

With ``--without-verifier`` the model's piece verifier (:mod:`digitrec.piece_verifier`) is
left out, for a side-by-side comparison on the same numbers. With ``--oracle-verifier`` it is
replaced by one that knows from the composed number which candidate is one whole digit
(:class:`OracleVerifier`): what better scoring alone could reach with the reader's candidates
(its times leave out making the ink map).

    python bench/read_numbers.py [--n 60] [--seed 0] [--data mnist.npz] [--model DIR]
        [--without-verifier | --oracle-verifier] [--candidates]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from digitrec import load_model  # noqa: E402
from digitrec.cli import argument_errors, names, seed, whole_number  # noqa: E402
from digitrec.data import load_mnist  # noqa: E402
from digitrec.evaluation import calibration_error  # noqa: E402
from digitrec.normalize import mnist_from_ink  # noqa: E402
from digitrec.piece_verifier import digits_read_right, ink_owners, main_digits, whole_digit_labels  # noqa: E402
from digitrec.segment import VERIFIER_FLOOR, candidate_digits, read_ink, read_number  # noqa: E402
from digitrec.synthetic import NUMBER_STYLES  # noqa: E402

#: Least share of a candidate's ink that is one digit's, and of that digit's ink it holds, for the
#: candidate to count as that digit (when the model reads it right) in the candidates' ceiling.
READABLE = 0.7
#: Conditions drawing the same numbers as another one (a paired comparison, free of sampling noise).
SAME_NUMBERS_AS = {"large": "sizes_baselines"}


#: What whole-number reading aims at: 4-digit numbers read right, and time per number (ms).
TARGET_FOUR_DIGIT, TARGET_MS = 0.95, 300


class OracleVerifier:
    """A piece verifier that knows, from the ink each candidate holds, whether it is one whole
    digit (:func:`~digitrec.piece_verifier.whole_digit_labels`): ``ORACLE`` gives its answers.

    :meth:`learn` the candidates of each number before reading it; candidates it has not
    seen (the verifier's doubt changes which cuts the reader tries) are unclear to it.
    """

    #: Its probability that a candidate is one whole digit: whole, not one, unclear (None).
    ORACLE = {1: 0.99, 0: VERIFIER_FLOOR, None: 0.5}

    def __init__(self) -> None:
        self.answers: dict[bytes, float] = {}

    def learn(self, reader: Any, ink: np.ndarray, owner: np.ndarray) -> None:
        """Label the candidates ``reader`` (without a verifier) weighs in an ink map, ``owner``
        saying which digit each of its pixels belongs to (:func:`~digitrec.piece_verifier.ink_owners`)."""
        candidates = candidate_digits(reader, ink)
        self.answers = {c.features.tobytes(): self.ORACLE[label]
                        for c, label in zip(candidates, whole_digit_labels(candidates, owner))}

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        whole = np.array([self.answers.get(row.tobytes(), self.ORACLE[None])
                          for row in np.asarray(features, dtype=float)])
        return np.column_stack([1 - whole, whole])


def _share(totals: list) -> float | None:
    return round(totals[0] / totals[1], 4) if totals[1] else None


def _confidence_scores(digits: list[tuple[float, float, bool]]) -> dict[str, float] | None:
    """How well the confidences of digits read (confidence, model's probability, right) tell
    right from wrong, and the model's probability alone."""
    if not digits:
        return None
    confidence, probability, right = (np.array(column) for column in zip(*digits))
    scores = {}
    for name, values in (("", confidence), ("model_alone_", probability)):
        scores[f"{name}ece"] = round(calibration_error(values, right), 4)
        scores[f"{name}log_loss"] = round(float(log_loss(right, values, labels=[False, True])), 4)
        if len(np.unique(right)) == 2:
            scores[f"{name}roc_auc"] = round(float(roc_auc_score(right, values)), 4)
    return scores


def _ms(totals: list) -> float | None:
    return round(1000 * totals[2] / totals[1], 1) if totals[1] else None


def candidates_hold_every_digit(classifier, image, owner: np.ndarray, truth: str) -> bool:
    """Whether every digit of a composed number is among the reader's candidates as a piece
    the model reads right (see ``READABLE``)."""
    ink, owner = ink_owners(image, owner)
    candidates = candidate_digits(classifier, ink)
    found = set()
    for main, purity, coverages, candidate in zip(*main_digits(candidates, owner), candidates):
        if purity >= READABLE and coverages[main] >= READABLE and candidate.label == truth[main - 1]:
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
    parser.add_argument("--n", type=whole_number(1), default=60, help="numbers per condition")
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--model", default=None, help="artifacts dir (default: bundled)")
    parser.add_argument("--conditions", type=names(NUMBER_STYLES, "condition"), default=",".join(NUMBER_STYLES),
                        help="comma-separated subset")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="MNIST split the digits come from (tune on train, report on test; see above)")
    verifiers = parser.add_mutually_exclusive_group()
    verifiers.add_argument("--without-verifier", action="store_true", help="read without the piece verifier")
    verifiers.add_argument("--oracle-verifier", action="store_true",
                           help="read with a piece verifier that knows which candidates are whole digits")
    parser.add_argument("--candidates", action="store_true",
                        help="also measure how often every digit is among the candidates, read right")
    parser.add_argument("--show-errors", type=whole_number(0), default=0, help="save up to this many misreads to /tmp")
    args = parser.parse_args()

    with argument_errors(parser):
        classifier = load_model(args.model, fallback=False)
        data = load_mnist(args.data)
    x_digits, y_digits = (data.x_test, data.y_test) if args.split == "test" else (data.x_train, data.y_train)
    oracle = OracleVerifier() if args.oracle_verifier else None
    if args.without_verifier or oracle:
        reader = classifier = replace(classifier, piece_verifier=None)
    if oracle:
        classifier = replace(classifier, piece_verifier=oracle)
    results: dict[str, dict] = {}
    four = {False: [0, 0, 0.0], True: [0, 0, 0.0]}  # pen-drawn or not: right, numbers, seconds reading them
    four_digits = {False: [], True: []}  # pen-drawn or not: (confidence, model's probability, right) per digit read
    saved = 0
    start_all = time.perf_counter()
    for name in args.conditions:
        style = NUMBER_STYLES[name]
        length = style.digits
        rng = np.random.default_rng([args.seed, list(NUMBER_STYLES).index(SAME_NUMBERS_AS.get(name, name))])
        right = edits = digits_total = count_right = ceiling_right = candidates_right = 0
        elapsed = 0.0
        digits_read = []  # (confidence, model's probability, right) per digit read
        for _ in range(args.n):
            idx = rng.choice(len(x_digits), size=length, replace=False)
            truth = "".join(str(int(d)) for d in y_digits[idx])
            img, owner, digits = style.compose(list(x_digits[idx]), rng)
            if oracle:
                ink, ink_owner = ink_owners(img, owner)
                oracle.learn(reader, ink, ink_owner)
            t = time.perf_counter()
            reading = read_ink(classifier, ink) if oracle else read_number(classifier, img)
            elapsed += time.perf_counter() - t
            alone = classifier.predict_proba_normalized(
                np.stack([mnist_from_ink(x.astype(np.float32) / 255.0) for x in digits])
            ).argmax(axis=1)
            ceiling_right += "".join(classifier.classes[i] for i in alone) == truth
            if args.candidates:
                candidates_right += candidates_hold_every_digit(classifier, img, owner, truth)
            right += reading.number == truth
            digits_read += [(d.confidence, d.probability, r)
                            for d, r in zip(reading.digits, digits_read_right(reading.number, truth))]
            count_right += len(reading.number) == length
            edits += min(edit_distance(reading.number, truth), length)
            digits_total += length
            if reading.number != truth and saved < args.show_errors:
                img.save(f"/tmp/numbers_err_{saved}_{name}_{truth}_{reading.number}.png")
                saved += 1
        confidences, _, rights = zip(*digits_read)
        results[name] = {
            "digits": length,
            "n": args.n,
            "number_accuracy": round(right / args.n, 4),
            "digit_accuracy": round(1 - edits / digits_total, 4),
            "digit_count_accuracy": round(count_right / args.n, 4),
            "classifier_alone_number_accuracy": round(ceiling_right / args.n, 4),
            **({"candidates_number_accuracy": round(candidates_right / args.n, 4)} if args.candidates else {}),
            "mean_digit_confidence": round(float(np.mean(confidences)), 4),
            "confidence_ece": round(calibration_error(confidences, rights), 4),
            "ms_per_number": round(1000 * elapsed / args.n, 1),
        }
        if length == 4:
            four_digits[style.pen] += digits_read
            totals = four[style.pen]
            totals[0] += right
            totals[1] += args.n
            totals[2] += elapsed
    print(json.dumps({
        "model": classifier.origin,
        "piece_verifier": "oracle" if oracle else classifier.piece_verifier is not None,
        "seed": args.seed,
        "split": args.split,
        "four_digit_number_accuracy": _share(four[False]),
        "four_digit_confidence": _confidence_scores(four_digits[False]),
        "four_digit_ms_per_number": _ms(four[False]),
        "four_digit_conditions": [name for name in results
                                  if NUMBER_STYLES[name].digits == 4 and not NUMBER_STYLES[name].pen],
        "target_four_digit": TARGET_FOUR_DIGIT,
        "target_met": (_share(four[False]) or 0.0) >= TARGET_FOUR_DIGIT and (_ms(four[False]) or 0.0) < TARGET_MS,
        "pen_four_digit_number_accuracy": _share(four[True]),
        "pen_four_digit_confidence": _confidence_scores(four_digits[True]),
        "pen_four_digit_ms_per_number": _ms(four[True]),
        "pen_four_digit_conditions": [name for name in results if NUMBER_STYLES[name].pen],
        "conditions": results,
        "seconds": round(time.perf_counter() - start_all, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
