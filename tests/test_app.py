"""The app's API, called over HTTP with gradio_client, and the logic behind it."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import gradio as gr
import huggingface_hub
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageDraw

from digitrec import serving, synthetic
from digitrec.serving import (KEEP_DRAWING_MESSAGE, LOW_CONFIDENCE, NOT_A_DIGIT_LABEL, NOT_A_DIGIT_MESSAGE,
                              PREVIEW_SIZE, UNSURE_MESSAGE, Prediction, Predictor)
from digitrec.settings import Settings, SettingsError
from digitrec.styles import scribble

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "tests" / "data"
EXAMPLES = ROOT / "examples"
PUBLIC_ENDPOINTS = {"/predict", "/predict_sketch", "/predict_batch", "/predict_number", "/predict_number_sketch"}


def sketch(path=None, background=None, layers=()):
    """A sketchpad value as an API client sends it."""
    return {
        "background": handle_file(str(background)) if background else None,
        "layers": [handle_file(str(p)) for p in layers],
        "composite": handle_file(str(path)) if path else None,
    }


def assert_label(result, digit):
    assert result["label"] == digit, result
    confidences = result["confidences"]
    assert len(confidences) == 3
    assert confidences[0]["label"] == digit
    values = [c["confidence"] for c in confidences]
    assert values == sorted(values, reverse=True)
    assert 0.5 < values[0] <= 1.0 and sum(values) <= 1.0 + 1e-6


# -- the API over HTTP --------------------------------------------------------------------------


def test_only_the_intended_endpoints_are_public(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == PUBLIC_ENDPOINTS
    assert not api["unnamed_endpoints"]
    with pytest.raises(ValueError, match="Cannot find a function"):
        client.predict(handle_file(str(EXAMPLES / "digit_0.png")), api_name="/load_example")


def test_predict_sketch_with_only_a_transparent_composite(client):
    # What the browser's sketchpad exports: black strokes, transparent (black) background.
    result = client.predict(sketch(TEST_DATA / "sketch_7.png"), api_name="/predict_sketch")
    assert_label(result, "7")


def test_predict_sketch_without_composite_stacks_background_and_layers(client, tmp_path):
    white = tmp_path / "white.png"
    Image.new("RGBA", (400, 400), "white").save(white)
    result = client.predict(
        sketch(background=white, layers=[TEST_DATA / "sketch_7.png"]), api_name="/predict_sketch"
    )
    assert_label(result, "7")


def test_predict_sketch_turns_a_photo_upright_per_its_exif(client, tmp_path):
    """A phone photo sent as a sketchpad composite is stored sideways with an EXIF
    orientation, as phones do; it is read upright, like the same file sent to /predict."""
    with Image.open(TEST_DATA / "ink_3.png") as upright:
        sideways = upright.convert("RGB").transpose(Image.Transpose.ROTATE_90)  # stored turned left
    exif = Image.Exif()
    exif[0x0112] = 6  # display it turned 90 degrees clockwise
    path = tmp_path / "photo.jpg"
    sideways.save(path, quality=95, exif=exif.tobytes())
    assert_label(client.predict(sketch(path), api_name="/predict_sketch"), "3")
    assert_label(client.predict(handle_file(str(path)), api_name="/predict"), "3")


@pytest.mark.parametrize(
    "name, digit",
    [("ink_3.png", "3"), ("ink_4.jpg", "4"), ("sketch_7.png", "7"), ("../../examples/digit_5.png", "5")],
    ids=["black-on-white-png", "white-on-black-jpeg", "transparent-rgba-png", "example"],
)
def test_predict_image_file(client, name, digit):
    assert_label(client.predict(handle_file(str(TEST_DATA / name)), api_name="/predict"), digit)


def test_predict_batch_keeps_order(client):
    files = [TEST_DATA / "ink_4.jpg", EXAMPLES / "digit_0.png", TEST_DATA / "sketch_7.png", TEST_DATA / "ink_3.png"]
    results = client.predict([handle_file(str(p)) for p in files], api_name="/predict_batch")
    assert [r["label"] for r in results] == ["4", "0", "7", "3"]
    for result in results:
        assert_label(result, result["label"])


def test_predict_batch_reads_a_zip_archive_in_order(client, tmp_path):
    """One upload for many images: the archive's images, in archive order, then the next file."""
    files = [TEST_DATA / "ink_4.jpg", EXAMPLES / "digit_0.png", TEST_DATA / "sketch_7.png"]
    archive = tmp_path / "digits.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in files:
            zipped.write(path, f"digits/{path.name}")
    results = client.predict([handle_file(str(archive)), handle_file(str(TEST_DATA / "ink_3.png"))],
                             api_name="/predict_batch")
    assert [r["label"] for r in results] == ["4", "0", "7", "3"]

    with zipfile.ZipFile(archive, "a") as zipped:
        zipped.write(TEST_DATA / "not_an_image.png", "digits/notes.png")
    with pytest.raises(AppError, match=r"Image 4 of 4 \(digits/notes.png in digits.zip\): The upload: not a readable"):
        client.predict([handle_file(str(archive))], api_name="/predict_batch")


