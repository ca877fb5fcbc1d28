"""Reading whole numbers: real drawings through the real segmentation and the bundled model.

Numbers are drawn with a round pen (PIL lines) from the stroke templates of
:mod:`digitrec.synthetic`, so the tests run on a fresh clone; when the MNIST file is
present, numbers composed from MNIST test digits are read too.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont, ImageOps
from sklearn.datasets import load_digits

from digitrec import synthetic as syn
from digitrec.errors import InvalidImageError
from digitrec.segment import DigitReading, NumberReading, draw_boxes, read_number

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"

_line, _arc, _join, _densify = syn._line, syn._arc, syn._join, syn._densify


def template(digit: int, style: str | None = None) -> list[np.ndarray]:
    """Pen strokes of a digit in unit coordinates (about 0.6 wide, 1 high, y down)."""
    styles = syn._templates()[digit]
    return [_densify(s) for s in styles[style or sorted(styles)[0]]]


#: A 5 whose top bar was drawn apart from the body (two separate strokes with a gap).
BROKEN_5 = [
    _densify(_join(_line((0.1, 0.0), (0.07, 0.44)), _arc(0.3, 0.69, 0.29, 0.3, -130, 150, 30))),
    _densify(_line((0.2, -0.08), (0.62, -0.1))),
]
#: An open 4 whose bar stops short of the stem (two separate strokes with a gap).
BROKEN_4 = [
    _densify(_line((0.1, 0.0), (0.03, 0.62), (0.31, 0.62))),
    _densify(_line((0.47, 0.18), (0.45, 1.0))),
]


def draw_number(digits: list[list[np.ndarray]], gap: float = 20, height: int = 80, brush: float = 8,
                margin: int = 20, transparent: bool = False,
                drop: float = 0) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """The digits drawn left to right, ``gap`` pixels between their ink; and each digit's ink box.

    A negative gap makes neighbours overlap (they touch). Each digit sits ``drop`` pixels
    lower than the one before (negative: higher), as in a number written at a slope. Dark
    ink on white (mode L), or black strokes on a transparent canvas like the app's sketchpad (mode RGBA).
    """
    placed, x = [], float(margin)
    top = margin - min(0.0, drop * (len(digits) - 1))
    for index, strokes in enumerate(digits):
        points = np.concatenate(strokes)
        low, high = points.min(axis=0), points.max(axis=0)
        k = height / (high[1] - low[1])
        placed.append([(s - low) * k + [x, top + index * drop] for s in strokes])
        x += (high[0] - low[0]) * k + gap + brush
    size = (int(round(x - gap - brush)) + 2 * margin, height + 2 * margin + int(round(abs(drop) * (len(digits) - 1))))
    boxes = []
    for strokes in placed:
        alpha = syn.rasterize(strokes, size, brush)
        rows, cols = np.nonzero(alpha > 0.5)
        boxes.append((int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1))
    alpha = syn.rasterize([s for strokes in placed for s in strokes], size, brush)
    if transparent:
        rgba = np.zeros((size[1], size[0], 4), np.uint8)
        rgba[..., 3] = np.round(255 * alpha).astype(np.uint8)
        return Image.fromarray(rgba, "RGBA"), boxes
    return Image.fromarray(np.round(255 * (1 - alpha)).astype(np.uint8), "L"), boxes


def iou(a, b) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])
    return inter / (area(a) + area(b) - inter)


def assert_boxes(reading: NumberReading, expected: list[tuple[int, int, int, int]], size, min_iou=0.6):
    """Boxes in input coordinates, left to right, each covering its digit's ink."""
    boxes = [d.box for d in reading.digits]
    assert len(boxes) == len(expected)
    lefts = [b[0] for b in boxes]
    assert lefts == sorted(lefts), f"boxes not left to right: {boxes}"
    for box, truth in zip(boxes, expected):
        assert 0 <= box[0] < box[2] <= size[0] and 0 <= box[1] < box[3] <= size[1]
        assert iou(box, truth) >= min_iou, f"box {box} does not match the digit at {truth}"


