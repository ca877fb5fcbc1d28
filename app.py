"""digitrec's Gradio app: draw or upload a handwritten digit and see what the model reads.

``python app.py`` serves the model chosen by the environment (see ``digitrec/settings.py``).
Importing this module loads that model and builds ``demo`` without launching it; tests
call ``build_app(load_model())`` instead. The logic lives in ``digitrec/serving.py``:
this file only lays out components and wires events.

Public API endpoints (everything else is private to the page):

* ``/predict`` — an image file -> ``{"label", "confidences"}`` (top 3);
* ``/predict_sketch`` — a sketchpad value ``{"background", "layers", "composite"}`` -> the same;
* ``/predict_batch`` — a list of image files, or zip archives of them -> a list of the same, in order;
* ``/predict_number`` — an image file of a whole number -> ``{"number", "digits": [{"label",
  "confidence", "box"}, ...]}``; ``/predict_number_sketch`` — the same from a sketchpad value.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import gradio as gr
from threadpoolctl import threadpool_limits

from digitrec import load_model
from digitrec.classifier import DigitClassifier
from digitrec.errors import DigitrecError
from digitrec.serving import (
    PREVIEW_SIZE,
    Predictor,
    about_markdown,
    confusion_matrix_path,
    model_card_path,
    model_card_url,
    model_summary,
)
from digitrec.beyond_serving import CorrectionDesk, NumberReader, number_shown, top_label, with_correction_form
from digitrec.settings import Settings

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
CANVAS_SIZE = 400
#: The concurrency group of the events that run the model (see ``build_app``).
MODEL_CONCURRENCY_ID = "model"
#: Page JavaScript giving a correction form's choice and note their empty values.
RESET_CORRECTION_JS = "() => [null, '']"
#: Page CSS (passed by ``launch``: Gradio 6 takes it there), for phones. Under 620 px wide the
#: tabs' Rows stack their columns (min widths 320 + 220, and the page's padding), which put the
#: answer below all of the input column: the drawing tip, the examples, the Number tab's upload,
#: off the screen. There an ``ANSWER_NEXT`` column dissolves into its Row (``display: contents``)
#: and all but its first child (the canvas, or the picture) go after the answer column.
#: The sketchpads' tool bar sits 15 px into the canvas, over the drawing surface's left edge
#: whenever the surface fills the canvas's width less gradio's 30 px margins (phones, the wide
#: Number canvas): at the canvas's edge it stays within the margin.
ANSWER_NEXT = "answer-next"
PAGE_CSS = """
@media (max-width: 619px) {
  .column.answer-next { display: contents; }
  .column.answer-next > :not(:first-child) { order: 1; }
}
#sketch .toolbar-wrap, #number-sketch .toolbar-wrap { left: 0; }
"""


def empty_on_failure(event: Any, outputs: list[gr.components.Component]) -> None:
    """When page ``event`` fails (its message shows as a toast), empty its ``outputs``, so that no
    earlier answer stays on screen, or in a correction form's state, as if it were this input's,
    and no earlier "Thanks! Saved" beside a correction that was not saved. Runs no model, so
    outside the queue and its limit."""
    event.failure(lambda: dict.fromkeys(outputs), None, outputs, api_visibility="private", queue=False)


def select_brush_js(elem_id: str) -> str:
    """Page JavaScript that picks the brush of sketchpad ``#elem_id`` once it is on the page.

    The editor starts with no tool selected ("select the draw tool to start"), so drawing
    would not work straight away with a mouse or a finger; its "Clear canvas" button drops
    the tool again. Tabs render on first visit: a sketchpad in one gets this when its tab is
    selected. The brush is only clicked while
    the editor still asks for a tool (clicking it again would open its size menu).
    """
    return """
