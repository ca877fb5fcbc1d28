"""The model card: Hub YAML metadata (huggingface_hub) over a skops-built body."""

from __future__ import annotations

import re
import shlex
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from skops.card import Card

from digitrec import plots
from digitrec.artifacts import CARD_FILE, PIECE_VERIFIER_FILE
from digitrec.classifier import load_directory
from digitrec.data import SourceInfo, describe_source
from digitrec.errors import DigitrecError
from digitrec.hub import hub_url
from digitrec.zoo import CANDIDATES

#: Where the model and the demo live on the Hub (override with ``--push``/``--repo``).
DEFAULT_REPO_ID = "digitrec/digitrec-mnist"
SPACE_ID = "digitrec/digitrec"
#: The line under the card's title.
TAGLINE = ("A scikit-learn handwritten digit classifier saved with skops: what it is, how it was trained, how "
           "well it does and how to use it.")
LICENSE = "mit"
#: The longest value the hyperparameter table shows in full.
MAX_CELL = 100

CITATION = """@misc{digitrec,
  title  = {digitrec: handwritten digit recognition with scikit-learn},
  year   = {2026},
  note   = {Model card and code: %s}
}"""
MNIST_CITATION = """@article{lecun1998mnist,
  title   = {Gradient-based learning applied to document recognition},
  author  = {LeCun, Yann and Bottou, L{\\'e}on and Bengio, Yoshua and Haffner, Patrick},
  journal = {Proceedings of the IEEE},
  volume  = {86}, number = {11}, pages = {2278--2324}, year = {1998}
}"""


def card_metadata(metrics: dict[str, Any], repo_id: str) -> ModelCardData:
    """Hub metadata: library, license, tags, dataset (the Hub's id of the one trained on, when
    it has one), metrics and a model-index."""
    data = describe_source(metrics["data"]["source"])
    hub_ids = [data.hub_id] if data.hub_id else []
    return ModelCardData(
        library_name="sklearn",
        license=LICENSE,
        tags=["sklearn", "skops", "image-classification", *hub_ids, "handwritten-digits", "digitrec"],
        datasets=hub_ids or None,
        metrics=["accuracy", "f1"],
        pipeline_tag="image-classification",
        model_name=repo_id.split("/")[-1],
        eval_results=[
            EvalResult(task_type="image-classification", dataset_type=data.hub_id or data.argument,
                       dataset_name=data.name, dataset_split="test", metric_type=metric, metric_name=name,
                       metric_value=round(metrics[key], 4))
            for metric, name, key in (("accuracy", "Test accuracy", "test_accuracy"), ("f1", "Macro F1", "macro_f1"))
        ],
    )


def write_card(directory: Path, model: Any, config: dict[str, Any], metrics: dict[str, Any],
               repo_id: str = DEFAULT_REPO_ID) -> Path:
    """Render the card for the artifacts in ``directory`` and write it as ``README.md``."""
    path = Path(directory) / CARD_FILE
    path.write_text(render_card(model, config, metrics, repo_id), encoding="utf-8")
    return path


def card_for_repo(directory: Path, repo_id: str) -> str | None:
    """The card to publish the artifacts in ``directory`` with to ``repo_id``, if not their own.

    A card :func:`write_card` made names its repo (title, ``load_model`` line, citation,
    model-index): when it names another, the card is rendered again for ``repo_id`` from
    the directory's model, config and metrics, which are left as they are. None when the
    card names ``repo_id`` already, or is not one of ours (then it is published as it is).
    Raises :class:`DigitrecError` if the metrics lack what the card needs.
    """
    named = repo_id_of_card(Path(directory) / CARD_FILE)
    if named is None or named == repo_id:
        return None
    classifier = load_directory(directory, origin=f"local:{directory}")
    try:
        return render_card(classifier.model, classifier.config, classifier.metrics, repo_id)
    except KeyError as exc:
        raise DigitrecError(f"{directory}: its card names {named}, and cannot be written for {repo_id}: "
                            f"metrics.json has no {exc}; nothing was pushed") from None


