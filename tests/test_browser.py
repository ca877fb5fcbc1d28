"""The page in a real browser: draw a digit with the mouse or a finger, upload a file, click an
example, write a number, correct a wrong reading.

Screenshots of the tabs go to ``test-artifacts/`` for a human to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from digitrec.corrections import load

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "tests" / "data"
ARTIFACTS = ROOT / "test-artifacts"


def draw(page, points):
    """One mouse stroke through ``points`` (page coordinates); the brush joins them with lines."""
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point)
    page.mouse.up()


def canvas_box(page, sketchpad_id: str) -> tuple[float, float, float, float]:
    """The (x, y, width, height) of sketchpad ``#sketchpad_id``'s canvas on the page, once it
    is there and ready to draw: the app selects the brush itself, so the editor's "select
    the draw tool" hint goes away."""
    canvas = page.locator(f"#{sketchpad_id} canvas").first
    canvas.wait_for(state="visible")
    page.locator(f"#{sketchpad_id}").get_by_text("select the draw tool").wait_for(state="detached")
    box = canvas.bounding_box()
    return box["x"], box["y"], box["width"], box["height"]


def draw_again(page, points, image_id: str) -> None:
    """Go over stroke ``points`` again, 3 px to the right, and wait for the app's answer to
    it: the image ``#image_id`` (an output the app draws anew for each input) changes; then
    leave the page a second in which a correction form could (wrongly) follow it."""
    shown = page.locator(f"#{image_id} img").get_attribute("src")
    draw(page, [(px + 3, py) for px, py in points])
    page.wait_for_function(
        "([id, src]) => document.querySelector(`#${id} img`)?.getAttribute('src') !== src",
        arg=[image_id, shown], timeout=30_000,
    )
    page.wait_for_timeout(1000)


def predicted(page, label_id: str) -> str:
    """The predicted class shown by the gr.Label ``#label_id``, once there is one."""
    value = page.locator(f"#{label_id} [data-testid='label-output-value']")
    value.wait_for(state="visible")
    page.wait_for_function(
        "el => /^\\d$/.test(el.innerText.trim())", arg=value.element_handle(), timeout=30_000
    )
    return value.inner_text().strip()


def read_as(page, number: str) -> None:
    """Wait until the Number tab shows the reading ``number`` and no reading is pending (a
    pending one shows its timer between the "Reading" label and the JSON)."""
    page.wait_for_function(
        "n => (document.querySelector('#number-json')?.innerText ?? '').replace(/\\s+/g, '')"
        ".startsWith('Reading{\"number\":\"' + n + '\"')",
        arg=number, timeout=30_000,
    )


def test_draw_then_upload(page, app_url):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(app_url)
    x, y, w, h = canvas_box(page, "sketch")
    cx, cy = x + w / 2, y + h / 2
    s = min(w, h) * 0.35
    draw(page, [(cx - 0.6 * s, cy - 0.8 * s), (cx + 0.6 * s, cy - 0.8 * s), (cx - 0.1 * s, cy + 0.9 * s)])
    assert predicted(page, "sketch-label") == "7"
    page.locator("#sketch-preview img").wait_for(state="visible")  # the 28x28 the model saw
    page.screenshot(path=str(ARTIFACTS / "app-draw.png"), full_page=True)

    # Clearing the canvas clears the prediction without an error, and the next stroke draws
    # (the editor drops its tool on clearing; the app picks the brush again).
    page.locator("#sketch button[aria-label='Clear canvas']").click()
    page.locator("#sketch-label [data-testid='label-output-value']").wait_for(state="detached")
    assert page.locator("[data-testid='toast-text']").count() == 0
    x, y, w, h = canvas_box(page, "sketch")
    cx, cy = x + w / 2, y + h / 2
    draw(page, [(cx, cy - 0.9 * s), (cx, cy + 0.9 * s)])
    assert predicted(page, "sketch-label") == "1"

    page.get_by_role("tab", name="Upload").click()
    page.locator("#upload input[type=file]").set_input_files(str(TEST_DATA / "ink_3.png"))
    assert predicted(page, "upload-label") == "3"
    page.locator("#upload-preview img").wait_for(state="visible")
    page.screenshot(path=str(ARTIFACTS / "app-upload.png"), full_page=True)

    # An example digit fills the image and is classified.
    page.locator("#examples img[src$='digit_9.png']").click()
    page.wait_for_function(
        "() => document.querySelector(\"#upload-label [data-testid='label-output-value']\")?.innerText.trim() === '9'",
        timeout=30_000,
    )

    # A file that is not an image, in place of the 9: the page shows the clear message, empties
    # what it showed for the 9 (the label, the 28x28), and keeps working.
    page.locator("#upload input[type=file]").set_input_files(str(TEST_DATA / "not_an_image.png"))
    toast = page.locator("[data-testid='toast-text']", has_text="not_an_image.png: not a readable image").first
    toast.wait_for(state="visible")  # (shown twice: the page sends a file that replaces another twice)
    page.locator("#upload-label [data-testid='label-output-value']").wait_for(state="detached")
    page.locator("#upload-preview img").wait_for(state="detached")
    page.wait_for_timeout(800)  # let the toast finish sliding in
    page.screenshot(path=str(ARTIFACTS / "app-upload-error.png"))  # the toast is fixed: viewport only
    page.locator("#examples img[src$='digit_2.png']").click()
    page.wait_for_function(
        "() => document.querySelector(\"#upload-label [data-testid='label-output-value']\")?.innerText.trim() === '2'",
        timeout=30_000,
    )


