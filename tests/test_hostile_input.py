"""Hostile and odd input through the running app (gradio_client over loopback), and the limits.

Every input gets a clear error or a sensible answer within a timeout, never Gradio's
generic error, and the server answers a good request afterwards. The decompression bomb
is refused from its header: the server's peak memory barely moves.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import json
import struct
import threading
import time
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Iterator

import httpx
import numpy as np
import pytest
from conftest import _free_port
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from digitrec.serving import GENERIC_ERROR
from digitrec.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "tests" / "data"
TIMEOUT = 60  # seconds for any one request: a hang fails the test instead of blocking it
GRADIO_GENERIC = "upstream Gradio app has raised an exception"


# -- hostile files -------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid blank 1-bit PNG of ``width`` x ``height``, compressed as it is written.

    30000x30000 is 900 megapixels (900 MB once PIL decodes it, one byte a pixel) in ~110 kB;
    no more than 1000 rows are ever in memory while writing it.
    """
    row = bytes(1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row * 1000) for _ in range(height // 1000)]
    parts += [compressor.compress(row * (height % 1000)), compressor.flush()]
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", b"".join(parts))
            + _png_chunk(b"IEND", b""))


def _encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _ink_3() -> Image.Image:
    return Image.open(TEST_DATA / "ink_3.png").convert("RGB")


def _card() -> bytes:
    """The reported transparency bug: an opaque white card with a dark digit, transparent around it."""
    canvas = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    canvas.paste(_ink_3(), (60, 60))
    return _encoded(canvas, "PNG")


def _animated_gif() -> bytes:
    first = _ink_3().convert("P")
    return _encoded(first, "GIF", save_all=True, append_images=[Image.new("P", first.size, 0)], duration=100, loop=0)


HOSTILE_FILES = {
    # name: (file contents, expected: an error message fragment, or the digit read)
    "empty.png": (lambda: b"", "the file is empty (0 bytes)"),
    "truncated.png": (lambda: _encoded(_ink_3(), "PNG")[:3000], "not a readable image"),
    "truncated.jpg": (lambda: _encoded(_ink_3(), "JPEG")[:2500], "not a readable image"),
    "text.png": (lambda: b"This is a text file, not a picture of a digit.\n", "not a readable image"),
    "digit.svg": (lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="280" height="280">'
                  b'<text x="100" y="200" font-size="200">3</text></svg>', "not a readable image"),
    "bomb.png": (bomb_png, "too large"),
    "one_pixel.png": (lambda: _encoded(Image.new("L", (1, 1), 0), "PNG"), "No digit found"),
    "animated.gif": (_animated_gif, "3"),
    "sixteen_bit.png": (lambda: _encoded(Image.fromarray(np.asarray(_ink_3().convert("L")).astype(np.uint16) * 257), "PNG"), "3"),
    "cmyk.jpg": (lambda: _encoded(_ink_3().convert("CMYK"), "JPEG", quality=95), "3"),
    "palette_transparent.gif": (lambda: _encoded(Image.open(TEST_DATA / "sketch_7.png"), "GIF"), "7"),
    "card_transparent.png": (_card, "3"),
    "white.png": (lambda: _encoded(Image.new("RGB", (300, 300), "white"), "PNG"), "No digit found"),
    "black.png": (lambda: _encoded(Image.new("RGB", (300, 300), "black"), "PNG"), "No digit found"),
    "noise.png": (lambda: _encoded(Image.fromarray(
        np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)), "PNG"), None),  # any answer
}
ERROR_FILES = [name for name, (_, expected) in HOSTILE_FILES.items() if expected and not expected.isdigit()]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    """The hostile files, written once."""
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name, (make, _) in HOSTILE_FILES.items():
        paths[name] = folder / name
        paths[name].write_bytes(make())
    assert paths["bomb.png"].stat().st_size < 200_000
    return paths


def call(client: Client, payload, api_name: str):
    """The endpoint's result, or the AppError it raised; fails on a hang or an unexpected exception."""
    job = client.submit(payload, api_name=api_name)
    try:
        return job.result(timeout=TIMEOUT)
    except AppError as error:
        return error


