"""Publish a training run's artifacts directory to a Hugging Face Hub model repo, or the
app's corrections to a dataset repo.

    python -m training.push DIR --repo OWNER/NAME [--private] [--message TEXT]
    python -m training.push CORRECTIONS_DIR --corrections --repo OWNER/NAME [--message TEXT]

The whole directory (model.skops, config.json, metrics.json, README.md, plots...) becomes
one commit; the commit SHA and its URL are printed, so the exact model can be pinned
later with ``OWNER/NAME@SHA``. ``--private`` makes the repo private: created so, or, if
it is public, made so before the commit (a line says so); without it, the repo's visibility
is left as it is. A card that training wrote for another repo is published
written for OWNER/NAME (:func:`digitrec.card.card_for_repo`); DIR is not changed. With
``--corrections``, DIR is a correction store (the app's ``DIGITREC_CORRECTIONS_DIR``): a
consistent snapshot of it is added to the dataset repo (its log extended, never replaced),
created private as it holds users' drawings, and refused if public (see
:func:`digitrec.corrections.push_to_hub`); download it (``hf download OWNER/NAME
--repo-type dataset --local-dir DIR``) to train with ``python -m training.train ...
--extra-data DIR``. Authentication uses ``HF_TOKEN`` or the token saved by
``hf auth login``; the token is never printed. On failure, one line explaining what went
wrong goes to stderr and the exit status is 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from digitrec import corrections
from digitrec.card import card_for_repo
from digitrec.cli import one_line
from digitrec.errors import DigitrecError
from digitrec.hub import PushResult, push_artifacts

#: ``--private`` of this command and of ``training.train --push``.
PRIVATE_HELP = "make the model repo private: created so, or made so if it is public (never made public)"


def push_and_report(
    directory: str | Path,
    repo_id: str,
    private: bool = False,
    message: str | None = None,
    *,
    store: bool = False,
    out: TextIO | None = None,
) -> PushResult:
    """Push ``directory`` to ``repo_id`` (see :func:`digitrec.hub.push_artifacts`), its card written
    for ``repo_id`` (:func:`digitrec.card.card_for_repo`), and print where it went (and that the
    repo was made private, if ``private`` did that to a public one); with ``store``,
    the correction store ``directory`` to the dataset ``repo_id`` (:func:`digitrec.corrections.push_to_hub`,
    always private).

    This is what ``--push`` of the training CLI calls. Errors are raised, not printed:
    :class:`~digitrec.errors.DigitrecError` subclasses carry a message meant for the user.
    """
    out = out or sys.stdout
    result = (corrections.push_to_hub(directory, repo_id, message=message) if store
              else push_artifacts(directory, repo_id, private=private, message=message,
                                  card=card_for_repo(directory, repo_id)))
    if result.made_private:
        print(f"made {result.repo_id} private (it was public)", file=out)
    print(f"pushed {directory} to {result.repo_id}", file=out)
    print(f"commit: {result.commit_sha}", file=out)
    print(f"url: {result.url}", file=out)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.push",
        description="Upload an artifacts directory to a Hugging Face Hub model repo as one commit, "
                    "or the app's corrections to a dataset repo.",
    )
    parser.add_argument("directory", type=Path, help="artifacts directory written by training "
                                                      "(with --corrections: the app's correction store)")
    parser.add_argument("--repo", required=True, metavar="OWNER/NAME", help="model repo (created if missing)")
    parser.add_argument("--private", action="store_true", help=PRIVATE_HELP)
    parser.add_argument("--corrections", action="store_true",
                        help="push a correction store to the dataset repo OWNER/NAME (created private)")
    parser.add_argument("--message", default=None, help="commit message")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        push_and_report(args.directory, args.repo, private=args.private, message=args.message,
                        store=args.corrections)
    except DigitrecError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
