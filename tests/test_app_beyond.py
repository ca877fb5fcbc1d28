"""The app beyond one digit: /predict_number, heatmaps next to the preview, corrections."""

from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from digitrec import corrections, synthetic
from digitrec.explain import heatmap_image
from digitrec.beyond_serving import CorrectionDesk, NumberReader, number_shown, top_label, with_correction_form
from digitrec.segment import read_number
from digitrec.serving import NO_IMAGE_MESSAGE, NO_SKETCH_MESSAGE, NOT_A_DIGIT_LABEL, PREVIEW_SIZE, Predictor
from digitrec.styles import scribble
from test_segment import draw_number, stacked, written

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "tests" / "data"


def number_image(tmp_path, digits: str, transparent: bool = False):
    rng = np.random.default_rng(7)
    strokes = [synthetic.stroke_variant(int(d), rng, jitter=0.3) for d in digits]
    image, boxes = draw_number(strokes, gap=25, transparent=transparent)
    path = tmp_path / f"{digits}{'-rgba' if transparent else ''}.png"
    image.save(path)
    return path, boxes


def test_predict_number_from_file(client, tmp_path):
    path, boxes = number_image(tmp_path, "2026")
    result = client.predict(handle_file(str(path)), api_name="/predict_number")
    assert result["number"] == "2026"
    assert [d["label"] for d in result["digits"]] == list("2026")
    for digit, box in zip(result["digits"], boxes):
        left, top, right, bottom = digit["box"]
        assert left <= box[0] + 3 and right >= box[2] - 3  # each box covers its digit's ink
        assert 0 < digit["confidence"] <= 1


def test_predict_number_from_sketchpad_value(client, tmp_path):
    path, _ = number_image(tmp_path, "90210", transparent=True)
    payload = {"background": None, "layers": [], "composite": handle_file(str(path))}
    assert client.predict(payload, api_name="/predict_number_sketch")["number"] == "90210"


def test_number_sketch_endpoint_says_how_to_send_a_drawing(classifier, tmp_path):
    """A bare file, or a canvas id the server does not hold, reaches the handler as an empty
    sketchpad value: the answer explains the sketchpad format (as /predict_sketch's does), not
    "No image received: send a PNG..." when a PNG was sent. Called directly: app.py wires
    ``predict_number_sketch`` to /predict_number_sketch."""
    reader = NumberReader(classifier, sketchpad=gr.Sketchpad(type="pil", image_mode="RGBA", render=False))
    path, _ = number_image(tmp_path, "35", transparent=True)
    bare = {"path": str(path), "meta": {"_type": "gradio.FileData"}}
    empty = {"background": None, "layers": [], "composite": None, "id": None}  # what Gradio makes of `bare`
    for payload in (bare, empty, {**empty, "id": "no-such-canvas"}, None):
        with pytest.raises(gr.Error) as error:
            reader.predict_number_sketch(payload)
        assert error.value.message == NO_SKETCH_MESSAGE
    assert reader.predict_number_sketch({**empty, "composite": bare})["number"] == "35"
    with pytest.raises(gr.Error) as error:
        reader.predict_number(None)
    assert error.value.message == NO_IMAGE_MESSAGE


def test_predict_number_empty_is_a_clear_error(client, tmp_path):
    path = tmp_path / "blank.png"
    Image.new("L", (300, 100), 255).save(path)
    with pytest.raises(Exception, match="No number found"):
        client.predict(handle_file(str(path)), api_name="/predict_number")


def test_two_lines_of_digits_are_refused_with_advice(client, classifier, tmp_path):
    """Two lines one under another: the API and the Number tab say to send one line instead
    of reading a wrong number, and the one-digit tabs do not claim how it would read."""
    path = tmp_path / "two_lines.png"
    stacked([written("12"), written("34")]).save(path)
    with pytest.raises(Exception, match="2 lines of digits.*one line at a time"):
        client.predict(handle_file(str(path)), api_name="/predict_number")
    with pytest.raises(gr.Error, match="2 lines of digits"):
        NumberReader(classifier, sketchpad=None).show_number({"path": str(path)})
    _, _, note, _ = Predictor(classifier, sketchpad=None).show_upload({"path": str(path)})
    assert "reads it as" not in note