def render_card(model: Any, config: dict[str, Any], metrics: dict[str, Any], repo_id: str) -> str:
    """The card's text (YAML metadata, then the body) for ``model`` published as ``repo_id``."""
    body = Card(model, template=None, model_diagram=False)
    chosen = metrics["chosen"]
    space_url = hub_url(f"spaces/{SPACE_ID}")
    data = describe_source(metrics["data"]["source"])
    body.add(**{
        "Model description": (
            f"A handwritten digit classifier (0-9) for 28x28 images, served by the "
            f"[digitrec Space]({space_url}). Pipeline: "
            f"**{chosen['description']}** (`{chosen['name']}`), with temperature-scaled "
            f"probabilities. It reaches **{metrics['test_accuracy']:.2%}** accuracy on the {data.name} test split."
        ),
        "Intended uses & limitations": (
            "Intended for single handwritten digits: drawings on a canvas, photos or scans of one "
            "digit on paper. Every input is first normalized with `digitrec.normalize.to_mnist` "
            f"(version {config['input']['normalization_version']}): ink from alpha or from contrast "
            "with the paper, crop, stroke-width normalization, fit in 20x20, centre of mass at the "
            "centre of 28x28. Limitations: one digit per image (use the Space's number endpoint "
            f"for several); trained on {data.writers}, so unusual "
            "styles can be less accurate; confidences below 0.5 mean the model is unsure, and "
            "inputs that are not digits still get a label. Not for any decision about people."
        ),
        "Training data": (
            f"{data.name} ({data.argument}{', `--quick`' if metrics['data'].get('quick') else ''}): "
            f"{metrics['data']['n_train']:,} training and "
            f"{metrics['data']['n_test']:,} test images, each re-normalized with the serving "
            f"normalization. {metrics['data']['n_validation']:,} training images were held out "
            "as a validation split for model selection; the test split was used once, for the "
            "final report."
        ),
        "Training procedure": (
            "Every candidate family was tuned on the validation split (grid below); the best "
            "by validation accuracy (on a tie, the one trained with more distorted copies) was "
            "refitted on the whole training set"
            + (f" plus {_copies(metrics['augmentation']['copies'])} of each image "
               f"(random rotation, scale, shear, translation, elastic distortion and stroke "
               f"thickness; seed {metrics['augmentation']['seed']}; ranges "
               f"`{metrics['augmentation']['distortion']}`)" if metrics.get("augmentation") else "")
            + (f" and {metrics['style_digits']['n']:,} style digits for the styles {data.name} under-represents: "
               f"{metrics['style_digits']['from_fonts']:,} rendered from "
               f"{len(metrics['style_digits']['font_families'])} handwriting and typeset font families "
               f"(fonts held out for the drawing benchmark excluded) and "
               f"{metrics['style_digits']['from_stroke_templates']:,} drawn from pen-stroke templates "
               "(crossed sevens, curved-tail nines, open fours...) with random slant and wobble; "
               f"seed {metrics['style_digits']['seed']}, generated by `digitrec.styles`"
               if metrics.get("style_digits") else "")
            + (f"; {metrics['sketched_digits']['n']:,} training digits redrawn from their skeletons with a round "
               "pen on a transparent canvas, as people draw on the Space's sketchpad (sizes, positions and brush "
               f"widths of the drawing benchmark's sketch conditions; seed {metrics['sketched_digits']['seed']}, "
               "`digitrec.styles.sketched_digits`), kept their labels"
               if metrics.get("sketched_digits") else "")
            + (f"; {metrics['not_a_digit']['n']:,} images that are not digits (random pen scribbles, "
               "letters and symbols) form an extra class, whose probability is left out of the "
               "served digit confidences so that they sum to less than 1 for non-digits"
               if metrics.get("not_a_digit") else "")
            + (f"; {metrics['touching_pairs']['n']:,} images of two training digits run together "
               f"(from {-metrics['touching_pairs']['gap'][0]} px crossing to {metrics['touching_pairs']['gap'][1]} px "
               f"apart at MNIST's scale, sizes "
               f"{metrics['touching_pairs']['scale'][0]}-{metrics['touching_pairs']['scale'][1]}x; seed "
               f"{metrics['touching_pairs']['seed']}, `digitrec.styles.touching_pairs`) join that class too, "
               "so that the number reader doubts reading two touching digits as one"
               if metrics.get("touching_pairs") else "")
            + (f"; {metrics['cut_pieces']['n']:,} training digits as the number reader cuts them out of "
               f"numbers of three digits run together (same spacing, sizes and baselines; seed "
               f"{metrics['cut_pieces']['seed']}, `digitrec.styles.cut_pieces`), each at least "
               f"{metrics['cut_pieces']['purity']:.0%} its own ink and holding at least "
               f"{metrics['cut_pieces']['coverage']:.0%} of it, kept their labels, so that the model reads "
               "digits cut apart with some of a neighbour's strokes"
               if metrics.get("cut_pieces") else "")
            + (f"; {metrics['extra_data']['n']:,} images corrected by users of the app "
               f"(`--extra-data {Path(metrics['extra_data']['source']).name}`) joined every candidate's training rows"
               if metrics.get("extra_data") else "; no user-corrected samples were used")
            + ", then its scores were calibrated by temperature scaling with out-of-fold "
            "predictions (`CalibratedClassifierCV(method='temperature')`). Reproduce with "
            f"`{training_command(metrics)}` (took {metrics['training_seconds'] / 60:.1f} minutes"
            + (f" on {metrics['cpu_count']} CPU cores" if metrics.get("cpu_count") else "")
            + ")."
        ),
    })
    _add_table(body, "Training procedure/Hyperparameters", _hyperparameters_table(model), folded=True,
               description="All parameters of the fitted pipeline (scikit-learn `get_params`), a step or "
                           "an array by its type, its parameters in rows of their own.")
    _add_table(body, "Evaluation/Candidates", _candidates_table(metrics["candidates"]),
               description="Every candidate, tuned on the validation split:")
    body.add_metrics(
        "Evaluation/Test metrics",
        description=f"Chosen model on the test split ({metrics['data']['n_test']:,} images).",
        **{"accuracy": round(metrics["test_accuracy"], 4), "macro F1": round(metrics["macro_f1"], 4),
           "ROC AUC (one-vs-rest)": _maybe_round(metrics["roc_auc_ovr"]),
           "expected calibration error": round(metrics["ece"], 4),
           "predict time per image (ms)": round(metrics["predict_ms_per_image"], 2)},
    )
    _add_table(body, "Evaluation/Per-class metrics", _per_class_table(metrics["per_class"]))
    for title, png in (("Confusion matrix", plots.CONFUSION_PNG), ("ROC curves", plots.ROC_PNG),
                       ("Precision-recall curves", plots.PR_PNG), ("Misclassified digits", plots.ERRORS_PNG),
                       ("Candidate comparison", plots.COMPARISON_PNG)):
        # one call per plot: skops 0.16 gives every plot of a call the first one's alt text
        body.add_plot(alt_text=title, **{f"Evaluation/{title}": png})
    verifier = metrics.get("piece_verifier")
    if verifier:
        held_out = verifier.get("held_out") or {}
        confidence = verifier.get("digit_confidence")
        body.add(**{"Reading whole numbers": (
            "The Space also reads numbers of several digits, cutting touching digits apart and "
            "keeping the reading the model and the cut shapes agree on best (`digitrec.segment`). "
            f"`{PIECE_VERIFIER_FILE}` is the piece verifier that helps it: a gradient-boosted tree model "
            "(`HistGradientBoostingClassifier`) giving the probability that a candidate piece is exactly "
            "one whole digit, not a fragment or two digits merged, from its shape and this model's "
            f"probabilities (`{'`, `'.join(verifier['features'])}`). `digitrec.piece_verifier` composed "
            f"{verifier['n_numbers']:,} numbers from {data.name} training digits (seed {verifier['seed']}) and "
            f"labelled the {verifier['n_candidates']:,} candidate pieces the reader weighed in them by the "
            "digits their ink came from"
            + (f"; the verifier learned from {1 - held_out['share']:.0%} of the numbers, and on the "
               f"{held_out['n_candidates']:,} pieces of the other {held_out['share']:.0%} its ROC AUC is "
               f"{held_out['roc_auc']:.4f} and its log loss {held_out['log_loss']:.4f}" if held_out else "")
            + ". Load it like the model, trusting the types `config.json` lists under "
            "`piece_verifier.trusted_types`."
            + (f" Each digit read gets a confidence, how likely it is right: a logistic map of the logits of "
               "this model's probability for its label and the verifier's that it is one whole digit "
               "(`config.json`'s `piece_verifier.digit_confidence`), fitted on the "
               f"{confidence['n_digits']:,} digits read in {confidence['n_numbers']:,} numbers composed from "
               f"distorted copies of training digits (seed {confidence['seed']}; {confidence['share_right']:.1%} "
               "right, as with new digits): log loss "
               f"{confidence['log_loss']:.4f} there, against {confidence['log_loss_model_alone']:.4f} for "
               "the model's probability alone, which is about 0.97 for nearly every piece, right or wrong."
               if confidence and "log_loss" in confidence else "")
            + f" Reproduce with `{verifier_command(metrics)}`."
        )})
    own_types = [name for name in config.get("trusted_types", []) if name.startswith("digitrec.")]
    body.add(**{
        "How to use/From Python": (
            f"digitrec is the code of the Space [{SPACE_ID}]({space_url}) (it is "
            f"not on PyPI): `hf download {SPACE_ID} --repo-type space --local-dir digitrec-app`, then, in "
            "`digitrec-app`, `pip install -r requirements.txt`.\n\n"
            "```python\nimport digitrec\n\n"
            f"model = digitrec.load_model(\"{repo_id}\")  # or a local artifacts directory\n"
            "print(model.predict([\"digit.png\"]), model.predict_proba([\"digit.png\"]))\n```\n\n"
            "Without `digitrec.load_model`, load the file with skops, trusting exactly the types listed in "
            "`config.json` (`trusted_types`"
            + ("; digitrec must still be importable, as the pipeline holds its "
               f"{', '.join(f'`{name}`' for name in own_types)}" if own_types else "")
            + "), and feed it 784-value rows produced by digitrec's normalization"
            + (". Its `predict_proba` then has 11 columns: the digits 0-9, then \"not a digit\" "
               "(`not_a_digit_class` in `config.json`), which `digitrec` leaves out of its confidences"
               if config.get("not_a_digit_class") else "")
            + ":\n\n```python\nimport json, skops.io as sio\n"
            "types = json.load(open(\"config.json\"))[\"trusted_types\"]\n"
            "model = sio.load(\"model.skops\", trusted=types)\n```"
        ),
        "How to use/Through the Space's API": (
            "```python\nfrom gradio_client import Client, handle_file\n\n"
            f"client = Client(\"{SPACE_ID}\")\n"
            "client.predict(handle_file(\"digit.png\"), api_name=\"/predict\")\n"
            "client.predict({\"background\": None, \"layers\": [], \"composite\": handle_file(\"sketch.png\")},\n"
            "               api_name=\"/predict_sketch\")\n"
            "# -> {'label': '7', 'confidences': [{'label': '7', 'confidence': 0.99}, ...]}\n```"
        ),
        "Citation": _citation(repo_id, data),
    })
    text = (f"---\n{card_metadata(metrics, repo_id).to_yaml()}\n---\n\n# {repo_id}\n\n"
            f"{TAGLINE}\n{body.render()}\n")
    ModelCard(text)  # validates the metadata block
    return text