@pytest.mark.parametrize(
    "api_name, payload, message",
    [
        ("/predict", handle_file(str(TEST_DATA / "not_an_image.png")), "not_an_image.png: not a readable image"),
        ("/predict", handle_file(str(TEST_DATA / "truncated.png")), "truncated.png: not a readable image"),
        ("/predict", handle_file(str(TEST_DATA / "huge.png")), "The image is too large (8000x8000 pixels)"),
        ("/predict", handle_file(str(TEST_DATA / "empty_canvas.png")), "No digit found"),
        ("/predict", None, "No image received"),
        ("/predict_sketch", sketch(TEST_DATA / "empty_canvas.png"), "No digit found"),
        ("/predict_sketch", sketch(TEST_DATA / "not_an_image.png"), "not_an_image.png: not a readable image"),
        ("/predict_sketch", sketch(TEST_DATA / "truncated.png"), "truncated.png: not a readable image"),
        ("/predict_sketch", sketch(TEST_DATA / "huge.png"), "The image is too large (8000x8000 pixels)"),
        # A bare file is received as an empty sketchpad value: say how to send a drawing.
        ("/predict_sketch", handle_file(str(TEST_DATA / "sketch_7.png")), "No drawing received"),
        ("/predict_batch", [handle_file(str(TEST_DATA / "ink_3.png")), handle_file(str(TEST_DATA / "not_an_image.png"))],
         "Image 2 of 2: not_an_image.png: not a readable image"),
        ("/predict_batch", [], "No images received"),
    ],
    ids=[
        "text-file", "truncated", "huge", "empty", "none",
        "sketch-empty-canvas", "sketch-text-file", "sketch-truncated", "sketch-huge", "sketch-bare-file",
        "batch-text-file", "batch-empty",
    ],
)
def test_bad_input_gets_a_clear_error_and_the_server_keeps_serving(client, api_name, payload, message):
    with pytest.raises(AppError) as error:
        client.predict(payload, api_name=api_name)
    assert message in str(error.value)
    assert "Traceback" not in str(error.value)
    assert_label(client.predict(handle_file(str(TEST_DATA / "ink_3.png")), api_name="/predict"), "3")


def test_python_app_py_serves_with_settings_from_the_environment(tmp_path, free_port):
    """``python app.py`` launches with GRADIO_SERVER_* and enforces DIGITREC_MAX_FILE_SIZE."""
    port = free_port
    env = {
        **os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port), "DIGITREC_MAX_FILE_SIZE": "50kb",
    }
    for name in ("DIGITREC_MODEL_REPO", "DIGITREC_MODEL_REVISION", "DIGITREC_MODEL_DIR"):
        env.pop(name, None)
    log = open(tmp_path / "app.log", "w")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        client = _connect(f"http://127.0.0.1:{port}/", process, tmp_path / "app.log")
        assert_label(client.predict(handle_file(str(TEST_DATA / "ink_4.jpg")), api_name="/predict"), "4")
        noise = tmp_path / "noise.png"  # ~190 kB of incompressible pixels, over the 50 kB limit
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (250, 250, 3), dtype=np.uint8)).save(noise)
        with pytest.raises(ValueError, match="exceeds the maximum file size of 51200 bytes"):
            client.predict(handle_file(str(noise)), api_name="/predict")
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.mark.parametrize("setting, value, message", [
    ("DIGITREC_MAX_FILE_SIZE", "10MiB", "DIGITREC_MAX_FILE_SIZE='10MiB'"),
    ("DIGITREC_MODEL_DIR", "/nonexistent", "is not a directory"),
    ("DIGITREC_MODEL_DIR", "tests", "missing model.skops"),
])
def test_python_app_py_says_what_is_wrong_with_its_settings_in_one_line(setting, value, message):
    """A wrong setting or model stops ``python app.py`` with one line naming it, not a traceback."""
    env = {key: val for key, val in os.environ.items() if not key.startswith("DIGITREC_")}
    started = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env={**env, setting: value},
                             capture_output=True, text=True, timeout=120)
    assert started.returncode == 1 and "Traceback" not in started.stderr, started.stderr
    assert started.stderr.strip().splitlines()[-1].startswith("error: ") and message in started.stderr