def test_write_a_number_and_correct_it(page, app_url, corrections_dir):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(app_url)
    page.get_by_role("tab", name="Number").click()
    x, y, w, h = canvas_box(page, "number-sketch")  # the tab renders on first visit, brush selected too
    one = [(x + 0.3 * w, y + 0.35 * h), (x + 0.3 * w, y + 0.65 * h)]
    draw(page, one)
    draw(page, [(x + 0.42 * w, y + 0.35 * h), (x + 0.55 * w, y + 0.35 * h), (x + 0.46 * w, y + 0.65 * h)])  # 7
    read_as(page, "17")
    page.locator("#number-boxes img").wait_for(state="visible")  # the drawing with a box on each digit
    page.screenshot(path=str(ARTIFACTS / "app-number.png"), full_page=True)

    # "Wrong? Type the right number" (as if it were 71), at once: the form is open from the start
    # (a closed one used to wipe what was typed right after it was first opened). A stroke that
    # leaves the reading at 17 (the 1 gone over again, a little thicker) keeps what is typed:
    # the sketchpad sends such changes by itself too.
    entry = page.locator("#number-fix-text textarea, #number-fix-text input").first
    entry.fill("71")
    draw_again(page, one, "number-boxes")
    read_as(page, "17")
    assert entry.input_value() == "71"

    # Saving stores both digits as corrected.
    before = len(load(corrections_dir)[1])
    page.locator("#number-fix-save").click()
    page.locator("#number-fix-note").get_by_text("Saved 2 corrected digits").wait_for(state="visible")
    _, labels, records = load(corrections_dir)
    assert labels[before:].tolist() == [7, 1] and [r["predicted"] for r in records[before:]] == ["1", "7"]

    # A number with the wrong count of digits is refused: its message, and the last thanks
    # go, since nothing was saved (they used to stay beside the error).
    entry.fill("711")
    page.locator("#number-fix-save").click()
    page.locator("[data-testid='toast-text']", has_text="you typed 3").first.wait_for(state="visible")
    page.locator("#number-fix-note").get_by_text("Saved 2").wait_for(state="detached")
    assert len(load(corrections_dir)[1]) == before + 2

    # A new input, another reading: a new form.
    page.locator("#number-examples img[src$='number_90210.png']").click()
    read_as(page, "90210")
    page.locator("#number-fix-note").get_by_text("Saved 2").wait_for(state="detached")
    assert entry.input_value() == ""

    # An upload with no number in it, in place of 90210: its message, and nothing of 90210 is
    # left to correct (a correction typed now used to be filed under 90210's digits).
    page.locator("#number-upload input[type=file]").set_input_files(str(TEST_DATA / "empty_canvas.png"))
    page.locator("[data-testid='toast-text']", has_text="No number found").first.wait_for(state="visible")
    page.locator("#number-boxes img").wait_for(state="detached")
    entry.fill("90211")
    page.locator("#number-fix-save").click()
    page.locator("[data-testid='toast-text']", has_text="Nothing to correct").wait_for(state="visible")
    assert len(load(corrections_dir)[1]) == before + 2

    # So does clearing the canvas.
    entry.fill("12")
    page.locator("#number-sketch button[aria-label='Clear canvas']").click()
    page.wait_for_function(
        "() => document.querySelector('#number-fix-text textarea, #number-fix-text input')?.value === ''",
        timeout=30_000,
    )


def test_correct_a_drawing(page, app_url, corrections_dir):
    page.goto(app_url)
    x, y, w, h = canvas_box(page, "sketch")
    one = [(x + 0.5 * w, y + 0.25 * h), (x + 0.5 * w, y + 0.75 * h)]
    draw(page, one)
    assert predicted(page, "sketch-label") == "1"
    before = len(load(corrections_dir)[1])

    page.locator("#sketch-fix").click()  # "Wrong? Tell us the right digit"
    page.locator("#sketch-fix-choice").get_by_text("7", exact=True).click()
    # A stroke that leaves the prediction at 1 (the 1 gone over again) keeps the choice.
    draw_again(page, one, "sketch-preview")
    assert predicted(page, "sketch-label") == "1"
    assert page.locator("#sketch-fix-choice input:checked").count() == 1
    page.locator("#sketch-fix-save").click()
    page.locator("#sketch-fix-note").get_by_text("the model said 1, you said 7").wait_for(state="visible")
    _, labels, records = load(corrections_dir)
    assert len(labels) == before + 1 and records[-1]["corrected"] == "7" and records[-1]["predicted"] == "1"

    # A new drawing starts afresh: the last digit chosen is not filed under it by mistake.
    page.locator("#sketch button[aria-label='Clear canvas']").click()
    page.locator("#sketch-fix-note").get_by_text("you said 7").wait_for(state="detached")
    assert page.locator("#sketch-fix-choice input:checked").count() == 0