def repo_id_of_card(path: Path) -> str | None:
    """The repo id (OWNER/NAME) a card written by :func:`write_card` names in its title, if
    there is one: None for a card without one, or with another title (not one of ours)."""
    if not Path(path).is_file():
        return None
    title = next((line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.startswith("# ")), None)
    return title[2:].strip() if title and re.fullmatch(r"[\w.-]+/[\w.-]+", title[2:].strip()) else None


def training_command(metrics: dict[str, Any]) -> str:
    """The ``training.train`` command line that repeats the run ``metrics`` reports (into ``DIR``)."""
    names = [c["name"] for c in metrics["candidates"]]
    args = ["--data", describe_source(metrics["data"]["source"]).argument, "--out", "DIR"]
    args += ["--models", ",".join(names)] if names != list(CANDIDATES) else []
    args += ["--quick"] if metrics["data"].get("quick") else []
    args += ["--seed", str(metrics["seed"])] if metrics.get("seed") else []
    args += ["--extra-data", Path(metrics["extra_data"]["source"]).name] if metrics.get("extra_data") else []
    return shlex.join(["python", "-m", "training.train", *args])


def verifier_command(metrics: dict[str, Any]) -> str:
    """The ``training.train_verifier`` command line that trains the piece verifier ``metrics`` reports
    again, for the model in ``DIR``."""
    verifier = metrics["piece_verifier"]
    args = ["--model", "DIR", "--data", describe_source(metrics["data"]["source"]).argument,
            "--numbers", str(verifier["n_numbers"])]
    args += ["--seed", str(verifier["seed"])] if verifier.get("seed") else []
    return shlex.join(["python", "-m", "training.train_verifier", *args])