# -- numbers with gaps ---------------------------------------------------------------------


@pytest.mark.parametrize("number, gap", [("2026", 20), ("2026", 4), ("1234567890", 12), ("70", 30)])
def test_reads_spaced_numbers(classifier, number, gap):
    image, boxes = draw_number([template(int(d)) for d in number], gap=gap)
    reading = read_number(classifier, image)
    assert reading.number == number
    assert_boxes(reading, boxes, image.size)
    assert all(0.0 <= d.confidence <= 1.0 for d in reading.digits)


def test_single_digit_is_a_one_digit_number(classifier):
    image, boxes = draw_number([template(7)])
    reading = read_number(classifier, image)
    assert reading.number == "7"
    assert_boxes(reading, boxes, image.size)


def test_boxes_are_in_input_coordinates_of_a_large_image(classifier):
    """The reader works at 256 px; boxes are scaled back to the (much larger) input."""
    image, boxes = draw_number([template(int(d)) for d in "4096"], gap=60, height=400, brush=36, margin=80)
    assert max(image.size) > 1000
    reading = read_number(classifier, image)
    assert reading.number == "4096"
    assert_boxes(reading, boxes, image.size, min_iou=0.8)


@pytest.mark.parametrize("number, where", [("2026", "strip"), ("90210", "corner"),
                                           ("314159265358979323846264338327", "strip")])
def test_a_small_number_in_a_large_image_keeps_its_detail(classifier, number, where):
    """A number at the left of a wide strip, or in a corner of a photo-sized page, is read
    from its own part of the image, not from the whole shrunk to 256 px (which left its
    digits a few pixels tall); so is a long number. Boxes stay in input coordinates."""
    drawn, boxes = draw_number([template(int(d)) for d in number], gap=14, height=60, brush=7, margin=10)
    size, at = ((5000, drawn.height), (0, 0)) if where == "strip" else ((4000, 3000), (2600, 2300))
    image = Image.new("L", size, 255)
    image.paste(drawn, at)
    reading = read_number(classifier, image)
    assert reading.number == number
    assert_boxes(reading, [(x0 + at[0], y0 + at[1], x1 + at[0], y1 + at[1]) for x0, y0, x1, y1 in boxes], size)


def test_sketchpad_canvas_and_file_bytes(classifier):
    """Transparent sketch (the app's canvas) and PNG bytes (an upload) read the same."""
    image, boxes = draw_number([template(int(d)) for d in "385"], gap=16, transparent=True)
    reading = read_number(classifier, image)
    assert reading.number == "385"
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert read_number(classifier, buffer.getvalue()).as_dict() == reading.as_dict()
    assert_boxes(reading, boxes, image.size)


# -- touching and broken digits ---------------------------------------------------------------


@pytest.mark.parametrize("number", ["2026", "3817"])
def test_reads_touching_digits(classifier, number):
    image, boxes = draw_number([template(int(d)) for d in number], gap=-2)
    reading = read_number(classifier, image)
    assert reading.number == number
    assert_boxes(reading, boxes, image.size, min_iou=0.5)


def test_one_touching_a_digit_in_a_cluster_no_wider_than_one_digit(classifier):
    """A 1 touching its neighbour makes a cluster no wider than one digit may be, with no
    cheap cut between them; the model does not read the whole as one digit, so it is cut."""
    image, boxes = draw_number([template(1), template(4)], gap=-2)
    reading = read_number(classifier, image)
    assert reading.number == "14"
    assert_boxes(reading, boxes, image.size, min_iou=0.5)


