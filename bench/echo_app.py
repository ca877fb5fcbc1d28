"""A trivial Gradio app with the single-digit API of ``app.py``, for the latency baseline.

Same single-digit endpoints (``/predict``, ``/predict_sketch``, ``/predict_batch``), same input and
output component types, ``preprocess=False`` where the real app has it, the same queue
settings and launch parameters (from the same environment variables), but handlers that
answer at once without reading the image. ``bench/latency.py`` runs it next to the real
app, so that what Gradio, HTTP and the client cost is measured and can be subtracted.

    GRADIO_SERVER_PORT=7861 python bench/echo_app.py
"""

from __future__ import annotations

import os.path
import sys

# The project root first, not bench/ (see bench/latency.py).
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_BENCH)] + [p for p in sys.path if os.path.abspath(p or ".") != _BENCH]

import gradio as gr  # noqa: E402

from digitrec.settings import Settings  # noqa: E402

ANSWER = {"0": 1.0, "1": 0.0, "2": 0.0}


def echo(_payload):
    return ANSWER


def echo_batch(files):
    return [{"label": "0", "confidences": [{"label": k, "confidence": v} for k, v in ANSWER.items()]}
            for _ in files or []]


def build_echo_app(settings: Settings) -> gr.Blocks:
    with gr.Blocks(title="echo") as demo:
        sketch = gr.Sketchpad(type="pil", image_mode="RGBA", canvas_size=(400, 400), layers=False)
        image = gr.Image(type="filepath")
        label = gr.Label(num_top_classes=3)
        batch_files = gr.File(file_count="multiple", visible=False)
        batch_results = gr.JSON(visible=False)
        gr.on([], echo, image, label, api_name="predict", preprocess=False)
        gr.on([], echo, sketch, label, api_name="predict_sketch", preprocess=False)
        gr.on([], echo_batch, batch_files, batch_results, api_name="predict_batch")
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency)
    return demo


if __name__ == "__main__":
    settings = Settings.from_env()
    build_echo_app(settings).launch(
        server_name=settings.server_name, server_port=settings.server_port,
        max_file_size=settings.max_file_size, show_error=True,
    )