() => {
  let tries = 0;
  const timer = setInterval(() => {
    const root = document.querySelector("#%s");
    const brush = root && (root.querySelector('button[aria-label="Brush"]')
                           || root.querySelector(".toolbar-wrap button"));
    if (brush || ++tries > 100) {
      clearInterval(timer);
      if (brush && root.innerText.includes("select the draw tool")) brush.click();
    }
  }, 100);
}
""" % elem_id


def build_app(classifier: DigitClassifier, settings: Settings | None = None) -> gr.Blocks:
    """The app serving ``classifier``, with the queue limits of ``settings``.

    At most ``settings.queue_size`` requests wait; at most ``settings.concurrency`` run the
    model at once, all endpoints and page events together (one concurrency group), so the
    load on the machine does not grow with the number of endpoints.
    """
    settings = settings or Settings()

    with gr.Blocks(title="digitrec: handwritten digit recognizer") as demo:
        gr.Markdown("# Handwritten digit recognizer\nDraw a digit from 0 to 9, or upload a picture of one.")
        gr.Markdown(model_summary(classifier), elem_id="model-summary")

        with gr.Tabs():
            with gr.Tab("Draw", id="draw"):
                with gr.Row():
                    with gr.Column(scale=3, min_width=320, elem_classes=ANSWER_NEXT):
                        # On a phone the canvas is as wide as the page less 64 px: a square box,
                        # no empty bands above and below the drawing surface fitted to its width.
                        sketch = _sketchpad(
                            "Draw one digit, large", "sketch", (CANVAS_SIZE, CANVAS_SIZE), brush_size=14,
                            height=f"min({CANVAS_SIZE + 130}px, calc(100vw - 60px))",
                        )
                        gr.Markdown(
                            "Draw large, in the middle. The prediction updates each time you lift the "
                            "pen; ↶ undoes a stroke, the bin clears the canvas.",
                            elem_id="draw-tip",
                        )
                    sketch_label, sketch_note, sketch_preview, sketch_heat, sketch_fix, sketch_fix_button, \
                        sketch_fix_note = _result_column("sketch")
                sketch_answered = gr.State(None)  # the digit the correction form is for

            with gr.Tab("Upload", id="upload"):
                with gr.Row():
                    with gr.Column(scale=3, min_width=320, elem_classes=ANSWER_NEXT):
                        image = gr.Image(
                            label="Photo, scan or screenshot of one digit",
                            elem_id="upload",
                            type="filepath",
                            sources=["upload", "clipboard", "webcam"],
                            height=f"min({CANVAS_SIZE}px, calc(100vw - 60px))",
                        )
                        _examples("digit_*.png", image, "Example digits (click one)", "examples")
                    image_label, image_note, image_preview, image_heat, image_fix, image_fix_button, \
                        image_fix_note = _result_column("upload")

            with gr.Tab("Number", id="number") as number_tab:
                with gr.Row():
                    with gr.Column(scale=3, min_width=320, elem_classes=ANSWER_NEXT):
                        number_sketch = _sketchpad(  # on a phone, as high as its 2:1 surface needs
                            "Write a number (a year, a ZIP code...)", "number-sketch",
                            (int(1.8 * CANVAS_SIZE), int(0.9 * CANVAS_SIZE)), brush_size=8,
                            height=f"min({int(0.9 * CANVAS_SIZE) + 130}px, calc(50vw + 4px))",
                        )
                        number_image = gr.Image(
                            label="...or upload a picture of one",
                            elem_id="number-upload",
                            type="filepath",
                            sources=["upload", "clipboard", "webcam"],
                            height=CANVAS_SIZE // 2,
                        )
                        _examples("number_*.png", number_image, "Example numbers (click one)", "number-examples")
                    with gr.Column(scale=2, min_width=220):
                        # no label badge: it would cover the digits' labels along the image's top
                        number_boxes = gr.Image(label="Digits found", show_label=False, elem_id="number-boxes",
                                                interactive=False, buttons=[])
                        number_json = gr.JSON(label="Reading", elem_id="number-json")
                        # Open from the start: a text box in a closed accordion is created when first
                        # opened, and then re-applies the last value the app sent it (the form
                        # emptied for a new reading) a moment later, wiping what was typed by then.
                        with gr.Accordion("Wrong? Type the right number", open=True, elem_id="number-fix"):
                            number_fix = gr.Textbox(label="The right number", elem_id="number-fix-text", max_lines=1)
                            number_fix_button = gr.Button("Save correction", size="sm", elem_id="number-fix-save")
                            number_fix_note = gr.Markdown(elem_id="number-fix-note")
                number_read = gr.State(None)  # the last number read: its digits (crops) and reading
                number_answered = gr.State(None)  # the number the correction form is for

        with gr.Accordion("About the model", open=False, elem_id="about"):
            gr.Markdown(about_markdown(classifier))
            matrix = confusion_matrix_path(classifier)
            if matrix is not None:
                gr.Image(
                    value=str(matrix), label="Confusion matrix (MNIST test set)",
                    interactive=False, buttons=["fullscreen"], height=420,
                )
            card = model_card_path(classifier)
            if card is not None and model_card_url(classifier) is None:
                gr.DownloadButton("Download the model card", value=str(card), size="sm")

        # Inputs and output of /predict_batch: API only, never shown.
        batch_files = gr.File(file_count="multiple", label="image files, or zip archives of them", visible=False)
        batch_results = gr.JSON(label="predictions", visible=False)

        # Handlers get raw image payloads (preprocess=False) and decode them themselves, so
        # that bad files get digitrec's messages (see digitrec/serving.py).
        predictor = Predictor(classifier, sketchpad=sketch, max_batch=settings.max_batch,
                              max_file_size=settings.max_file_size)
        numbers = NumberReader(classifier, sketchpad=number_sketch)
        corrections = CorrectionDesk(classifier, settings.corrections_dir, sketchpad=sketch,
                                     examples=sorted(EXAMPLES_DIR.glob("*.png")),
                                     max_bytes=settings.corrections_max_size)

        # Every queued event below runs the model: they share one concurrency
        # limit, so at most ``settings.concurrency`` run at once, whichever endpoints they come from.
        model = {"concurrency_id": MODEL_CONCURRENCY_ID, "concurrency_limit": settings.concurrency}

        # The page: predict when a stroke ends or an image arrives; a cleared input clears.
        # The correction forms: a new file empties its tab's form at once, so that "Save
        # correction" never files the last input's answer under this one; on a sketchpad the
        # form follows the model's answer instead (see with_correction_form).
        # An input that fails empties what its tab shows (see empty_on_failure).
        sketch_outputs = [sketch_label, sketch_preview, sketch_note, sketch_heat, sketch_answered, sketch_fix,
                          sketch_fix_note]
        empty_on_failure(sketch.change(
            with_correction_form(predictor.show_sketch, top_label), [sketch, sketch_answered], sketch_outputs,
            preprocess=False, api_visibility="private", show_progress="minimal", trigger_mode="always_last", **model,
        ), sketch_outputs)
        image_outputs = [image_label, image_preview, image_note, image_heat]
        empty_on_failure(image.change(
            predictor.show_upload, image, image_outputs, preprocess=False, api_visibility="private",
            show_progress="minimal", **model,
        ), image_outputs)
        number_outputs = [number_boxes, number_json, number_read, number_answered, number_fix, number_fix_note]
        for source in (number_sketch, number_image):
            empty_on_failure(source.change(
                with_correction_form(numbers.show_number, number_shown), [source, number_answered], number_outputs,
                preprocess=False, api_visibility="private", show_progress="minimal", trigger_mode="always_last",
                **model,
            ), number_outputs)
        for source, choice, saved in ((image, image_fix, image_fix_note), (number_image, number_fix, number_fix_note)):
            source.change(None, None, [choice, saved], js=RESET_CORRECTION_JS, api_visibility="private")
        empty_on_failure(sketch_fix_button.click(corrections.submit_sketch, [sketch, sketch_fix], sketch_fix_note,
                                                 preprocess=False, api_visibility="private", **model), [sketch_fix_note])
        empty_on_failure(image_fix_button.click(corrections.submit_upload, [image, image_fix], image_fix_note,
                                                preprocess=False, api_visibility="private", **model), [image_fix_note])
        empty_on_failure(number_fix_button.click(corrections.submit_number, [number_read, number_fix], number_fix_note,
                                                 api_visibility="private", **model), [number_fix_note])
        demo.load(None, js=select_brush_js("sketch"))
        number_tab.select(None, js=select_brush_js("number-sketch"))
        for pad, elem_id in ((sketch, "sketch"), (number_sketch, "number-sketch")):
            pad.clear(None, js=select_brush_js(elem_id))  # clearing also drops the selected tool

        # The API: endpoints without a trigger on the page, so an empty payload is an error.
        gr.on([], predictor.predict, image, image_label, api_name="predict", preprocess=False, **model)
        gr.on([], predictor.predict_sketch, sketch, sketch_label, api_name="predict_sketch", preprocess=False,
              **model)
        gr.on([], predictor.predict_batch, batch_files, batch_results, api_name="predict_batch", **model)
        gr.on([], numbers.predict_number, number_image, number_json, api_name="predict_number", preprocess=False,
              **model)
        gr.on([], numbers.predict_number_sketch, number_sketch, number_json, api_name="predict_number_sketch",
              preprocess=False, **model)

    demo.queue(max_size=settings.queue_size)
    return demo


def _examples(pattern: str, image: gr.Image, label: str, elem_id: str) -> gr.Examples:
    """The images of ``examples/`` matching ``pattern``, one click each to fill ``image``."""
    return gr.Examples(
        examples=[[str(p)] for p in sorted(EXAMPLES_DIR.glob(pattern))],
        inputs=image,
        label=label,
        elem_id=elem_id,
        api_visibility="private",
    )


def _preview(elem_id: str, label: str = "What the model sees (28×28)") -> gr.Image:
    """A small read-only image beside the prediction: the model input, or its heatmap."""
    return gr.Image(
        label=label,
        elem_id=elem_id,
        interactive=False,
        format="png",
        height=PREVIEW_SIZE + 60,
        width=PREVIEW_SIZE + 90,
        buttons=[],
    )


def _sketchpad(label: str, elem_id: str, canvas_size: tuple[int, int], brush_size: int,
               height: str | None = None) -> gr.Sketchpad:
    """A fixed-size canvas with a black brush and an eraser: no layers, no transforms."""
    return gr.Sketchpad(
        label=label,
        elem_id=elem_id,
        type="pil",
        image_mode="RGBA",
        brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=brush_size),
        eraser=gr.Eraser(default_size=24),
        canvas_size=canvas_size,
        fixed_canvas=True,
        layers=False,
        transforms=(),
        height=height,
        buttons=[],
    )


def _result_column(prefix: str) -> tuple[gr.Label, gr.Markdown, gr.Image, gr.Image, gr.Radio, gr.Button, gr.Markdown]:
    """Label, unsure note, preview and heatmap, and a "wrong? the right digit is ..." form."""
    with gr.Column(scale=2, min_width=220):
        label = gr.Label(num_top_classes=3, label="Prediction", elem_id=f"{prefix}-label")
        note = gr.Markdown(elem_id=f"{prefix}-note")
        with gr.Row():
            preview = _preview(f"{prefix}-preview")
            heat = _preview(f"{prefix}-heat", label="Where it looked")
        with gr.Accordion("Wrong? Tell us the right digit", open=False, elem_id=f"{prefix}-fix"):
            choice = gr.Radio([str(d) for d in range(10)], label="The right digit", elem_id=f"{prefix}-fix-choice")
            button = gr.Button("Save correction", size="sm", elem_id=f"{prefix}-fix-save")
            saved = gr.Markdown(elem_id=f"{prefix}-fix-note")
    return label, note, preview, heat, choice, button, saved


def launch(demo: gr.Blocks, settings: Settings, **kwargs):
    """Launch ``demo`` with the server address, upload and request-body limits of ``settings``.

    ``max_body_size`` (FastAPI's) answers 413 to any request body over
    ``settings.max_request_body`` without reading it into memory.

    ``show_error``: a payload Gradio's own schema refuses before our handlers run (e.g. a
    sketchpad value with ``"layers": null``) gets the validation message naming the field,
    not "the upstream Gradio app has raised an exception". Our handlers' errors are
    ``gr.Error`` with user-facing messages either way (see ``digitrec/serving.py``).

    BLAS runs single-threaded: a request is one image (or a small batch), too little work
    to share, and OpenBLAS's idle threads spin after each call, which cost about 120 ms of
    CPU per request that concurrent requests need (``bench/latency.py``).
    """
    threadpool_limits(limits=1, user_api="blas")
    return demo.launch(
        server_name=settings.server_name,
        server_port=settings.server_port,
        max_file_size=settings.max_file_size,
        app_kwargs={"max_body_size": settings.max_request_body},
        **{"show_error": True, "css": PAGE_CSS, **kwargs},
    )


logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
for client in ("httpx", "httpx2"):  # gradio's own start-up requests, huggingface_hub's fetching the model
    logging.getLogger(client).setLevel(logging.WARNING)
try:
    settings = Settings.from_env()
    demo = build_app(load_model(settings.model_source), settings)
except DigitrecError as exc:  # a wrong setting, a missing or unsafe model: one line saying which
    sys.exit(f"error: {exc}")

if __name__ == "__main__":
    launch(demo, settings)
