"""The model card: Hub YAML metadata (huggingface_hub) over a skops-built body."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from skops.card import Card

from digitrec import plots
from digitrec.artifacts import PIECE_VERIFIER_FILE

#: Where the model and the demo live on the Hub (override with ``--push``/``--repo``).
DEFAULT_REPO_ID = "digitrec/digitrec-mnist"
SPACE_ID = "digitrec/digitrec"
LICENSE = "mit"

CITATION = """```bibtex
@misc{digitrec,
  title  = {digitrec: handwritten digit recognition with scikit-learn},
  year   = {2026},
  note   = {Model card and code: https://huggingface.co/%s}
}
@article{lecun1998mnist,
  title   = {Gradient-based learning applied to document recognition},
  author  = {LeCun, Yann and Bottou, L{\\'e}on and Bengio, Yoshua and Haffner, Patrick},
  journal = {Proceedings of the IEEE},
  volume  = {86}, number = {11}, pages = {2278--2324}, year = {1998}
}
```"""


def card_metadata(metrics: dict[str, Any], repo_id: str) -> ModelCardData:
    """Hub metadata: library, license, tags, dataset, metrics and a model-index."""
    return ModelCardData(
        library_name="sklearn",
        license=LICENSE,
        tags=["sklearn", "skops", "image-classification", "mnist", "handwritten-digits", "digitrec"],
        datasets=["mnist"],
        metrics=["accuracy", "f1"],
        pipeline_tag="image-classification",
        model_name=repo_id.split("/")[-1],
        eval_results=[
            EvalResult(task_type="image-classification", dataset_type="mnist", dataset_name="MNIST",
                       dataset_split="test", metric_type="accuracy", metric_name="Test accuracy",
                       metric_value=round(metrics["test_accuracy"], 4)),
            EvalResult(task_type="image-classification", dataset_type="mnist", dataset_name="MNIST",
                       dataset_split="test", metric_type="f1", metric_name="Macro F1",
                       metric_value=round(metrics["macro_f1"], 4)),
        ],
    )


def write_card(directory: Path, model: Any, config: dict[str, Any], metrics: dict[str, Any],
               repo_id: str = DEFAULT_REPO_ID) -> Path:
    """Render the card for the artifacts in ``directory`` and write it as ``README.md``."""
    body = Card(model, template=None, model_diagram=False)
    chosen = metrics["chosen"]
    data_argument = _data_argument(metrics["data"]["source"])
    body.add(**{
        "Model description": (
            f"A handwritten digit classifier (0-9) for 28x28 images, served by the "
            f"[digitrec Space](https://huggingface.co/spaces/{SPACE_ID}). Pipeline: "
            f"**{chosen['description']}** (`{chosen['name']}`), with temperature-scaled "
            f"probabilities. It reaches **{metrics['test_accuracy']:.2%}** accuracy on the MNIST test split."
        ),
        "Intended uses & limitations": (
            "Intended for single handwritten digits: drawings on a canvas, photos or scans of one "
            "digit on paper. Every input is first normalized with `digitrec.normalize.to_mnist` "
            f"(version {config['input']['normalization_version']}): ink from alpha or from contrast "
            "with the paper, crop, stroke-width normalization, fit in 20x20, centre of mass at the "
            "centre of 28x28. Limitations: one digit per image (use the Space's number endpoint "
            "for several); trained on MNIST's writers (US Census staff and students), so unusual "
            "styles can be less accurate; confidences below 0.5 mean the model is unsure, and "
            "inputs that are not digits still get a label. Not for any decision about people."
        ),
        "Training data": (
            f"MNIST ({data_argument}): {metrics['data']['n_train']:,} training and "
            f"{metrics['data']['n_test']:,} test images, each re-normalized with the serving "
            f"normalization. {metrics['data']['n_validation']:,} training images were held out "
            "as a validation split for model selection; the test split was used once, for the "
            "final report."
        ),
        "Training procedure": (
            "Every candidate family was tuned on the validation split (grid below); the best "
            "by validation accuracy (on a tie, the one trained with more distorted copies) was "
            "refitted on the whole training set"
            + (f" plus {metrics['augmentation']['copies']} distorted copies of each image "
               f"(random rotation, scale, shear, translation, elastic distortion and stroke "
               f"thickness; seed {metrics['augmentation']['seed']}; ranges "
               f"`{metrics['augmentation']['distortion']}`)" if metrics.get("augmentation") else "")
            + (f" and {metrics['style_digits']['n']:,} style digits for the styles MNIST under-represents: "
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
               f"(`--extra-data {metrics['extra_data']['source']}`) joined every candidate's training rows"
               if metrics.get("extra_data") else "; no user-corrected samples were used")
            + ", then its scores were calibrated by temperature scaling with out-of-fold "
            "predictions (`CalibratedClassifierCV(method='temperature')`). Reproduce with "
            f"`python -m training.train --data {data_argument} --out DIR"
            f"{' --quick' if metrics['data'].get('quick') else ''}` "
            f"(took {metrics['training_seconds'] / 60:.1f} minutes"
            + (f" on {metrics['cpu_count']} CPU cores" if metrics.get("cpu_count") else "")
            + ")."
        ),
    })
    body.add_hyperparams("Training procedure/Hyperparameters",
                         description="All parameters of the fitted pipeline (scikit-learn `get_params`).")
    body.add_table(folded=False, description="Every candidate, tuned on the validation split:",
                   **{"Evaluation/Candidates": _candidates_table(metrics["candidates"])})
    body.add_metrics(
        "Evaluation/Test metrics",
        description=f"Chosen model on the test split ({metrics['data']['n_test']:,} images).",
        **{"accuracy": round(metrics["test_accuracy"], 4), "macro F1": round(metrics["macro_f1"], 4),
           "ROC AUC (one-vs-rest)": _maybe_round(metrics["roc_auc_ovr"]),
           "expected calibration error": round(metrics["ece"], 4),
           "predict time per image (ms)": round(metrics["predict_ms_per_image"], 2)},
    )
    body.add_table(folded=False, **{"Evaluation/Per-class metrics": _per_class_table(metrics["per_class"])})
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
            f"{verifier['n_numbers']:,} numbers from MNIST training digits (seed {verifier['seed']}) and "
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
            + " Reproduce with "
            f"`python -m training.train_verifier --model DIR --data {data_argument}`."
        )})
    own_types = [name for name in config.get("trusted_types", []) if name.startswith("digitrec.")]
    body.add(**{
        "How to use/From Python": (
            f"digitrec is the code of the Space [{SPACE_ID}](https://huggingface.co/spaces/{SPACE_ID}) (it is "
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
        "Citation": CITATION % repo_id,
    })
    text = f"---\n{card_metadata(metrics, repo_id).to_yaml()}\n---\n\n# {repo_id}\n{body.render()}\n"
    ModelCard(text)  # validates the metadata block
    path = Path(directory) / "README.md"
    path.write_text(text, encoding="utf-8")
    return path


def repo_id_of_card(path: Path) -> str | None:
    """The repo id a card written by :func:`write_card` names in its title, if there is one."""
    if not Path(path).is_file():
        return None
    title = next((line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.startswith("# ")), None)
    return title[2:].strip() if title else None


def _data_argument(source: str) -> str:
    """The ``--data`` a card reader would pass: a file by its name (its folder on the training
    machine means nothing on the Hub), ``openml`` and ``sklearn-digits`` as they are."""
    return Path(source).name if source.endswith(".npz") else source


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