def _connect(url: str, process: subprocess.Popen, log_path) -> Client:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"python app.py exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            return Client(url, verbose=False)
        except Exception:
            if time.monotonic() > deadline:
                pytest.fail(f"python app.py did not answer within 60 s:\n{log_path.read_text()}")
            time.sleep(0.5)


# -- the logic behind the handlers --------------------------------------------------------------


@pytest.fixture
def predictor(classifier):
    return Predictor(classifier, sketchpad=gr.Sketchpad(type="pil", image_mode="RGBA", render=False))


def raw_file(path):
    """A file as event handlers with preprocess=False receive it."""
    return {"path": str(path), "orig_name": os.path.basename(path), "meta": {"_type": "gradio.FileData"}}


def raw_sketch(path):
    return {"background": None, "layers": [], "composite": raw_file(path), "id": None}


def test_ui_handlers_show_label_preview_note_and_heatmap(predictor):
    label, preview, note, heat = predictor.show_upload(raw_file(TEST_DATA / "ink_3.png"))
    assert max(label, key=label.get) == "3" and len(label) == 3
    assert preview.shape == (PREVIEW_SIZE, PREVIEW_SIZE) and preview.dtype == np.uint8
    assert preview[0, 0] == 255 and preview.min() < 64  # dark ink on white paper
    assert note == ""
    assert heat.size == (PREVIEW_SIZE, PREVIEW_SIZE)
    label, _, _, _ = predictor.show_sketch(raw_sketch(TEST_DATA / "sketch_7.png"))
    assert max(label, key=label.get) == "7"


def test_ui_handlers_say_when_the_input_is_a_whole_number(predictor, tmp_path):
    _, _, note, _ = predictor.show_upload(raw_file(ROOT / "examples" / "number_90210.png"))
    assert "several digits" in note and "reads it as 90210" in note

    seven = Image.open(TEST_DATA / "sketch_7.png")  # RGBA, transparent background, like the sketchpad's
    two = Image.new("RGBA", (2 * seven.width, seven.height), (0, 0, 0, 0))
    two.paste(seven, (0, 0))
    two.paste(seven, (seven.width, 0))
    two.save(tmp_path / "77.png")
    _, _, note, _ = predictor.show_sketch(raw_sketch(tmp_path / "77.png"))
    assert "reads it as 77" in note
    for digit in ("digit_4.png", "digit_7.png"):  # one digit: no such note
        assert "several digits" not in predictor.show_upload(raw_file(ROOT / "examples" / digit))[2]

    strokes = Image.new("L", (1200, 100), 255)  # more marks than a number has: still a prediction, no note
    for k in range(60):
        ImageDraw.Draw(strokes).line([(10 + 19 * k, 20), (15 + 19 * k, 70)], fill=0, width=3)
    strokes.save(tmp_path / "strokes.png")
    label, _, note, _ = predictor.show_upload(raw_file(tmp_path / "strokes.png"))
    assert label and "several digits" not in note


def test_ui_handlers_clear_on_an_empty_input(predictor):
    assert predictor.show_upload(None) == (None, None, "", None)
    assert predictor.show_sketch(None) == (None, None, "", None)
    assert predictor.show_sketch({"background": None, "layers": [], "composite": None, "id": None}) == (None, None, "", None)


def test_ui_sketch_handler_clears_on_a_fully_erased_canvas(predictor, tmp_path):
    white = tmp_path / "white.png"
    Image.new("RGB", (400, 400), "white").save(white)
    for blank in (TEST_DATA / "empty_canvas.png", white):
        assert predictor.show_sketch(raw_sketch(blank)) == (None, None, "", None)