def _citation(repo_id: str, data: SourceInfo) -> str:
    """BibTeX for this model, and for MNIST when it was trained on MNIST."""
    entries = [CITATION % hub_url(repo_id), *([MNIST_CITATION] if data.hub_id == "mnist" else [])]
    return "```bibtex\n" + "\n".join(entries) + "\n```"


def _copies(n: int) -> str:
    """How many distorted copies, "1 distorted copy" in the singular."""
    return f"{n} distorted cop{'y' if n == 1 else 'ies'}"


def _add_table(body: Card, section: str, table: dict[str, list[Any]], description: str | None = None,
               folded: bool = False) -> None:
    """Add ``table`` as the subsection ``section`` ("Parent/Title"), headed by its title alone
    (skops 0.16's ``add_table`` would head it with the whole path)."""
    body.add_table(folded=folded, description=description, **{section: table})
    body.select(section).title = section.rpartition("/")[2]


def _hyperparameters_table(model: Any) -> dict[str, list[str]]:
    """Every parameter of ``model`` (``get_params(deep=True)``), each value short (:func:`_short`)."""
    params = model.get_params(deep=True)
    return {"Hyperparameter": list(params), "Value": [_short(value) for value in params.values()]}


def _short(value: Any) -> str:
    """``value`` in at most :data:`MAX_CELL` characters: an estimator by its class (its parameters
    have rows of their own), an array by its shape (calibration folds are arrays of row indices)."""
    return textwrap.shorten(_outline(value), MAX_CELL, placeholder=" ...")