def finger_on_a_phone(browser, width: int, height: int):
    """A touch-screen context of ``width`` x ``height`` CSS px, its page, and ``finger(points)``:
    one stroke of a finger through ``points`` (page coordinates; touch moves are slow here, so
    each segment is cut into 8, not more)."""
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    touch = context.new_cdp_session(page)

    def send(kind: str, at: list[tuple[float, float]]) -> None:
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": px, "y": py} for px, py in at]})

    def finger(points: list[tuple[float, float]]) -> None:
        send("touchStart", points[:1])
        for a, b in zip(points, points[1:]):
            for k in range(1, 9):
                send("touchMove", [(a[0] + (b[0] - a[0]) * k / 8, a[1] + (b[1] - a[1]) * k / 8)])
        send("touchEnd", [])

    return context, page, finger


def in_view(page, selector: str) -> None:
    """``selector``'s element is wholly within the viewport, the page not scrolled."""
    box = page.locator(selector).first.bounding_box()
    viewport = page.viewport_size
    assert page.evaluate("() => window.scrollY") == 0
    assert 0 <= box["y"] and box["y"] + box["height"] <= viewport["height"], (selector, box, viewport)


def drawing_surface(page, sketchpad_id: str, width: int, height: int) -> tuple[float, float, float, float]:
    """The (x, y, width, height) of the ``width`` x ``height`` image drawn on, centred in the
    canvas at the zoom its tool bar shows."""
    x, y, w, h = canvas_box(page, sketchpad_id)
    zoom = int(page.locator(f"#{sketchpad_id} .zoom-number").inner_text().strip().rstrip("%")) / 100
    return x + (w - width * zoom) / 2, y + (h - height * zoom) / 2, width * zoom, height * zoom


@pytest.mark.parametrize("width, height", [(390, 844), (360, 740)])
def test_draw_with_a_finger_on_a_phone(browser, app_url, width, height):
    """Touch events on a phone-sized page draw on the canvas (and do not scroll the page); the
    prediction and its confidence show without scrolling (they were below the fold, under the
    drawing tip), and the brush's tool bar does not cover the drawing surface's left edge."""
    context, page, finger = finger_on_a_phone(browser, width, height)
    try:
        page.goto(app_url)
        x, y, w, h = canvas_box(page, "sketch")
        finger([(x + 0.35 * w, y + 0.3 * h), (x + 0.65 * w, y + 0.3 * h), (x + 0.45 * w, y + 0.75 * h)])
        assert predicted(page, "sketch-label") == "7"
        in_view(page, "#sketch-label [data-testid='label-output-value']")
        in_view(page, "#sketch-label .confidence-set")  # the first: "7 ... 9x%"
        left = drawing_surface(page, "sketch", 400, 400)[0]
        for tool in page.locator("#sketch .toolbar-wrap button").all():
            box = tool.bounding_box()
            assert box["x"] + box["width"] <= left + 1, (tool.get_attribute("aria-label"), box, left)
    finally:
        context.close()


def test_upload_on_a_phone(browser, app_url):
    """On a phone the prediction for an uploaded picture shows without scrolling; it was under
    the example digits, at y=901 of 844."""
    context, page, _ = finger_on_a_phone(browser, 390, 844)
    try:
        page.goto(app_url)
        page.get_by_role("tab", name="Upload").tap()
        page.locator("#upload input[type=file]").set_input_files(str(TEST_DATA / "ink_3.png"))
        assert predicted(page, "upload-label") == "3"
        in_view(page, "#upload-label [data-testid='label-output-value']")
        in_view(page, "#upload-label .confidence-set")
    finally:
        context.close()


def test_write_a_number_with_a_finger_on_a_phone(browser, app_url):
    """On a small phone the number read (the drawing with a box and a label on each digit) shows
    without scrolling; it was under the upload box and the examples."""
    context, page, finger = finger_on_a_phone(browser, 360, 740)
    try:
        page.goto(app_url)
        page.get_by_role("tab", name="Number").tap()
        x, y, w, h = canvas_box(page, "number-sketch")
        finger([(x + 0.3 * w, y + 0.3 * h), (x + 0.3 * w, y + 0.7 * h)])
        finger([(x + 0.42 * w, y + 0.3 * h), (x + 0.56 * w, y + 0.3 * h), (x + 0.46 * w, y + 0.7 * h)])
        read_as(page, "17")
        in_view(page, "#number-boxes img")
    finally:
        context.close()