def test_upload_shows_a_heatmap_that_highlights_ink(classifier, tmp_path):
    path, _ = number_image(tmp_path, "7")
    label, preview, note, heat = Predictor(classifier, sketchpad=None).show_upload({"path": str(path)})
    assert max(label, key=label.get) == "7"
    normalized = classifier.normalize(Image.open(path))
    digit = normalized > 0.3
    shown = np.asarray(heat.convert("L").resize((28, 28), Image.Resampling.BOX), dtype=float)
    plain = heatmap_image(normalized, np.zeros((28, 28))).convert("L").resize((28, 28), Image.Resampling.BOX)
    plain = np.asarray(plain, dtype=float)
    assert heat.size == (PREVIEW_SIZE, PREVIEW_SIZE)
    # the heat is drawn over the digit (the digit alone would show the same picture)
    tint = np.abs(shown - plain)
    assert tint[digit].mean() > 2.0 * tint[~digit].mean() and tint[digit].mean() > 10


def test_correction_is_stored_with_the_models_view(classifier, tmp_path):
    path, _ = number_image(tmp_path, "4")
    desk = CorrectionDesk(classifier, tmp_path / "store", sketchpad=None)
    message = desk.submit_upload({"path": str(path)}, "9")
    assert "you said 9" in message
    images, labels, records = corrections.load(tmp_path / "store")
    assert labels.tolist() == [9] and images.shape == (1, 28, 28)
    assert records[0]["predicted"] == "4" and records[0]["model_revision"] == classifier.origin
    with pytest.raises(Exception, match="Choose the right digit"):
        desk.submit_upload({"path": str(path)}, None)
    (tmp_path / "notes.png").write_bytes(b"not an image")
    for bad, error in (("notes.png", "not a readable image"), ("gone.png", "could not be read")):
        with pytest.raises(Exception, match=error):
            desk.submit_upload({"path": str(tmp_path / bad)}, "9")
    assert len(corrections.load(tmp_path / "store")[1]) == 1, "nothing else was stored"


def test_a_correction_that_agrees_with_the_model_is_not_stored(classifier, tmp_path):
    """The audit's finding: a drawn 7, read 7, "corrected" to 7 was stored and thanked. As on the
    Number tab, the page says there is nothing to correct and stores nothing."""
    desk = CorrectionDesk(classifier, tmp_path / "store", sketchpad=gr.Sketchpad(type="pil", image_mode="RGBA"))
    sketch = {"background": None, "layers": [],
              "composite": {"path": str(TEST_DATA / "sketch_7.png"), "meta": {"_type": "gradio.FileData"}}}
    assert desk.submit_sketch(sketch, "7") == "The model already said 7: nothing to correct."
    assert not (tmp_path / "store" / corrections.LOG_FILE).exists() or not corrections.load(tmp_path / "store")[2]
    assert "you said 1" in desk.submit_sketch(sketch, "1")


def test_a_correction_of_what_the_page_called_not_a_digit_says_so(classifier, tmp_path):
    """A drawing the page shows as "not a digit" (a scribble) is stored as predicted "not a
    digit" and the thanks say so, not that the model said its likeliest digit."""
    rng = np.random.default_rng(2)
    path = tmp_path / "scribble.png"
    synthetic.sketch_canvas(scribble(rng), rng, jitter=0.0).save(path)
    desk = CorrectionDesk(classifier, tmp_path / "store", sketchpad=gr.Sketchpad(type="pil", image_mode="RGBA"))
    sketch = {"background": None, "layers": [], "composite": {"path": str(path), "meta": {"_type": "gradio.FileData"}}}
    label, *_ = Predictor(classifier, sketchpad=desk.sketchpad).show_sketch(sketch)
    assert max(label, key=label.get) == NOT_A_DIGIT_LABEL
    assert "the model said not a digit, you said 3" in desk.submit_sketch(sketch, "3")
    assert corrections.load(tmp_path / "store")[2][0]["predicted"] == NOT_A_DIGIT_LABEL