def assert_answer(result, expected: str | None) -> None:
    """``expected``: a digit the label must be, an error fragment, or None for any clear answer."""
    if isinstance(result, AppError):
        message = str(result)
        assert GENERIC_ERROR not in message and GRADIO_GENERIC not in message, message
        assert "Traceback" not in message
        assert expected is None or (not expected.isdigit() and expected in message), message
        return
    assert set(result) == {"label", "confidences"}, result
    assert len(result["confidences"]) == 3
    assert all(0.0 <= c["confidence"] <= 1.0 for c in result["confidences"])
    if expected is not None:
        assert expected.isdigit(), f"expected an error with {expected!r}, got {result}"
        assert result["label"] == expected, result


def assert_still_serving(client: Client) -> None:
    result = call(client, handle_file(str(TEST_DATA / "ink_3.png")), "/predict")
    assert not isinstance(result, AppError) and result["label"] == "3", result


def sketch(path=None, **fields):
    return {"background": None, "layers": [], "composite": handle_file(str(path)) if path else None, **fields}


# -- through the app ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_predict(client, hostile, name):
    assert_answer(call(client, handle_file(str(hostile[name])), "/predict"), HOSTILE_FILES[name][1])
    assert_still_serving(client)


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_predict_sketch_composite(client, hostile, name):
    # Gradio decodes sketch files itself (to RGBA): the digits need not survive every mode
    # (a 16-bit PNG is clipped), but errors must still be ours and clear.
    expected = HOSTILE_FILES[name][1]
    expected = expected if expected is None or not expected.isdigit() or name != "sixteen_bit.png" else None
    assert_answer(call(client, sketch(hostile[name]), "/predict_sketch"), expected)
    assert_still_serving(client)


@pytest.mark.parametrize("name", ERROR_FILES)
def test_predict_batch_names_the_bad_image(client, hostile, name):
    payload = [handle_file(str(TEST_DATA / "ink_3.png")), handle_file(str(hostile[name]))]
    result = call(client, payload, "/predict_batch")
    assert_answer(result, "Image 2 of 2: ")
    assert HOSTILE_FILES[name][1] in str(result)
    assert_still_serving(client)


def test_predict_batch_reads_the_odd_but_valid_files(client, hostile):
    names = [n for n, (_, expected) in HOSTILE_FILES.items() if expected and expected.isdigit()]
    results = call(client, [handle_file(str(hostile[n])) for n in names], "/predict_batch")
    assert [r["label"] for r in results] == [HOSTILE_FILES[n][1] for n in names]


@pytest.mark.parametrize(
    "payload, expected",
    [
        ({}, "No drawing received"),
        ({"background": None, "layers": [], "composite": None}, "No drawing received"),
        ({"composite": "sketch_7.png"}, "7"),  # no background, no layers
        ({"layers": ["sketch_7.png"]}, "7"),  # no composite: the layers are stacked
        ({"background": None, "layers": [], "composite": None, "id": "no-such-canvas"}, "No drawing received"),
    ],
    ids=["empty-object", "all-null", "composite-only", "layers-only", "unknown-canvas-id"],
)
def test_predict_sketch_with_missing_or_null_fields(client, payload, expected):
    payload = {key: _files(value) for key, value in payload.items()}
    assert_answer(call(client, payload, "/predict_sketch"), expected)
    assert_still_serving(client)


def _files(value):
    if isinstance(value, str) and value.endswith(".png"):
        return handle_file(str(TEST_DATA / value))
    if isinstance(value, list):
        return [_files(v) for v in value]
    return value


@pytest.mark.parametrize(
    "payload",
    [{"background": None, "layers": None, "composite": None}, {"layers": [None]}, {"composite": "not a file"}, "junk", 5],
    ids=["null-layers", "null-layer", "string-composite", "string", "number"],
)
def test_predict_sketch_with_malformed_payloads(launched, payload):
    """Payloads Gradio's own schema refuses, before any of our code runs: an error naming the field."""
    client = launched["client"]
    result = call(client, payload, "/predict_sketch")
    assert isinstance(result, AppError)
    assert GRADIO_GENERIC not in str(result) and "validation error" in str(result), str(result)
    assert_still_serving(client)


# -- memory --------------------------------------------------------------------------------------