def test_ui_handlers_report_bad_input_as_gradio_errors(predictor, tmp_path):
    with pytest.raises(gr.Error, match="not_an_image.png: not a readable image"):
        predictor.show_upload(raw_file(TEST_DATA / "not_an_image.png"))
    with pytest.raises(gr.Error, match="truncated.png: not a readable image"):
        predictor.show_sketch(raw_sketch(TEST_DATA / "truncated.png"))
    speck = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    speck.putpixel((200, 200), (0, 0, 0, 10))  # faint ink far below the contrast threshold
    speck.save(tmp_path / "speck.png")
    with pytest.raises(gr.Error, match="No digit found"):
        predictor.show_sketch(raw_sketch(tmp_path / "speck.png"))


def test_data_url_uploads_are_decoded(predictor):
    import base64

    data = base64.b64encode((TEST_DATA / "ink_4.jpg").read_bytes()).decode()
    assert predictor.predict({"url": f"data:image/jpeg;base64,{data}", "path": None})["4"] > 0.5
    assert predictor.predict({"path": f"data:image/jpeg;base64,{data}"})["4"] > 0.5


def test_the_page_shows_what_the_digits_leave_as_not_a_digit():
    """API clients get the top digits; the page also shows "not a digit" when the digits leave
    1% or more, so a non-digit is not three near-empty digit bars."""
    scribble_like = Prediction({str(d): 0.002 for d in range(10)} | {"4": 0.02}, np.zeros((28, 28), np.float32))
    assert list(scribble_like.page_label_value()) == [NOT_A_DIGIT_LABEL, "4", "0"]
    assert scribble_like.page_label_value()[NOT_A_DIGIT_LABEL] == pytest.approx(0.962)
    assert NOT_A_DIGIT_LABEL not in str(scribble_like.label_data())
    digit = Prediction({"7": 0.995, "9": 0.004, "1": 0.0005}, np.zeros((28, 28), np.float32))
    assert digit.page_label_value() == digit.label_value() == {"7": 0.995, "9": 0.004, "1": 0.0005}


def test_low_confidence_says_unsure():
    probabilities = {str(d): 0.05 for d in range(10)} | {"4": 0.3, "9": 0.25}
    prediction = Prediction(probabilities, np.zeros((28, 28), np.float32))
    assert prediction.confidence < LOW_CONFIDENCE
    assert UNSURE_MESSAGE in prediction.note()
    assert Prediction({"1": 0.9, "7": 0.1}, np.zeros((28, 28))).note() == ""


def test_what_the_page_calls_not_a_digit_gets_no_digit_as_a_best_guess():
    """The audit's contradiction: "not a digit 97%" above "Not sure — is this a digit? Best
    guess: 0 (3%)"."""
    scribble_like = Prediction({str(d): 0.002 for d in range(10)} | {"0": 0.03}, np.zeros((28, 28), np.float32))
    assert scribble_like.page_label == NOT_A_DIGIT_LABEL
    assert scribble_like.note() == NOT_A_DIGIT_MESSAGE and "guess" not in scribble_like.note()


def test_draw_tab_says_unsure_of_scribbles(predictor, tmp_path):
    """Random pen scribbles drawn on the sketchpad (new ones, not the model's training
    scribbles) are not digits: the bundled model gives them a low top confidence and the
    Draw tab says it is unsure (it does for 29 of these 30)."""
    rng = np.random.default_rng(2)
    unsure = 0
    for i in range(30):
        path = tmp_path / f"scribble_{i}.png"
        synthetic.sketch_canvas(scribble(rng), rng, jitter=0.0).save(path)
        label, _, note, _ = predictor.show_sketch(raw_sketch(path))
        digits = {name: p for name, p in (label or {}).items() if name != NOT_A_DIGIT_LABEL}
        unsure += ((note == NOT_A_DIGIT_MESSAGE and max(digits.values()) < LOW_CONFIDENCE
                    and max(label, key=label.get) == NOT_A_DIGIT_LABEL)  # shown as what it is
                   or note == KEEP_DRAWING_MESSAGE)
    assert unsure >= 26