def test_a_one_touching_a_neighbour_is_mostly_cut_off(classifier):
    """A 1 written into the digit after or before it (10-19 and 01-91, 3 px crossing to just
    touching): mostly read as two digits. Some still are not (a 1 run into a 9 reads as 13 or 8)."""
    numbers = [f"1{d}" for d in range(10)] + [f"{d}1" for d in range(10)]
    right = sum(read_number(classifier, draw_number([template(int(d)) for d in number], gap=gap)[0]).number == number
                for number in numbers for gap in (-3, -2, -1, 0))
    # of 80; the bundled model: 70. The model and reader before seams and shared ink: 66, but they
    # read 12 right at every gap, which this model reads as 2 at three (it takes the whole for a 2)
    assert right >= 68


@pytest.mark.parametrize("gap", [-3, -2])
def test_a_one_drawn_against_a_zero_is_cut_along_the_seam(classifier, gap):
    """A 1 drawn against the left side of a 0: the two strokes merge into one band of ink,
    so every cut that crosses little ink goes through the 0; a cut along the band's middle
    separates them (without it, the whole reads as 0)."""
    image, boxes = draw_number([template(1), template(0)], gap=gap)
    reading = read_number(classifier, image)
    assert reading.number == "10"
    assert_boxes(reading, boxes, image.size, min_iou=0.5)


@pytest.mark.parametrize("gap", [-3, -2, -1, 0])
def test_a_one_leaning_into_the_next_digit_shares_its_ink(classifier, gap):
    """A 1 whose foot runs into the stem of the 6 after it: no cut separates them, so the
    ink between two cuts is read as part of both (without that, the 6 lost its stem and
    read as 5)."""
    image, boxes = draw_number([template(1), template(6)], gap=gap)
    reading = read_number(classifier, image)
    assert reading.number == "16"
    assert_boxes(reading, boxes, image.size, min_iou=0.5)
    one, six = (d.box for d in reading.digits)
    assert one[2] > six[0]  # the two boxes overlap where the ink is shared


def test_wide_digit_touching_its_neighbours_is_one_digit(classifier):
    """A 0 drawn nearly twice as wide as usual, touching a 2 and a 4, is not cut in two."""
    wide_zero = [s * [1.9, 1.0] for s in template(0)]
    image, boxes = draw_number([template(2), wide_zero, template(4)], gap=-2)
    reading = read_number(classifier, image)
    assert reading.number == "204"
    assert_boxes(reading, boxes, image.size, min_iou=0.5)


@pytest.mark.parametrize("number, wide", [("60", 1), ("4089", 3)])
def test_loop_of_a_wide_digit_is_not_cut(classifier, number, wide):
    """A digit drawn twice as wide as usual and touching its neighbours keeps its loop whole."""
    digits = [template(int(d)) for d in number]
    digits[wide] = [s * [2.0, 1.0] for s in digits[wide]]
    image, boxes = draw_number(digits, gap=-2)
    reading = read_number(classifier, image)
    assert reading.number == number
    assert_boxes(reading, boxes, image.size, min_iou=0.5)


@pytest.mark.parametrize("number", ["6574", "7464", "3445"])
def test_reads_overlapping_digits(classifier, number):
    """Digits overlapping by about a stroke width: the cut between them clips a bar or an arm
    the neighbour crosses, and the clipped digit is still read as itself."""
    image, boxes = draw_number([template(int(d)) for d in number], gap=-6)
    reading = read_number(classifier, image)
    assert reading.number == number
    assert_boxes(reading, boxes, image.size, min_iou=0.5)


def test_touching_digits_form_one_component():
    """The touching cases really touch: their ink is one connected piece."""
    from scipy import ndimage

    image, _ = draw_number([template(int(d)) for d in "3817"], gap=-2)
    ink = np.asarray(image) < 128
    assert ndimage.label(ink, structure=np.ones((3, 3)))[1] == 1


def test_five_drawn_as_two_strokes_is_one_digit(classifier):
    for digits, number in [([template(3), BROKEN_5], "35"), ([template(4), BROKEN_5, template(6)], "456")]:
        image, boxes = draw_number(digits, gap=16)
        reading = read_number(classifier, image)
        assert reading.number == number
        assert_boxes(reading, boxes, image.size)