@contextlib.contextmanager
def peak_memory_grows_less_than(megabytes: float) -> Iterator[None]:
    """Fail if the peak resident memory of this process (the in-process server) grows by
    ``megabytes`` or more in the block. Where the peak cannot be reset or read (no
    ``/proc/self/clear_refs``), the block still runs and only this check is left out."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        warnings.warn("cannot reset the peak RSS (/proc/self/clear_refs): memory not checked", stacklevel=3)
        yield
        return
    before = _peak_rss_mb()
    yield
    assert _peak_rss_mb() - before < megabytes


def _peak_rss_mb() -> float:
    """Peak resident memory of this process since the last reset of ``/proc/self/clear_refs``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def test_decompression_bomb_is_refused_before_decoding(client, hostile):
    assert_still_serving(client)
    started = time.monotonic()
    with peak_memory_grows_less_than(150):  # decoding it would take 900 MB
        for payload, api_name in [(handle_file(str(hostile["bomb.png"])), "/predict"),
                                  (sketch(hostile["bomb.png"]), "/predict_sketch"),
                                  ([handle_file(str(hostile["bomb.png"]))], "/predict_batch"),
                                  (sketch(background=handle_file(str(hostile["bomb.png"]))), "/predict_sketch")]:
            assert_answer(call(client, payload, api_name), "too large")
    assert time.monotonic() - started < 20


def test_many_large_layers_are_refused_before_gradio_decodes_them(client, tmp_path):
    """Each layer within the limit, together far over it: Gradio would decode all of them at once."""
    layer = tmp_path / "layer.png"
    layer.write_bytes(_grey_png(4000, 4000))  # 16 megapixels, 64 MB as RGBA
    with peak_memory_grows_less_than(150):
        result = call(client, sketch(layers=[handle_file(str(layer))] * 8), "/predict_sketch")
    assert_answer(result, "The drawing is too large: its 8 images have 128,000,000 pixels together")
    assert_still_serving(client)


def test_canvas_blobs_are_checked_before_gradio_decodes_them(app_url, client):
    """The browser uploads canvas blobs first, then sends their id: a client can post a bomb as a blob.

    12000x12000 (over the limit, under PIL's own 179-megapixel error) used to be decoded by
    Gradio, ~700 MB as RGBA, before the pixel limit was checked.
    """
    from gradio_client import Client as _Client

    config = httpx.get(app_url + "config", timeout=TIMEOUT).json()
    sketch_id = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "sketch")
    blob = _grey_png(12_000, 12_000)
    session = _Client(app_url, verbose=False)
    with peak_memory_grows_less_than(150):
        response = httpx.post(
            app_url + "gradio_api/component_server",
            data={"component_id": str(sketch_id), "session_hash": session.session_hash, "fn_name": "accept_blobs",
                  "type": "composite", "index": "null", "id": "hostile-canvas"},
            files={"file": ("blob", blob, "image/png")},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        result = call(session, sketch(id="hostile-canvas"), "/predict_sketch")
    assert_answer(result, "too large")
    assert_still_serving(client)


def _grey_png(width: int, height: int, stroke: int = 0) -> bytes:
    """An 8-bit grayscale PNG, compressed as it is written (500 rows at a time): blank black, or
    with ``stroke`` > 0 white with a dark bar that wide down its middle half, a "1" to read."""
    paper = b"\0" + (b"\xff" if stroke else b"\0") * width  # filter byte, then the pixels
    left = 1 + (width - stroke) // 2
    ink = paper[:left] + bytes(stroke) + paper[left + stroke:]
    bands = [(paper, height // 4), (ink, height // 2), (paper, height - height // 4 - height // 2)]
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row * min(500, rows - done))
                    for row, rows in bands for done in range(0, rows, 500)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


# -- the limits as configured -------------------------------------------------------------------------

LIMITS = Settings(max_file_size=100 * 1024, max_batch=2, queue_size=2, concurrency=1)


class SlowClassifier:
    """The bundled classifier, slowed down, counting how many model calls run at once.

    A model call is ``normalize`` or ``predict_proba_normalized`` (all ``/predict_number``
    makes): each request makes them one after another, so more than one running means
    requests running together.
    """

    def __init__(self, classifier, delay: float):
        self._classifier, self.delay = classifier, delay
        self._lock = threading.Lock()
        self.running = self.most_running = 0

    def __getattr__(self, name):
        return getattr(self._classifier, name)

    def normalize(self, image):
        return self._slowly(self._classifier.normalize, image)

    def predict_proba_normalized(self, images):
        return self._slowly(self._classifier.predict_proba_normalized, images)

    def _slowly(self, call, argument):
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            time.sleep(self.delay)
            return call(argument)
        finally:
            with self._lock:
                self.running -= 1


@contextlib.contextmanager
def launched_app(classifier, settings: Settings):
    """The app launched the way ``python app.py`` does (``app.launch``), around a :class:`SlowClassifier`."""
    from app import build_app, launch

    slow = SlowClassifier(classifier, delay=0.0)
    settings = dataclasses.replace(settings, server_name="127.0.0.1", server_port=_free_port())
    demo = build_app(slow, settings)
    _, url, _ = launch(demo, settings, prevent_thread_lock=True, quiet=True)
    try:
        yield {"url": url, "client": Client(url, verbose=False), "classifier": slow}
    finally:
        demo.close()


@pytest.fixture(scope="module")
def launched(classifier):
    """The app with small limits."""
    with launched_app(classifier, LIMITS) as app:
        yield app


def test_max_file_size_is_enforced(launched, tmp_path):
    noise = tmp_path / "noise.png"  # ~270 kB of incompressible pixels, over the 100 kB limit
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (300, 300, 3), dtype=np.uint8)).save(noise)
    with pytest.raises(ValueError, match="exceeds the maximum file size of 102400 bytes"):
        launched["client"].predict(handle_file(str(noise)), api_name="/predict")
    with open(noise, "rb") as f:  # and not only by the client: the server refuses the upload
        response = httpx.post(launched["url"] + "gradio_api/upload", files={"files": ("noise.png", f)}, timeout=TIMEOUT)
    assert response.status_code == 413
    assert_still_serving(launched["client"])


