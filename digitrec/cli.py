"""What the command lines (``training/``, ``bench/``) share: option types argparse checks,
and errors meant for the user reported as one ``error:`` line rather than a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from digitrec.errors import DigitrecError
from digitrec.settings import parse_whole_number

#: The largest seed numpy's legacy generators and scikit-learn's ``random_state`` accept.
MAX_SEED = 2**32 - 1


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number from ``low`` to ``high`` (no upper bound if
    None): a bad value is argparse's one-line error (exit status 2) before any work, not a
    traceback from deep inside it. The same rule as the app's settings."""
    def parse(text: str) -> int:
        try:
            return parse_whole_number(text, low, high)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{exc}, not {text!r}") from None
    return parse


#: An argparse ``type`` for a random seed.
seed = whole_number(0, MAX_SEED)


def names(choices: Iterable[str], what: str) -> Callable[[str], list[str]]:
    """An argparse ``type`` for a comma-separated list of ``choices`` (``what`` each is, for the
    error, which names every choice), e.g. ``--models logreg,knn``."""
    known = list(choices)

    def parse(text: str) -> list[str]:
        picked = text.split(",")
        unknown = [name for name in picked if name not in known]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {what}(s) {', '.join(map(repr, unknown))}; "
                                             f"choose from {', '.join(known)}")
        return picked
    return parse


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one line (some name a path on one line and what to do on the next)."""
    return " ".join(str(exc).split())


@contextmanager
def argument_errors(parser: argparse.ArgumentParser) -> Iterator[None]:
    """Report a :class:`~digitrec.errors.DigitrecError` raised in the block (a model or a
    dataset an argument names that cannot be used) as ``parser``'s error: the usage, one
    ``error:`` line, exit status 2."""
    try:
        yield
    except DigitrecError as exc:
        parser.error(one_line(exc))