def test_five_with_gap_touching_its_neighbours(classifier):
    image, _ = draw_number([template(4), BROKEN_5, template(6)], gap=-2)
    assert read_number(classifier, image).number == "456"


def test_four_with_a_gap_is_one_digit(classifier):
    for digits, number in [([BROKEN_4, template(5)], "45"), ([template(1), BROKEN_4, template(5)], "145")]:
        image, boxes = draw_number(digits, gap=16)
        pieces = np.asarray(image) < 128
        from scipy import ndimage

        assert ndimage.label(pieces, structure=np.ones((3, 3)))[1] == len(number) + 1  # the 4 is in two pieces
        reading = read_number(classifier, image)
        assert reading.number == number
        assert_boxes(reading, boxes, image.size)


def test_specks_are_ignored(classifier):
    image, boxes = draw_number([template(int(d)) for d in "29"], gap=20)
    pixels = np.asarray(image).copy()
    pixels[5:8, 5:8] = 0  # a dust speck in the corner
    pixels[-8:-5, image.width // 2: image.width // 2 + 3] = 0  # and one between the digits, low
    reading = read_number(classifier, Image.fromarray(pixels))
    assert reading.number == "29"
    assert_boxes(reading, boxes, image.size)


@pytest.mark.parametrize("number", ["29", "350"])
@pytest.mark.parametrize("tick", [28, 32])
def test_a_short_stray_stroke_is_not_a_digit(classifier, number, tick):
    """A tick well under half the digits' height (a stroke's broken-off tail, a slip of the
    pen) after the number is left unread; read as a digit it was a "1"."""
    image, boxes = draw_number([template(int(d)) for d in number], gap=20)
    canvas = Image.new("L", (image.width + 40, image.height), 255)
    canvas.paste(image, (0, 0))
    ImageDraw.Draw(canvas).line([(image.width + 5, 50), (image.width + 8, 50 + tick)], fill=0, width=8)

    reading = read_number(classifier, canvas)

    assert reading.number == number
    assert_boxes(reading, boxes, canvas.size)


def test_a_short_one_between_digits_is_read(classifier):
    """A 1 half as tall as its neighbours, standing on their baseline, is still a digit."""
    image, _ = draw_number([template(2), template(9)], gap=60)
    x = image.width // 2 - 4
    ImageDraw.Draw(image).line([(x, 60), (x + 3, 100)], fill=0, width=8)

    assert read_number(classifier, image).number == "219"


# -- MNIST digits (when the data set is present) ------------------------------------------------


@pytest.mark.skipif(not MNIST.is_file(), reason="MNIST not available")
def test_reads_numbers_made_of_mnist_test_digits(classifier):
    data = np.load(MNIST)
    x, y = data["x_test"], data["y_test"]
    rng = np.random.default_rng(7)
    right = total = 0
    for gap in (6, 2, 0):
        for _ in range(8):
            idx = rng.choice(len(x), size=4, replace=False)
            image, _ = syn.compose_number(list(x[idx]), rng, gap=gap)
            truth = "".join(str(int(d)) for d in y[idx])
            right += read_number(classifier, image).number == truth
            total += 1
    assert right / total >= 0.75, f"{right}/{total} MNIST numbers read right"


# -- one line of digits, not several -----------------------------------------------------------

#: The Number tab's sketchpad canvas (app.py: 1.8 x 0.9 times CANVAS_SIZE).
NUMBER_CANVAS = (720, 360)
#: The same one broken in pieces one above another (unit coordinates, as :func:`template`'s).
TOP_BAR_5 = [BROKEN_5[0], BROKEN_5[1] + [0.0, -0.3]]  # the bar a third of the digit above the body
TOP_BAR_7 = [_densify(_line((0.0, -0.15), (0.6, -0.15))), _densify(_line((0.6, 0.05), (0.25, 1.0)))]
SPLIT_4 = [_densify(_line((0.1, 0.0), (0.03, 0.55), (0.6, 0.55))), _densify(_line((0.45, 0.75), (0.45, 1.0)))]


def written(number: str, **kwargs) -> Image.Image:
    """``number`` drawn with the stroke templates (:func:`draw_number`'s options), mode L."""
    return draw_number([template(int(d)) for d in number], **kwargs)[0]


def stacked(lines: list[Image.Image], gap: int = 40, indents: list[int] | None = None,
            margin: int = 20) -> Image.Image:
    """Drawings (mode L, dark on white) one under another with ``gap`` pixels of paper between
    their ink, each cropped to its ink and ``indents`` pixels right of the left margin."""
    lines = [line.crop(ImageOps.invert(line).getbbox()) for line in lines]
    indents = indents or [0] * len(lines)
    width = max(line.width + indent for line, indent in zip(lines, indents)) + 2 * margin
    page = Image.new("L", (width, sum(line.height + gap for line in lines) - gap + 2 * margin), 255)
    y = margin
    for line, indent in zip(lines, indents):
        page.paste(line, (margin + indent, y))
        y += line.height + gap
    return page


def on_sketchpad(drawing: Image.Image) -> Image.Image:
    """A drawing (mode L) as the Number tab's sketchpad sends it: black strokes on a transparent
    ``NUMBER_CANVAS``, in its middle."""
    strokes = Image.new("RGBA", drawing.size, (0, 0, 0, 255))
    strokes.putalpha(ImageOps.invert(drawing))
    canvas = Image.new("RGBA", NUMBER_CANVAS, (0, 0, 0, 0))
    canvas.alpha_composite(strokes, ((canvas.width - drawing.width) // 2, (canvas.height - drawing.height) // 2))
    return canvas


def handwritten_digits(source: str) -> np.ndarray:
    """MNIST test digits, or scikit-learn's 8x8 digits enlarged to 24x24: uint8, 255 = ink."""
    if source == "mnist":
        if not MNIST.is_file():
            pytest.skip("MNIST not available")
        return np.load(MNIST)["x_test"][:500]
    small = (load_digits().images[:500] * 255 / 16).astype(np.uint8)
    return np.stack([np.asarray(Image.fromarray(d).resize((24, 24), Image.Resampling.BILINEAR)) for d in small])


@pytest.mark.parametrize("lines, indents", [(["12", "34"], None), (["2026", "90210"], None),
                                            (["90210", "12"], [0, 230]), (["7", "35"], [40, 0])])
def test_two_lines_of_digits_are_refused(classifier, lines, indents):
    """Two lines one under another are not one number: the reader says so, rather than read
    the digits above each other as one (12 above 34 was read as 1324)."""
    with pytest.raises(InvalidImageError, match="holds 2 lines of digits.*one line at a time"):
        read_number(classifier, stacked([written(line) for line in lines], indents=indents))


def test_every_line_is_counted(classifier):
    with pytest.raises(InvalidImageError, match="holds 3 lines of digits"):
        read_number(classifier, stacked([written(line) for line in ("12", "34", "56")], gap=30))


def test_two_typed_lines_are_refused(classifier):
    """12 above 34 in a typeface, like a printed address with a ZIP code on its own line:
    was read as 88, each 8 with 98% confidence."""
    page = Image.new("L", (260, 400), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=120)
    draw.text((60, 20), "12", font=font, fill=0)
    draw.text((60, 220), "34", font=font, fill=0)
    with pytest.raises(InvalidImageError, match="2 lines of digits"):
        read_number(classifier, page)


def test_two_lines_drawn_on_the_sketchpad_are_refused(classifier):
    drawing = stacked([written(line, height=110, brush=12) for line in ("35", "807")], gap=45)
    with pytest.raises(InvalidImageError, match="2 lines of digits"):
        read_number(classifier, on_sketchpad(drawing))


@pytest.mark.parametrize("source", ["sklearn", "mnist"])
def test_two_lines_of_handwritten_digits_are_refused(classifier, source):
    digits = handwritten_digits(source)
    rng = np.random.default_rng(3)
    for _ in range(4):
        lines = [syn.compose_number(list(digits[rng.choice(len(digits), size=3)]), rng, upscale=3)[0]
                 for _ in range(2)]
        with pytest.raises(InvalidImageError, match="2 lines of digits"):
            read_number(classifier, stacked(lines, gap=30))


@pytest.mark.parametrize("source", ["sklearn", "mnist"])
def test_digits_of_varied_sizes_and_baselines_are_one_line(classifier, source):
    """The reading bench's ``sizes_baselines`` numbers (digits scaled 0.75-1.25x and shifted
    up to 15% of their height) are one line, however their tops and bottoms fall."""
    digits = handwritten_digits(source)
    rng = np.random.default_rng(5)
    style = syn.NUMBER_STYLES["sizes_baselines"]
    for _ in range(20):
        image, _, _ = style.compose(list(digits[rng.choice(len(digits), size=4)]), rng)
        assert len(read_number(classifier, image).digits) >= 1  # read, not refused


@pytest.mark.parametrize("digits, number", [([TOP_BAR_5], "5"), ([TOP_BAR_7], "7"), ([SPLIT_4], "4"),
                                            ([template(3), TOP_BAR_5, template(6)], "356")])
def test_a_digit_in_pieces_one_above_another_is_one_line(classifier, digits, number):
    """A 5 or a 7 whose bar was drawn apart above it, a 4 whose stem's foot is apart below:
    the pieces are not lines (the bar is flat, the 4's pieces are not apart enough)."""
    image, boxes = draw_number(digits, gap=16)
    reading = read_number(classifier, image)
    assert reading.number == number
    assert_boxes(reading, boxes, image.size)


def test_marks_above_and_below_a_number_are_not_lines(classifier):
    image, boxes = draw_number([template(int(d)) for d in "350"], gap=20, margin=50)
    draw = ImageDraw.Draw(image)
    draw.ellipse([150, 10, 162, 22], fill=0)  # a dot well above
    draw.ellipse([60, image.height - 22, 72, image.height - 10], fill=0)  # and one well below
    reading = read_number(classifier, image)
    assert reading.number == "350"
    assert_boxes(reading, boxes, image.size)


def test_a_tall_one_is_one_line(classifier):
    """A 1 a quarter taller than its neighbours reaches above them: one line still."""
    image, _ = draw_number([template(2), template(0)], gap=70, margin=60)
    x = image.width // 2 - 4
    ImageDraw.Draw(image).line([(x, 40), (x + 5, 140)], fill=0, width=8)
    assert read_number(classifier, image).number == "210"


@pytest.mark.parametrize("number, drop", [("2026", 40), ("2026", -60), ("12", 100), ("47", -100), ("1234", 95)])
def test_a_number_written_at_a_slope_is_one_line(classifier, number, drop):
    """Digits each lower (or higher) than the one before, down to no two at the same height:
    the steps of one line, not lines one under another."""
    image, boxes = draw_number([template(int(d)) for d in number], drop=drop)
    reading = read_number(classifier, image)
    assert reading.number == number
    assert_boxes(reading, boxes, image.size)


def test_a_number_drawn_at_a_slope_on_the_sketchpad_is_one_line(classifier):
    drawing = written("90210", height=90, brush=12, drop=45)
    assert read_number(classifier, on_sketchpad(drawing)).number == "90210"


# -- results and errors -------------------------------------------------------------------------


def test_as_dict_is_json(classifier):
    image, _ = draw_number([template(int(d)) for d in "2026"], gap=20)
    reading = read_number(classifier, image)
    data = json.loads(json.dumps(reading.as_dict()))
    assert data["number"] == "2026"
    assert [d["label"] for d in data["digits"]] == list("2026")
    assert all(set(d) == {"label", "confidence", "box"} and len(d["box"]) == 4 for d in data["digits"])
    assert isinstance(reading.digits[0], DigitReading)
    assert len(reading.normalized) == 4 and reading.normalized[0].shape == (28, 28)
    assert all(0.5 < d["confidence"] <= 1.0 for d in data["digits"])


def _coloured(image: Image.Image) -> np.ndarray:
    pixels = np.asarray(image).astype(int)
    return np.abs(pixels[..., 0] - pixels[..., 1]) + np.abs(pixels[..., 1] - pixels[..., 2]) > 60


def test_draw_boxes_marks_the_digits_without_hiding_ink(classifier):
    drawing, _ = draw_number([template(int(d)) for d in "59"], gap=20, transparent=True)
    image = drawing.crop(drawing.getbbox())  # ink from edge to edge: no room above the digits
    reading = read_number(classifier, image)
    drawn = draw_boxes(image, reading)

    band = drawn.height - image.height
    assert drawn.mode == "RGB" and drawn.width == image.width and band > 0
    coloured = _coloured(drawn)
    assert coloured[:band].sum() > 100, "labels go in a band above the drawing"
    x0, y0, _, y1 = reading.digits[0].box
    assert coloured[band + y0: band + y1, x0].all(), "the first box's left edge"
    ink = np.asarray(image)[..., 3] > 128
    still_dark = np.asarray(drawn.convert("L"))[band:][ink] < 100
    assert still_dark.mean() > 0.9, "only box edges touch the ink"
    assert np.asarray(image)[..., 3].max() == 255  # the input is not modified


def test_labels_of_narrow_neighbours_do_not_overlap(classifier):
    wide, _ = draw_number([template(int(d)) for d in "59"], gap=20)
    narrow, _ = draw_number([template(1)] * 3, gap=10)
    bands = [draw_boxes(image, read_number(classifier, image)).height - image.height for image in (wide, narrow)]
    assert bands[1] > bands[0], "a label wider than the gap to the next digit goes one row up"


def test_a_label_at_the_right_edge_is_not_cut_off():
    """The last digit's label, wider than the room right of its box, ends at the image's edge."""
    image = Image.new("L", (300, 100), 255)
    reading = NumberReading("26", [DigitReading("2", 0.97, (5, 20, 60, 90)),
                                   DigitReading("6", 0.97, (285, 20, 300, 90))])
    drawn = np.asarray(draw_boxes(image, reading).convert("RGB")).astype(int)
    band = drawn[: drawn.shape[0] - image.height]
    green = (np.abs(band - [0, 150, 60]).sum(axis=2) < 30).any(axis=0)  # the label backgrounds' columns
    runs = np.flatnonzero(np.diff(np.concatenate([[0], green.astype(int), [0]])))
    widths = runs[1::2] - runs[::2]
    assert len(widths) == 2 and widths[1] == widths[0], "both labels whole, the same width"
    assert runs[-1] <= image.width


@pytest.mark.parametrize("blank", [
    Image.new("L", (300, 100), 255),
    Image.new("RGBA", (300, 100), (0, 0, 0, 0)),
    Image.new("RGB", (300, 100), (40, 90, 200)),
])
def test_empty_image_is_refused(classifier, blank):
    with pytest.raises(InvalidImageError, match="No number found"):
        read_number(classifier, blank)


def test_unreadable_input_is_refused(classifier):
    with pytest.raises(InvalidImageError):
        read_number(classifier, b"not an image")


def test_a_cluster_nothing_can_read_is_skipped_not_the_rest_of_the_number():
    """Clusters 0 and 2 have readings, cluster 1 none (no usable ink): both readings stay."""
    from digitrec.segment import UNREADABLE_COST, _best_path, _Reading, _Segment

    def reading(index: int) -> _Reading:
        segment = _Segment(np.ones((2, 2)), (index, 0, index + 1, 1), (0, 0), image=np.zeros((28, 28)), doubt=0.1)
        return _Reading(index, index + 1, [segment], cost=0.5)

    first, last = reading(0), reading(2)
    assert _best_path([first, last], skip_costs=[UNREADABLE_COST] * 3) == [first, last]
    assert _best_path([], skip_costs=[UNREADABLE_COST] * 2) == []