def test_launched_app_runs_blas_on_one_thread(launched):
    """Idle OpenBLAS threads spin after each call: one thread keeps a request's CPU cost to its work."""
    from threadpoolctl import threadpool_info

    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)


def test_max_batch_is_enforced(launched):
    files = [handle_file(str(TEST_DATA / "ink_3.png"))] * 3
    assert_answer(call(launched["client"], files, "/predict_batch"), "send at most 2 per call")


def test_zip_archives_are_held_to_the_limits(launched, tmp_path):
    """A zip bomb (40 MB of zeros in a 40 kB archive) and too many members: refused unread."""
    bomb, many = tmp_path / "bomb.zip", tmp_path / "many.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.png", bytes(40 * 1024**2))
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(3):
            archive.write(TEST_DATA / "ink_3.png", f"{i}.png")
    assert_answer(call(launched["client"], [handle_file(str(bomb))], "/predict_batch"),
                  "zeros.png in bomb.zip: too large (41,943,040 bytes); the limit is 102,400 bytes per image")
    assert_answer(call(launched["client"], [handle_file(str(many))], "/predict_batch"), "send at most 2 per call")
    assert_still_serving(launched["client"])


def test_a_batch_has_a_pixel_budget_per_call(client, tmp_path):
    """64 mostly white 8000x5000 pages, each within the per-image limit, in a ~40 kB zip: 2,560
    megapixels to decode while holding a model slot (11 s). Refused from the headers at once."""
    page = _grey_png(8000, 5000, stroke=400)
    archive = tmp_path / "pages.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for i in range(64):
            zipped.writestr(f"page_{i}.png", page)
    assert archive.stat().st_size < 100_000
    with peak_memory_grows_less_than(100):  # decoding one page takes 40 MB, normalizing it several times that
        result = call(client, [handle_file(str(archive))], "/predict_batch")
    assert isinstance(result, AppError), "the 64 pages were decoded and read"
    assert_answer(result, "Too many pixels for one call: the 64 images have 2,560,000,000 pixels together; "
                          "the limit is 160,000,000 pixels per call. Send fewer or smaller images")
    assert_still_serving(client)


def test_a_batch_of_64_sketchpad_drawings_is_within_the_pixel_budget(client, tmp_path):
    """The largest legitimate batch of drawings: 64 canvases of 800x800, 41 megapixels together."""
    drawing = io.BytesIO()
    Image.open(TEST_DATA / "sketch_7.png").resize((800, 800)).save(drawing, format="PNG")
    archive = tmp_path / "drawings.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for i in range(64):
            zipped.writestr(f"drawing_{i}.png", drawing.getvalue())
    results = call(client, [handle_file(str(archive))], "/predict_batch")
    assert not isinstance(results, AppError), results
    assert [r["label"] for r in results] == ["7"] * 64