def test_a_dot_or_a_dash_is_not_read_as_a_digit(client, predictor, tmp_path):
    """A tap of the pen, a single dark pixel or a horizontal dash used to come back as a 0 or
    a 7 at 97% (stretched to fill the 20x20 box). The API says there is no digit; the Draw
    tab says to keep drawing (a 7 begun with its bar), without an error; a 1 and a slanted
    stroke are still read."""
    def canvas(name: str, start: tuple[int, int], end: tuple[int, int], brush: int = 14) -> Path:
        image = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        draw.line([start, end], fill=(0, 0, 0, 255), width=brush)
        for x, y in (start, end):
            draw.ellipse([x - brush // 2, y - brush // 2, x + brush // 2, y + brush // 2], fill=(0, 0, 0, 255))
        image.save(tmp_path / name)
        return tmp_path / name

    pixel = tmp_path / "pixel.png"
    one_pixel = Image.new("L", (100, 100), 255)
    one_pixel.putpixel((50, 50), 0)
    one_pixel.save(pixel)
    tap, dash = canvas("tap.png", (200, 200), (200, 200)), canvas("dash.png", (110, 200), (290, 204))
    for path in (tap, dash):
        with pytest.raises(AppError, match="only a dot or a dash"):
            client.predict(sketch(path), api_name="/predict_sketch")
        assert predictor.show_sketch(raw_sketch(path)) == (None, None, KEEP_DRAWING_MESSAGE, None)
    with pytest.raises(AppError, match="only a dot or a dash"):
        client.predict(handle_file(str(pixel)), api_name="/predict")
    assert client.predict(sketch(canvas("one.png", (200, 80), (204, 320))), api_name="/predict_sketch")["label"] == "1"
    label, _, note, _ = predictor.show_sketch(raw_sketch(canvas("slanted.png", (150, 320), (250, 80))))
    assert label and note != KEEP_DRAWING_MESSAGE


def test_batch_size_is_limited(predictor):
    predictor.max_batch = 2
    with pytest.raises(gr.Error, match="at most 2"):
        predictor.predict_batch([str(TEST_DATA / "ink_3.png")] * 3)


def test_unexpected_errors_are_logged_and_reported_generically(caplog):
    @serving.user_facing
    def broken(_):
        raise RuntimeError("internal detail")

    with caplog.at_level(logging.ERROR, logger="digitrec.serving"), pytest.raises(gr.Error) as error:
        broken(None)
    assert error.value.message == serving.GENERIC_ERROR
    assert "internal detail" not in error.value.message
    assert "RuntimeError: internal detail" in caplog.text


def test_about_copes_with_a_missing_confusion_matrix(classifier, tmp_path):
    from app import build_app

    bare = tmp_path / "bare"
    shutil.copytree(classifier.directory, bare, ignore=shutil.ignore_patterns("*.png", "README.md"))
    local = dataclasses.replace(classifier, directory=bare, origin=f"local:{bare}")
    about = serving.about_markdown(local)
    assert "No confusion matrix" in about and "No model card" in about
    assert str(bare) in serving.model_summary(local)
    build_app(local)  # builds without the optional files


def test_about_shows_confusion_matrix_and_card_when_present(classifier, tmp_path):
    from app import build_app

    full = tmp_path / "full"
    shutil.copytree(classifier.directory, full)
    Image.new("RGB", (60, 60), "white").save(full / "confusion_matrix.png")
    (full / "README.md").write_text("# model card\n")
    local = dataclasses.replace(classifier, directory=full, origin=f"local:{full}")
    assert serving.confusion_matrix_path(local) == full / "confusion_matrix.png"
    assert f"`{full / 'README.md'}`" in serving.about_markdown(local)
    demo = build_app(local)
    values = [c.get("props", {}).get("value") for c in demo.config["components"]]
    assert any(isinstance(v, dict) and str(v.get("path", "")).endswith("confusion_matrix.png") for v in values)


def test_hub_model_links_to_its_card_at_the_served_revision(classifier, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "https://huggingface.co")  # whatever HF_ENDPOINT says
    hub = dataclasses.replace(classifier, origin="alice/digitrec-mnist@0123456789abcdef")
    assert serving.model_card_url(hub) == "https://huggingface.co/alice/digitrec-mnist/blob/0123456789abcdef/README.md"
    assert "alice/digitrec-mnist" in serving.model_summary(hub) and "0123456789ab" in serving.model_summary(hub)
    assert serving.model_card_url(classifier) is None


def test_model_summary_names_the_data_its_accuracy_was_measured_on(classifier):
    assert "MNIST test accuracy **99.36%**" in serving.model_summary(classifier)
    quick = dataclasses.replace(classifier, metrics={**classifier.metrics, "data": {"source": "sklearn-digits"}})
    assert "scikit-learn digits test accuracy" in serving.model_summary(quick)
    assert "MNIST" not in serving.model_summary(quick)


def test_every_model_event_shares_one_concurrency_limit(classifier):
    """Every queued event (the API endpoints and the page's) is in one group limited by the setting."""
    from app import MODEL_CONCURRENCY_ID, build_app

    demo = build_app(classifier, Settings(concurrency=3))
    queued = [fn for fn in demo.fns.values() if fn.fn is not None and fn.queue]
    assert {f"/{fn.api_name}" for fn in queued} >= PUBLIC_ENDPOINTS
    assert {"show_sketch", "show_upload", "show_number", "submit_sketch", "submit_upload", "submit_number"} <= {
        fn.api_name for fn in queued}
    assert {(fn.concurrency_id, fn.concurrency_limit) for fn in queued} == {(MODEL_CONCURRENCY_ID, 3)}


def test_importing_app_builds_demo_without_launching():
    import app

    assert isinstance(app.demo, gr.Blocks) and callable(app.build_app)
    assert not getattr(app.demo, "is_running", False)


# -- settings ---------------------------------------------------------------------------------


def test_settings_defaults():
    settings = Settings.from_env({})
    assert settings.model_source is None
    assert (settings.server_name, settings.server_port) == ("127.0.0.1", 7860)
    assert settings.max_file_size == 10 * 1024**2
    assert settings.corrections_max_size == 1024**3


def test_settings_from_env(tmp_path):
    settings = Settings.from_env({
        "DIGITREC_MODEL_REPO": "alice/digitrec-mnist", "DIGITREC_MODEL_REVISION": "v1.0",
        "GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7861", "DIGITREC_MAX_FILE_SIZE": "500kb",
        "DIGITREC_QUEUE_SIZE": "8", "DIGITREC_CONCURRENCY": "4", "DIGITREC_MAX_BATCH": "16",
        "DIGITREC_MAX_IMAGE_PIXELS": "1000000", "DIGITREC_CORRECTIONS_MAX_SIZE": "2gb",
    })
    assert settings.model_source == "alice/digitrec-mnist@v1.0"
    assert (settings.server_name, settings.server_port) == ("0.0.0.0", 7861)
    assert (settings.max_file_size, settings.queue_size, settings.concurrency) == (500 * 1024, 8, 4)
    assert settings.max_batch == 16 and settings.corrections_max_size == 2 * 1024**3
    assert Settings.from_env({"DIGITREC_MODEL_DIR": str(tmp_path)}).model_source == str(tmp_path)
    assert Settings.from_env({"DIGITREC_MODEL_REPO": "a/b", "GRADIO_SERVER_PORT": ""}).server_port == 7860


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DIGITREC_MODEL_REPO": "not a repo"}, "DIGITREC_MODEL_REPO"),
        ({"DIGITREC_MODEL_REVISION": "main"}, "DIGITREC_MODEL_REPO is not"),
        ({"DIGITREC_MODEL_DIR": "/nonexistent/dir"}, "not a directory"),
        ({"DIGITREC_MODEL_DIR": "/", "DIGITREC_MODEL_REPO": "a/b"}, "not both"),
        ({"GRADIO_SERVER_PORT": "http"}, "GRADIO_SERVER_PORT"),
        ({"GRADIO_SERVER_PORT": "70000"}, "between 1 and 65535"),
        ({"DIGITREC_MAX_FILE_SIZE": "ten megabytes"}, "DIGITREC_MAX_FILE_SIZE"),
        ({"DIGITREC_QUEUE_SIZE": "0"}, "at least 1"),
        ({"DIGITREC_MAX_IMAGE_PIXELS": "many"}, "DIGITREC_MAX_IMAGE_PIXELS"),
        ({"DIGITREC_CORRECTIONS_MAX_SIZE": "-1"}, "DIGITREC_CORRECTIONS_MAX_SIZE"),
    ],
)
def test_settings_reject_invalid_values(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_readme_is_a_valid_space_config():
    """The README's front matter is what the Space runs: gradio at the pinned version, this app."""
    from huggingface_hub import SpaceCard

    card = SpaceCard.load(ROOT / "README.md").data
    pinned = dict(line.strip().split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                  if "==" in line and not line.lstrip().startswith("#"))
    assert card.sdk == "gradio" and card.sdk_version == pinned["gradio"] == gr.__version__
    assert (ROOT / card.app_file).is_file() and card.python_version == "3.11"
    assert card.title and 0 < len(card.short_description) <= 60  # the Hub refuses longer descriptions
    assert card.colorFrom and card.colorTo and card.emoji