def test_a_misread_number_is_corrected_digit_by_digit(classifier, tmp_path):
    path, boxes = number_image(tmp_path, "274")
    _, shown, kept = NumberReader(classifier, sketchpad=None).show_number({"path": str(path)})
    assert shown["number"] == "274"
    desk = CorrectionDesk(classifier, tmp_path / "store", sketchpad=None)

    message = desk.submit_number(kept, "279")  # as if the model had misread the last digit
    assert "Saved 1 corrected digit" in message and "read 274, you said 279" in message
    images, labels, records = corrections.load(tmp_path / "store")
    assert labels.tolist() == [9] and records[0]["predicted"] == "4"
    assert np.allclose(images[0], read_number(classifier, path).normalized[2]), "the 28x28 the model saw"
    stored = Image.open(tmp_path / "store" / records[0]["image"])
    assert abs(stored.width - (boxes[2][2] - boxes[2][0])) <= 4, "the misread digit's part of the input"

    assert "nothing to correct" in desk.submit_number(kept, "274")
    for typed, error in (("2791", "read 3 digits"), ("27x", "digits 0-9"), ("", "digits 0-9")):
        with pytest.raises(Exception, match=error):
            desk.submit_number(kept, typed)
    with pytest.raises(Exception, match="write or upload a number first"):
        desk.submit_number(None, "279")
    assert len(corrections.load(tmp_path / "store")[1]) == 1, "nothing else was stored"


def test_a_sketchpad_correction_form_follows_the_answer(classifier, tmp_path):
    """The same answer again keeps what the user chose or typed; another answer, or a cleared
    input, empties the form."""
    show = with_correction_form(NumberReader(classifier, sketchpad=None).show_number, number_shown)
    path, _ = number_image(tmp_path, "274")
    other, _ = number_image(tmp_path, "35")
    assert show({"path": str(path)}, None)[3:] == ("274", None, ""), "a first reading: an empty form"
    assert show({"path": str(path)}, "274")[3:] == ("274", gr.skip(), gr.skip()), "the same number: kept"
    assert show({"path": str(other)}, "274")[3:] == ("35", None, ""), "another number: an empty form"
    assert show(None, "274")[3:] == (None, None, ""), "a cleared input: an empty form"

    show = with_correction_form(Predictor(classifier, sketchpad=None).show_upload, top_label)
    seven, _ = number_image(tmp_path, "7")
    assert show({"path": str(seven)}, "7")[4:] == ("7", gr.skip(), gr.skip())
    assert show({"path": str(seven)}, "1")[4:] == ("7", None, "")
    assert show.__name__ == "show_upload"


def test_an_erased_number_canvas_empties_the_tab(classifier, tmp_path):
    """Erasing every stroke leaves a transparent canvas: the tab empties (and forgets the
    last reading, so no correction goes to a drawing that is gone) instead of an error."""
    path = tmp_path / "erased.png"
    Image.new("RGBA", (600, 200), (0, 0, 0, 0)).save(path)
    reader = NumberReader(classifier, sketchpad=gr.Sketchpad())
    erased = {"background": None, "layers": [], "composite": {"path": str(path), "meta": {"_type": "gradio.FileData"}}}
    show = with_correction_form(reader.show_number, number_shown)
    assert show(erased, "274") == (None, None, None, None, None, "")
    written, _ = number_image(tmp_path, "35", transparent=True)
    drawn = {**erased, "composite": {"path": str(written), "meta": {"_type": "gradio.FileData"}}}
    assert show(drawn, None)[3] == "35"


def test_corrections_of_the_example_images_are_refused(classifier, tmp_path):
    """The page's examples are MNIST test digits: a correction of one would put a test digit
    into training (--extra-data), so it is refused, a digit of a number included."""
    examples = sorted((ROOT / "examples").glob("*.png"))
    desk = CorrectionDesk(classifier, tmp_path / "store", sketchpad=None, examples=examples)
    with pytest.raises(gr.Error, match="one of the example images"):
        desk.submit_upload({"path": str(ROOT / "examples" / "digit_7.png")}, "1")
    number = {"path": str(ROOT / "examples" / "number_2026.png")}
    _, shown, kept = NumberReader(classifier, sketchpad=None).show_number(number)
    with pytest.raises(gr.Error, match="one of the example images"):
        desk.submit_number(kept, "2027" if shown["number"] != "2027" else "2026")
    assert not (tmp_path / "store" / corrections.LOG_FILE).exists(), "nothing stored"
    path, _ = number_image(tmp_path, "4")  # any other image is stored as before
    assert "you said 9" in desk.submit_upload({"path": str(path)}, "9")