def test_the_batch_pixel_budget_follows_the_image_pixel_limit(client, monkeypatch):
    """Four times ``DIGITREC_MAX_IMAGE_PIXELS``, read on use: four images at the limit pass, a fifth does not."""
    ink_3 = handle_file(str(TEST_DATA / "ink_3.png"))  # 280x280
    monkeypatch.setenv("DIGITREC_MAX_IMAGE_PIXELS", str(280 * 280))
    assert [r["label"] for r in call(client, [ink_3] * 4, "/predict_batch")] == ["3"] * 4
    result = call(client, [ink_3] * 5, "/predict_batch")
    assert isinstance(result, AppError), result
    assert_answer(result, "the 5 images have 392,000 pixels together; the limit is 313,600 pixels per call")
    monkeypatch.delenv("DIGITREC_MAX_IMAGE_PIXELS")
    assert_still_serving(client)


def test_max_image_pixels_is_enforced_from_the_environment(client, monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITREC_MAX_IMAGE_PIXELS", "50000")  # read on use, by the running server too
    big = tmp_path / "big.png"
    Image.new("L", (300, 300), 255).save(big)
    for payload, api_name in [(handle_file(str(big)), "/predict"), (sketch(big), "/predict_sketch"),
                              ([handle_file(str(big))], "/predict_batch")]:
        assert_answer(call(client, payload, api_name), "too large (300x300 pixels)")
    monkeypatch.delenv("DIGITREC_MAX_IMAGE_PIXELS")
    assert_still_serving(client)


def test_queue_size_and_concurrency_are_enforced(launched):
    """One image at a time; at most ``queue_size`` waiting; the rest turned away at once."""
    slow, client = launched["classifier"], launched["client"]
    slow.delay, slow.most_running = 0.6, 0
    try:
        jobs = [client.submit(handle_file(str(TEST_DATA / "ink_3.png")), api_name="/predict") for _ in range(8)]
        outcomes = []
        for job in jobs:
            try:
                outcomes.append(job.result(timeout=TIMEOUT)["label"])
            except Exception as error:  # the queue's refusal
                outcomes.append(str(error))
    finally:
        slow.delay = 0.0
    assert slow.most_running == 1
    served = [o for o in outcomes if o == "3"]
    refused = [o for o in outcomes if o != "3"]
    assert 1 <= len(served) <= 1 + LIMITS.queue_size + 1, outcomes  # +1: a slot may free while submitting
    assert refused and all("Queue is full" in o for o in refused), outcomes
    assert_still_serving(client)


def test_concurrency_limit_is_shared_by_all_endpoints(classifier):
    """One request to each endpoint at once: at most ``concurrency`` of them run the model together."""
    settings = Settings(queue_size=8, concurrency=2)
    ink_3, sketch_7 = TEST_DATA / "ink_3.png", TEST_DATA / "sketch_7.png"
    requests = [(handle_file(str(ink_3)), "/predict"), (sketch(sketch_7), "/predict_sketch"),
                ([handle_file(str(ink_3))], "/predict_batch"), (handle_file(str(ink_3)), "/predict_number"),
                (sketch(sketch_7), "/predict_number_sketch")]
    with launched_app(classifier, settings) as app:
        slow, client = app["classifier"], app["client"]
        slow.delay = 0.3
        jobs = [client.submit(payload, api_name=api_name) for payload, api_name in requests]
        results = [job.result(timeout=TIMEOUT) for job in jobs]
    assert [results[0]["label"], results[1]["label"], results[2][0]["label"]] == ["3", "7", "3"]
    assert [results[3]["number"], results[4]["number"]] == ["3", "7"]
    assert slow.most_running == settings.concurrency  # not one per endpoint (5)


# -- images inside the JSON body ------------------------------------------------------------------


def call_http(url: str, api_name: str, payload) -> tuple[str, object]:
    """Call ``api_name`` with a raw JSON payload over plain HTTP: the final event's name and data."""
    response = httpx.post(f"{url}gradio_api/call/{api_name}", json={"data": [payload]}, timeout=TIMEOUT)
    response.raise_for_status()
    stream = httpx.get(f"{url}gradio_api/call/{api_name}/{response.json()['event_id']}", timeout=TIMEOUT)
    event, data = [line.partition(": ")[2] for line in stream.text.strip().splitlines()[-2:]]
    return event, json.loads(data)


def _padded_png(padding: int) -> bytes:
    """ink_3.png, a readable 3, with ``padding`` bytes of an ancillary chunk PIL skips."""
    png = (TEST_DATA / "ink_3.png").read_bytes()
    end = png.rindex(b"IEND") - 4
    return png[:end] + _png_chunk(b"prVt", np.random.default_rng(2).bytes(padding)) + png[end:]


@pytest.mark.parametrize("api_name", ["predict", "predict_number"])
@pytest.mark.parametrize("field", ["url", "path"])
def test_data_urls_in_the_body_get_the_upload_limit(launched, monkeypatch, field, api_name):
    """A base64 image inside the JSON body bypasses the upload route: the same limit, from its length."""
    decoded_lengths = []
    b64decode = base64.b64decode

    def spy(text, *args, **kwargs):
        decoded_lengths.append(len(text))
        return b64decode(text, *args, **kwargs)

    monkeypatch.setattr(base64, "b64decode", spy)  # the server runs in this process
    slow = launched["classifier"]
    slow.most_running = 0
    small, big = _padded_png(1_000), _padded_png(300_000)  # a readable 3 either way; the limit is 100 kB
    encoded = base64.b64encode(big).decode()

    event, data = call_http(launched["url"], api_name, {field: f"data:image/png;base64,{encoded}"})
    assert event == "error", data
    assert data["error"] == (f"The upload: the image is too large ({len(big):,} bytes); "
                             f"the limit is {LIMITS.max_file_size:,} bytes.")
    assert max(decoded_lengths, default=0) < len(encoded) and slow.most_running == 0  # never decoded, nor read

    small_url = "data:image/png;base64," + base64.b64encode(small).decode()
    event, data = call_http(launched["url"], api_name, {field: small_url})
    assert event == "complete", data
    assert (data[0].get("label") or data[0].get("number")) == "3"
    assert_still_serving(launched["client"])


@pytest.mark.parametrize("api_name", ["predict", "predict_number"])
def test_data_urls_must_be_valid_base64(app_url, api_name):
    """Characters outside the base64 alphabet are refused, not skipped (which turned "!!!!" into
    "The file is empty (0 bytes)"); line breaks, which some encoders insert, are allowed."""
    png = base64.b64encode((TEST_DATA / "ink_3.png").read_bytes()).decode()
    for encoded in ("!!!!", png[:100] + "*" + png[100:], png.replace("+", "-").replace("/", "_")):
        event, data = call_http(app_url, api_name, {"url": f"data:image/png;base64,{encoded}"})
        assert event == "error", data
        assert data["error"].startswith("The upload: the data URL is not valid base64: expected the characters"), data

    wrapped = base64.encodebytes((TEST_DATA / "ink_3.png").read_bytes()).decode().replace("\n", "\r\n")
    event, data = call_http(app_url, api_name, {"url": f"data:image/png;base64,{wrapped}"})
    assert event == "complete", data
    assert (data[0].get("label") or data[0].get("number")) == "3"


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_request_bodies_over_the_limit_get_413(launched, streamed):
    """Gradio reads a JSON body whole before any handler: the app caps it (``Settings.max_request_body``)."""
    limit = LIMITS.max_request_body
    body = json.dumps({"data": [{"url": "data:image/png;base64," + "A" * (limit + 1000)}]}).encode()
    content = (body[i: i + 65_536] for i in range(0, len(body), 65_536)) if streamed else body
    response = httpx.post(f"{launched['url']}gradio_api/call/predict", content=content,
                          headers={"content-type": "application/json"}, timeout=TIMEOUT)
    assert response.status_code == 413, response.text
    assert "Content Too Large" in response.text
    event, data = call_http(launched["url"], "predict", {
        "url": "data:image/png;base64," + base64.b64encode(_padded_png(1_000)).decode()})
    assert event == "complete" and data[0]["label"] == "3", data  # small inline images still get through
    assert_still_serving(launched["client"])