def _outline(value: Any) -> str:
    """``value`` as text, with estimators and arrays named by type (see :func:`_short`)."""
    if hasattr(value, "get_params"):
        return type(value).__name__
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    if isinstance(value, (list, tuple)):
        items = ", ".join(repr(item) if isinstance(item, str) else _outline(item) for item in value)
        return f"[{items}]" if isinstance(value, list) else f"({items})"
    return str(value)


def _maybe_round(value: float | None) -> float | str:
    return "n/a" if value is None else round(value, 4)


def _candidates_table(candidates: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {
        "candidate": [c["name"] for c in candidates],
        "best parameters": [", ".join(f"{k}={v}" for k, v in c["best_params"].items()) or "defaults"
                            for c in candidates],
        "training images": [c["n_train"] for c in candidates],
        "validation accuracy": [round(c["val_accuracy"], 4) for c in candidates],
        "test accuracy": [round(c["test_accuracy"], 4) for c in candidates],
        "fit time (s)": [round(c["fit_seconds"], 1) for c in candidates],
        "predict ms/image": [round(c["predict_ms_per_image"], 2) for c in candidates],
    }


def _per_class_table(per_class: dict[str, dict[str, float]]) -> dict[str, list[Any]]:
    return {
        "digit": list(per_class),
        "precision": [round(v["precision"], 4) for v in per_class.values()],
        "recall": [round(v["recall"], 4) for v in per_class.values()],
        "F1": [round(v["f1-score"], 4) for v in per_class.values()],
        "support": [int(v["support"]) for v in per_class.values()],
    }
