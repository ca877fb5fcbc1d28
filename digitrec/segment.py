"""Read whole numbers: split an image of several digits into digits and classify each.

The image goes through the same ink map as single digits (:func:`digitrec.normalize.ink_map`,
at most ``WORK_SIZE`` pixels on its longer side; when that shrinks it, the part holding the
ink is mapped again on its own, see :func:`_number_ink`), then:

1. **Components.** The ink is thresholded (Otsu, as for single digits) and split into
   8-connected components; specks (tiny next to the largest component) are dropped.
   The reader reads one line: ink forming two or more lines of digits one under another
   (bands of ink rows apart by blank rows, see :func:`_line_count`) is refused with an
   :class:`InvalidImageError` saying so, rather than read as digits stacked into one.
2. **Broken strokes.** Components whose horizontal extents overlap strongly are parts of
   one digit (the bar of a 5 drawn apart, a loop not quite closed, a piece above or below
   another) and are merged, unless both are full-height marks that merely overlap at their
   edges (slanted neighbours). Small isolated marks left over are ignored.
3. **Touching digits.** With the line's digit height ``H`` (median height of the large
   clusters), every cluster gets candidate cuts: top-to-bottom paths crossing as little
   ink as possible (so slanted and overlapping neighbours are separated along their real
   boundary, not a straight column), and seams: paths along the middle of a band where two
   strokes run merged side by side (a 1 drawn against a 0), which no other path gets
   between. Each cut costs the ink it crosses (in stroke widths; a seam, little);
   a cheap cut with full-height ink on both sides (two digits touching) earns a bonus, a
   cut splitting a loop (a hole in the ink: a 0, 6, 8, 9) pays extra. A cluster no wider
   than one digit may be, and read by the model as one digit (its whole ink is classified
   first), is only cut at such places (a 1 leaning on a 4); one the model does not read
   as a digit (a 1 pressed against a 4) may be cut anywhere. The ink between any two cuts
   is a candidate digit, with a shape cost (too wide for the line height or for the line's
   typical digit width, too narrow, too short compared with ``H``); candidates whose shape
   alone rules them out are dropped.
4. **Gaps inside a digit.** Neighbouring clusters where one is much shorter than the
   other and the gap is tiny (a 4 whose bar stops short of its stem) may be one digit.
5. **Best reading (segmentation by recognition).** Every candidate digit is normalized
   with :func:`mnist_from_ink` and classified in two model calls, the clusters' whole ink
   first (see 3.), then all the cut pieces (one model input per candidate: each costs a few
   milliseconds). Each cluster is read by dynamic
   programming over its cuts, and the line by dynamic programming over clusters, minimizing
   the shape and cut costs plus each digit's doubt: ``-log`` of its label's probability and,
   for ink cut out of a larger piece, how far its width-to-height ratio is from the usual
   one of the digit it is read as (half a 0 read as a 7 is too narrow for a 7); its width
   may reach along the strokes its cuts go through (overlapping digits share them, so a
   cut clips the bar of a 4 that crosses the 7 before it). Neighbouring digits of a cluster
   meet at a cut, or, when one is read as a 1, may share the ink between two neighbouring
   cuts (a 1 leaning into the next digit, its foot merged into that digit's stem). Geometry
   carries most of the decision: the bundled model reads fragments of digits at about 0.98
   (half a 0 passes for a 6 or a 7), though it doubts two digits merged. A stray mark much
   shorter than the digits (a stroke's broken-off tail, a slip of the pen) may be left
   unread, for a fixed cost, instead of being read as a 1.
6. **Piece verifier.** When the classifier comes with one (``piece_verifier``, trained by
   :mod:`digitrec.piece_verifier` on numbers composed from MNIST training digits), each
   candidate's doubt also gets ``-log`` of the verifier's probability that it is exactly one
   whole digit, judged from the features :data:`PIECE_FEATURES` lists: its shape against
   the line and the model's probabilities together, where a merged pair or a fragment
   gives itself away even though its top probability is high.

Each digit read gets a confidence, how likely it is right: with a piece verifier, from the
model's probability for its label and the verifier's that its ink is one whole digit
(:func:`digit_confidence`); without one, the model's probability.

Boxes are reported in the coordinates of the input image (after EXIF orientation) as
``(left, top, right, bottom)`` with right and bottom exclusive, like :meth:`PIL.Image.crop`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage
from scipy.special import expit, logit
from skimage.morphology import skeletonize

from digitrec.errors import InvalidImageError
from digitrec.normalize import WORK_SIZE, ImageInput, ink_level, ink_map, mnist_from_ink, open_image, scaled_ink

T = TypeVar("T")

#: Components smaller than this fraction of the largest one's area are specks.
SPECK_AREA = 0.03
#: Two components are one digit when their horizontal overlap is at least this fraction of
#: the narrower one's width...
MERGE_OVERLAP = 0.5
#: ...unless both are at least this fraction of the line height (two digits leaning into
#: each other) and the overlap is less than ``NESTED`` of the wider one's width.
TALL = 0.75
NESTED = 0.6
#: Pieces flatter than this fraction of the line height are parts of a digit, not digits.
FLAT = 0.35
#: Clusters whose height and width are both below this fraction of the digit height are ignored.
SMALL_PIECE = 0.3
#: Width (in line heights) above which one digit becomes unlikely, and how fast.
MAX_ASPECT, ASPECT_SCALE = 1.05, 0.15
#: Width (in typical digit widths of the line) above which one digit becomes unlikely, and
#: how fast. The typical width is the median width of the line's separate digits, within
#: ``TYPICAL_WIDTH`` line heights (its middle value when there are fewer than two).
MAX_WIDTH, WIDTH_SCALE = 1.6, 0.3
TYPICAL_WIDTH = (0.7, 0.7, 0.85)
#: Narrowest digit (a 1), and shortest digit, in line heights.
MIN_WIDTH, MIN_HEIGHT = 0.1, 0.55
#: Cost of each digit read (favours fewer digits when cuts are otherwise free).
DIGIT_COST = 0.5
#: Cost per stroke width of ink crossed by a cut.
CUT_COST = 0.8
#: A cut crossing at most ``BETWEEN_STROKES`` stroke widths with ink spanning at least
#: ``BETWEEN_HEIGHT`` of the cluster's height within ``BETWEEN_WINDOW`` line heights on
#: both sides is likely the contact of two touching digits: it earns ``BETWEEN_BONUS``.
BETWEEN_STROKES, BETWEEN_HEIGHT, BETWEEN_WINDOW, BETWEEN_BONUS = 1.3, 0.8, 0.35, 0.4
#: Extra cost of a cut splitting a loop with at least ``LOOP_AREA`` square line heights of
#: hole on both sides (see :func:`_loop_costs`).
LOOP_COST, LOOP_AREA = 2.0, 0.025
#: Weight of ``-log p`` (the classifier's doubt about a digit) in the reading's cost.
DOUBT_WEIGHT = 1.0
#: A cluster no wider than one digit whose whole ink the model reads with at most this doubt
#: (``-log p``) is one digit unless two digits visibly touch in it; beyond, it may be cut anywhere.
ONE_DIGIT_DOUBT = 1.0
#: Usual shape of each digit 0-9: mean and spread of log(width / height) of the (Otsu) ink
#: of MNIST training digits. The model reads fragments of digits at about 0.98 (half a 0
#: passes for a 6 or a 7), so whether a piece has the shape of the digit it is
#: read as is the stronger sign of a right cut.
DIGIT_ASPECT = ((-0.11, 0.21), (-0.98, 0.48), (-0.08, 0.23), (-0.25, 0.22), (-0.26, 0.22),
                (-0.08, 0.27), (-0.35, 0.22), (-0.28, 0.22), (-0.3, 0.23), (-0.42, 0.21))
#: Cost per squared deviation (in spreads) from that shape, and its cap.
ASPECT_WEIGHT, ASPECT_CAP = 0.5, 4.0
#: Cost of two neighbouring digits of a cluster, one read as a 1, sharing the ink between
#: two neighbouring cuts (besides both cuts): a 1 leaning into the next digit, its foot
#: merged into that digit's stem, belongs to both sides of every cut (see :meth:`_Lattice.best`).
SHARED_ONE_COST = 1.0
#: Most of the smaller one's ink the two may share (more: the 1 is a stroke of the other digit,
#: the stem of a 4 read apart from it).
SHARED_ONE_INK = 0.6
#: Pieces of a cluster whose shape cost exceeds this are not classified (they never win).
MAX_PIECE_COST = 4.0
#: Weight of ``-log q`` (the piece verifier's doubt that a piece is one whole digit), and
#: the least ``q`` counted (so one verdict never outweighs everything else). The weight was
#: tuned on numbers of MNIST *training* digits (``bench/read_numbers.py --split train``).
VERIFIER_WEIGHT, VERIFIER_FLOOR = 2.5, 1e-4
#: The features of a candidate digit a piece verifier judges (:func:`_piece_features`), in order.
PIECE_FEATURES = ("digit_probability_sum", "top_probability", "second_probability", "width", "height",
                  "log_aspect", "width_to_typical", "reach", "cut", "cut_ink", "joined", "shape_cost")
#: Cost of leaving a cluster unread: above any reading, so only a cluster nothing can read is left out...
UNREADABLE_COST = 1e6
#: ...unless it is shorter than ``STRAY_HEIGHT`` line heights: then ``STRAY_COST``.
STRAY_HEIGHT, STRAY_COST = 0.45, 3.0
#: Cut candidates tried per wide cluster, and how far (in line heights) a cut path may wander.
MAX_CUTS = 14
PATH_WANDER = 0.25
#: Seams (:func:`_cut_paths`): the middle of a band of ink at least ``SEAM_WIDTH`` strokes
#: wide costs ``SEAM_WEIGHT`` of its ink to cut along, and a seam runs along it for at
#: least ``SEAM_LENGTH`` line heights.
SEAM_WIDTH, SEAM_WEIGHT, SEAM_LENGTH = 1.3, 0.15, 0.3
#: How far (in line heights) a cut piece may reach beyond its ink along the strokes its cuts go through.
REACH = 0.25
#: A piece at most this fraction of its neighbour's height, separated by at most ``PART_GAP``
#: line heights, may be part of the neighbour's digit.
PART_HEIGHT, PART_GAP = 0.85, 0.12
#: Re-reading a number from its part of a larger image (:func:`_number_ink`): the margin
#: around its ink (in ink heights), the width-to-height ratio up to which the crop is read at
#: ``WORK_SIZE`` on its longer side, the most pixels on that side for a longer number, and
#: the least gain in detail (ratio of pixels per ink-map pixel) worth a second ink map.
NUMBER_MARGIN, WIDE_NUMBER, MAX_WORK_SIZE, RECROP_GAIN = 0.1, 4.0, 1024, 0.8
#: Most digits read in one image (more separate marks than this is not a number).
MAX_DIGITS = 40
#: Lines of digits one under another (:func:`_line_count`): a band of ink rows at least
#: ``LINE_HEIGHT`` of the tallest band's height holds digits; two such bands are separate
#: lines when blank rows at least ``LINE_GAP`` of the shorter one's height lie between them
#: and they overlap horizontally by at least ``LINE_OVERLAP`` of the narrower one's width.
LINE_HEIGHT, LINE_GAP, LINE_OVERLAP = 0.5, 0.25, 0.5
#: One mark wider than this many times its height may be several digits touching (:func:`several_digits`).
WIDE_MARK = 1.2
#: Most horizontal overlap of neighbouring digits' boxes, in the narrower one's widths, for
#: :func:`several_digits` to call them separate digits.
SIDE_BY_SIDE = 0.1
_EMPTY_MESSAGE = "No number found: the image is empty or has no visible ink."

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: its label, how likely it is right, and where it is."""

    label: str
    confidence: float  # :func:`digit_confidence`
    box: Box  # (left, top, right, bottom) in input-image pixels, right/bottom exclusive
    #: What the confidence comes from: the model's probability for the label, and the piece
    #: verifier's that the digit's ink is one whole digit (1 without a verifier).
    probability: float = 1.0
    whole: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "confidence": float(self.confidence), "box": [int(v) for v in self.box]}


@dataclass(frozen=True)
class NumberReading:
    """The digits read in an image, left to right, and the number they spell."""

    number: str
    digits: list[DigitReading] = field(default_factory=list)
    #: The (28, 28) model input of each digit, in the same order (for previews, corrections).
    normalized: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """``{"number": "2026", "digits": [{"label", "confidence", "box"}, ...]}`` (JSON-ready)."""
        return {"number": self.number, "digits": [d.as_dict() for d in self.digits]}


@dataclass
class _Cluster:
    """Component labels forming one piece of ink, and its bounding box in ink-map pixels."""

    labels: list[int]
    y0: int
    x0: int
    y1: int  # exclusive
    x1: int  # exclusive

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2.0

    def absorb(self, other: _Cluster) -> None:
        self.labels += other.labels
        self.y0, self.x0 = min(self.y0, other.y0), min(self.x0, other.x0)
        self.y1, self.x1 = max(self.y1, other.y1), max(self.x1, other.x1)


@dataclass
class _Segment:
    """A candidate digit: its ink (cropped, other digits removed) and box in ink-map pixels."""

    crop: np.ndarray
    box: Box
    origin: tuple[int, int]  # (y, x) of ``crop``'s top-left pixel in the ink map
    image: np.ndarray | None = None  # normalized (28, 28), once computed
    probabilities: np.ndarray | None = None  # class probabilities, once classified
    doubt: float = 0.0  # -log top probability (plus aspect cost when cut), once classified
    #: When cut out of a larger piece of ink: how far (x0, x1 exclusive, ink-map pixels) the
    #: digit may reach, the strokes its cuts went through included (overlapping digits share them).
    reach: tuple[float, float] | None = None
    #: Whether it joins two neighbouring clusters across a gap (:func:`_part_readings`).
    joined: bool = False
    #: Stroke widths of ink crossed by the costlier of the cuts bounding it (0 when uncut).
    cut_ink: float = 0.0
    #: The digit it is read as, once classified.
    digit: int | None = None
    #: The piece verifier's probability that it is one whole digit, once classified (1 without a verifier).
    whole: float = 1.0


@dataclass(frozen=True)
class _Line:
    """The measures of a line of digits: digit height and typical digit width, in ink-map pixels."""

    height: float
    typical: float


@dataclass
class _Reading:
    """A way of reading some consecutive clusters: its digits and its shape cost."""

    start: int
    stop: int
    segments: list[_Segment]
    cost: float


@dataclass
class _Lattice:
    """The candidate digits of one cluster, for segmentation by recognition.

    Bounds 0 and ``len(cut_costs) - 1`` are the cluster's left and right ends, the others
    candidate cut paths; ``pieces[(a, b)]`` is the ink between bounds ``a`` and ``b`` with
    its shape cost, and ``cut_costs[a]`` the cost of cutting along bound ``a``.
    """

    index: int
    pieces: dict[tuple[int, int], tuple[float, _Segment]]
    cut_costs: list[float]

    def best(self) -> _Reading | None:
        """The cheapest reading of the cluster (shape, cut and doubt costs) once pieces are classified.

        Neighbouring digits meet at a cut. When one of them is read as a 1, they may instead
        share the ink between two neighbouring cuts (a 1 leaning into its neighbour, its foot
        merged into the neighbour's stem), for ``SHARED_ONE_COST`` and both cuts.
        """
        n = len(self.cut_costs)
        pieces = [(a, b, shape, segment) for (a, b), (shape, segment) in sorted(self.pieces.items())
                  if segment.image is not None]
        starting: dict[int, list[tuple[int, int, float, _Segment]]] = {}
        for piece in pieces:
            starting.setdefault(piece[0], []).append(piece)
        edges = [(a, b, self.cut_costs[a] + shape, [segment]) for a, b, shape, segment in pieces]
        edges += [(a, d, self.cut_costs[a] + shape + self.cut_costs[c] + self.cut_costs[b] + SHARED_ONE_COST + shape2,
                   [segment, segment2])
                  for a, b, shape, segment in pieces for c, d, shape2, segment2 in starting.get(b - 1, ())
                  if a < c and d > b and 1 in (segment.digit, segment2.digit)
                  and _shared_ink(segment, segment2) <= SHARED_ONE_INK]
        back = _cheapest_paths(sorted(((a, b, cost + DOUBT_WEIGHT * sum(s.doubt for s in segments), (cost, segments))
                                       for a, b, cost, segments in edges), key=lambda edge: edge[0]), n)
        if back[-1] is None:
            return None
        segments, cost, b = [], 0.0, n - 1
        while b > 0:
            a, (edge_cost, edge_segments) = back[b]
            segments[:0] = edge_segments
            cost += edge_cost
            b = a
        return _Reading(self.index, self.index + 1, segments, cost)


def read_number(classifier: Any, image: ImageInput) -> NumberReading:
    """Read the number written in ``image`` (PIL image, array, path or bytes).

    ``classifier`` is a :class:`~digitrec.classifier.DigitClassifier` (anything with
    ``predict_proba_normalized`` and ``classes``). Raises :class:`InvalidImageError` when
    the image cannot be opened, has no ink, or holds several lines of digits.
    """
    img = open_image(image)
    return read_ink(classifier, *_number_ink(img), size=img.size)


def several_digits(classifier: Any, image: ImageInput) -> NumberReading | None:
    """The reading of ``image`` as a number when it plainly holds several digits side by
    side, else None.

    For telling someone who sent a whole number where one digit is expected. Cheap for one
    digit: the number is only read when the ink is several digit-sized marks, or one mark
    more than ``WIDE_MARK`` times as wide as tall (digits touching). Digits whose boxes
    overlap by more than ``SIDE_BY_SIDE`` of the narrower one's width are more likely the
    parts of one digit (an open 4 read as 21) than two: then None too.
    """
    img = open_image(image)
    ink = ink_map(img)
    _, clusters = _clusters(scaled_ink(ink, _EMPTY_MESSAGE))
    if len(clusters) < 2 and all(c.width <= WIDE_MARK * c.height for c in clusters):
        return None  # one digit-shaped mark: decided on the whole image's map, cheaply
    try:
        reading = read_ink(classifier, *_number_ink(img, ink), size=img.size)
    except InvalidImageError:  # more marks than a number has, or several lines: not one the reader reads
        return None
    boxes = [d.box for d in reading.digits]
    apart = all(a[2] - b[0] <= SIDE_BY_SIDE * min(a[2] - a[0], b[2] - b[0]) for a, b in zip(boxes, boxes[1:]))
    return reading if len(boxes) > 1 and apart else None


def _number_ink(img: Image.Image, ink: np.ndarray | None = None
                ) -> tuple[np.ndarray, tuple[float, float], tuple[int, int]]:
    """The ink map to read a number from, in image pixels per ink-map pixel (x, y), and the
    image pixel (x, y) at its top-left (``ink``: the whole image's map, if already made).

    The image is mapped at ``WORK_SIZE`` on its longer side, as single digits are. When
    that shrinks it, the part holding the ink (with a margin of ``NUMBER_MARGIN`` of its
    height) is mapped again on its own: a number on a wide strip of paper or in a corner of
    a photo keeps its detail. A crop wider than ``WIDE_NUMBER`` times its height (a long
    number) gets a longer side in proportion, at most ``MAX_WORK_SIZE``, so its digits stay
    as tall as a ``WIDE_NUMBER``-wide one's.
    """
    ink = ink_map(img) if ink is None else ink
    whole = (img.width / ink.shape[1], img.height / ink.shape[0])
    if max(img.size) <= WORK_SIZE:
        return ink, whole, (0, 0)
    scaled = scaled_ink(ink, _EMPTY_MESSAGE)
    rows, cols = np.nonzero(scaled >= ink_level(scaled))
    margin = max(2.0, NUMBER_MARGIN * (rows.max() + 1 - rows.min()))
    box = (max(0, math.floor((cols.min() - margin) * whole[0])), max(0, math.floor((rows.min() - margin) * whole[1])),
           min(img.width, math.ceil((cols.max() + 1 + margin) * whole[0])),
           min(img.height, math.ceil((rows.max() + 1 + margin) * whole[1])))
    width, height = box[2] - box[0], box[3] - box[1]
    work_size = round(min(MAX_WORK_SIZE, WORK_SIZE * max(1.0, width / height / WIDE_NUMBER)))
    if max(width, height) / work_size > RECROP_GAIN * max(img.size) / WORK_SIZE:
        return ink, whole, (0, 0)  # hardly more detail than the whole image's map
    crop = img.crop(box)
    ink = ink_map(crop, work_size)
    return ink, (width / ink.shape[1], height / ink.shape[0]), (box[0], box[1])


def read_ink(classifier: Any, ink: np.ndarray, scale: tuple[float, float] = (1.0, 1.0),
             origin: tuple[int, int] = (0, 0), size: tuple[int, int] | None = None) -> NumberReading:
    """Read the number in an ink map (2-D, 1 = ink); boxes are multiplied by ``scale`` (x, y),
    moved by ``origin`` (x, y) and clipped to ``size`` (width, height) when given."""
    readings, skip_costs, _, _ = _candidates(classifier, scaled_ink(ink, _EMPTY_MESSAGE))
    path = _best_path(readings, skip_costs)
    classes = list(classifier.classes)
    digits, images = [], []
    for segment in (s for r in path for s in r.segments):
        probability = float(np.max(segment.probabilities))
        digits.append(DigitReading(classes[int(np.argmax(segment.probabilities))],
                                   digit_confidence(classifier, probability, segment.whole),
                                   _scaled_box(segment.box, scale, origin, size), probability, segment.whole))
        images.append(segment.image)
    if not digits:
        raise InvalidImageError(_EMPTY_MESSAGE)
    return NumberReading("".join(d.label for d in digits), digits, images)


def digit_confidence(classifier: Any, probability: float, whole: float) -> float:
    """How likely a digit read is right, from the model's ``probability`` for its label and
    the piece verifier's that its ink is one whole digit (``whole``): the logistic map fitted
    with the verifier (``config.json``'s ``piece_verifier.digit_confidence``, see
    :func:`digitrec.piece_verifier.fit_digit_confidence`); without a verifier or map, ``probability``."""
    weights = (classifier.config.get("piece_verifier") or {}).get("digit_confidence")
    if getattr(classifier, "piece_verifier", None) is None or not weights:
        return probability
    (model, verifier), = confidence_logits(np.array([probability]), np.array([whole]))
    return float(expit(weights["intercept"] + weights["model"] * model + weights["verifier"] * verifier))


def confidence_logits(probability: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """The inputs of :func:`digit_confidence`'s map: the logits of the model's and the
    verifier's probabilities (clipped to ``VERIFIER_FLOOR``..1 - ``VERIFIER_FLOOR``), one row per digit."""
    return logit(np.clip(np.column_stack([probability, whole]), VERIFIER_FLOOR, 1 - VERIFIER_FLOOR))


class CandidateDigit(NamedTuple):
    """A candidate digit :func:`read_ink` weighs, classified."""

    crop: np.ndarray  #: its ink: a crop of the ink map scaled to peak 1, other digits' ink removed
    origin: tuple[int, int]  #: the crop's top-left pixel (y, x) in the ink map
    label: str  #: the label the model reads it as
    features: np.ndarray  #: its :data:`PIECE_FEATURES`


def candidate_digits(classifier: Any, ink: np.ndarray) -> list[CandidateDigit]:
    """Every candidate digit :func:`read_ink` weighs in an ink map (2-D, 1 = ink), classified.

    This is what a piece verifier is trained on (:mod:`digitrec.piece_verifier`).
    """
    _, _, segments, line = _candidates(classifier, scaled_ink(ink, _EMPTY_MESSAGE))
    classes = list(classifier.classes)
    return [CandidateDigit(s.crop, s.origin, classes[int(np.argmax(s.probabilities))], _piece_features(s, line))
            for s in segments]


def _piece_features(segment: _Segment, line: _Line) -> np.ndarray:
    """The classified candidate digit's :data:`PIECE_FEATURES`: its digit probabilities' sum
    (below 1 by the not-a-digit probability) and two largest values; its width and height
    in line heights, log width/height, width in typical digit widths, how far it may reach
    (:func:`_reach`) in line heights, whether it was cut out of a larger piece, the ink its
    cuts cross (a touching 1 is cut off across one stroke, a fragment of a loop across
    two), whether it joins two clusters across a gap, and :func:`_shape_cost`."""
    x0, y0, x1, y1 = segment.box
    width, height = x1 - x0, y1 - y0
    first, second = np.sort(segment.probabilities)[::-1][:2]
    reach = segment.reach if segment.reach is not None else (x0, x1)
    return np.array([segment.probabilities.sum(), first, second, width / line.height, height / line.height,
                     math.log(width / height), width / line.typical, (reach[1] - reach[0]) / line.height,
                     float(segment.reach is not None), segment.cut_ink, float(segment.joined),
                     _shape_cost(width, height, line.height, line.typical)])


def _candidates(classifier: Any, ink: np.ndarray) -> tuple[list[_Reading], list[float], list[_Segment], _Line]:
    """The readings of a scaled ink map's clusters to choose from, the cost of leaving each
    cluster unread (:func:`_skip_cost`), every classified candidate digit, and the line's measures."""
    labels, clusters = _clusters(ink)
    if not clusters:
        raise InvalidImageError(_EMPTY_MESSAGE)
    if len(clusters) > MAX_DIGITS:
        raise InvalidImageError(
            f"Too many separate marks ({len(clusters)}) to read as a number; send at most {MAX_DIGITS} digits."
        )
    lines = _line_count(labels > 0)
    if lines > 1:
        raise InvalidImageError(
            f"This image holds {lines} lines of digits; the Number tab reads one line at a time: "
            "crop or draw one line."
        )
    height = _digit_height(clusters)
    line = _Line(height, _typical_width(clusters, height))
    owner = _owner_map(labels)
    regions = [_cluster_ink(c, ink, owner, labels) for c in clusters]
    wholes = [_segment(*region) for region in regions]
    parts = _part_readings(clusters, ink, owner, labels, height, line.typical)
    first = [w for w in wholes if w is not None] + [s for r in parts for s in r.segments]
    _classify(classifier, first, line)
    lattices = [_lattice(i, c, w, region, height, line.typical)
                for i, (c, w, region) in enumerate(zip(clusters, wholes, regions))]
    pieces = [s for lat in lattices for _, s in lat.pieces.values() if s.probabilities is None]
    _classify(classifier, pieces, line)
    readings = [r for r in (lat.best() for lat in lattices) if r is not None] + parts
    skip_costs = [_skip_cost(c, height) for c in clusters]
    return readings, skip_costs, [s for s in first + pieces if s.probabilities is not None], line


def _skip_cost(cluster: _Cluster, line: float) -> float:
    """The cost of leaving a cluster unread: ``STRAY_COST`` for a mark shorter than
    ``STRAY_HEIGHT`` line heights (a stroke's broken-off tail, a speck of dirt), else
    ``UNREADABLE_COST``."""
    return STRAY_COST if cluster.height < STRAY_HEIGHT * line else UNREADABLE_COST


# -- components ---------------------------------------------------------------------------------


def _clusters(ink: np.ndarray) -> tuple[np.ndarray, list[_Cluster]]:
    """Component labels, and the clusters (components merged per digit) left to right."""
    mask = ink >= ink_level(ink)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return labels, []
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    slices = ndimage.find_objects(labels)
    keep = [k for k in range(n) if areas[k] >= max(2, SPECK_AREA * areas.max())]
    if len(keep) < n:  # drop specks from the label image too
        labels = np.where(np.isin(labels, np.asarray(keep) + 1), labels, 0)
    clusters = [
        _Cluster([k + 1], slices[k][0].start, slices[k][1].start, slices[k][0].stop, slices[k][1].stop)
        for k in keep
    ]
    line = _digit_height(clusters)
    merged = True
    while merged:  # merge until no two clusters overlap strongly (merging widens extents)
        merged = False
        clusters.sort(key=lambda c: c.x0)
        for i in range(len(clusters)):
            for j in range(i + 1, len(clusters)):
                if clusters[j].x0 >= clusters[i].x1:
                    break
                if _one_digit(clusters[i], clusters[j], line):
                    clusters[i].absorb(clusters.pop(j))
                    merged = True
                    break
            if merged:
                break
    line = _digit_height(clusters)
    # flat pieces (the detached bar of a 5, a stroke's loose end) join the digit they lie on
    flat = [c for c in clusters if c.height < FLAT * line]
    rest = [c for c in clusters if c.height >= FLAT * line]
    for piece in flat:
        host = _host(piece, rest, line)
        if host is not None:
            host.absorb(piece)
        elif max(piece.height, piece.width) >= SMALL_PIECE * line:
            rest.append(piece)
    clusters = [c for c in rest if max(c.height, c.width) >= SMALL_PIECE * line or c.height >= 0.5 * line]
    clusters.sort(key=lambda c: c.cx)
    return labels, clusters


def _line_count(mask: np.ndarray) -> int:
    """How many lines of digits the ink (2-D bool, specks removed) forms, one under another.

    The projection-profile split of document analysis: rows holding ink form bands between
    blank rows. Bands shorter than ``LINE_HEIGHT`` of the tallest are marks above or below a
    line (a dot, the detached bar of a 5, an underline), not lines. From the top down, a band
    starts a new line when a real gap parts it from the line above and the two are stacked
    (:func:`_separate_lines`), not the steps of a number written at a slope; otherwise it
    belongs to that line (a digit broken in two, a slanted number).
    """
    runs, _ = ndimage.label(mask.any(axis=1))
    bands: list[Box] = []  # (left, top, right, bottom) of each band
    for rows, in ndimage.find_objects(runs):
        cols = np.flatnonzero(mask[rows].any(axis=0))
        bands.append((int(cols[0]), rows.start, int(cols[-1]) + 1, rows.stop))
    tallest = max((y1 - y0 for _, y0, _, y1 in bands), default=0)
    lines, line = 0, None  # the lines so far, and the lowest one's box
    for band in (b for b in bands if b[3] - b[1] >= LINE_HEIGHT * tallest):
        if line is None or _separate_lines(line, band):
            lines, line = lines + 1, band
        else:
            line = (min(line[0], band[0]), line[1], max(line[2], band[2]), band[3])
    return lines


def _separate_lines(upper: Box, lower: Box) -> bool:
    """Whether two bands of ink, ``lower`` below ``upper``, are two lines of digits: at least
    ``LINE_GAP`` of the shorter one's height of blank rows between them, and stacked
    (overlapping horizontally by at least ``LINE_OVERLAP`` of the narrower one's width)."""
    gap = lower[1] - upper[3]
    shorter = min(upper[3] - upper[1], lower[3] - lower[1])
    overlap = min(upper[2], lower[2]) - max(upper[0], lower[0])
    narrower = min(upper[2] - upper[0], lower[2] - lower[0])
    return gap >= LINE_GAP * shorter and overlap >= LINE_OVERLAP * narrower


def _one_digit(a: _Cluster, b: _Cluster, line: float) -> bool:
    """Whether two clusters overlap horizontally enough to be parts of one digit."""
    narrow, wide = (a, b) if a.width <= b.width else (b, a)
    overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
    if overlap < MERGE_OVERLAP * narrow.width:
        return False
    if min(a.height, b.height) >= TALL * line and overlap < NESTED * wide.width:
        return False  # two full-height marks overlapping at their edges: slanted neighbours
    return True


def _host(piece: _Cluster, clusters: list[_Cluster], line: float) -> _Cluster | None:
    """The cluster a flat piece belongs to: the one it overlaps most horizontally, or the nearest."""
    best, best_overlap = None, -PART_GAP * line
    for c in clusters:
        overlap = min(piece.x1, c.x1) - max(piece.x0, c.x0)  # negative: a gap
        vertical_gap = max(c.y0 - piece.y1, piece.y0 - c.y1, 0)
        if vertical_gap <= 0.3 * line and overlap > best_overlap:
            best, best_overlap = c, overlap
    return best


def _digit_height(clusters: list[_Cluster]) -> float:
    """Typical digit height of the line: median height of the clusters at least half the tallest."""
    if not clusters:
        return 1.0
    tallest = max(c.height for c in clusters)
    return float(np.median([c.height for c in clusters if c.height >= 0.5 * tallest]))


def _owner_map(labels: np.ndarray) -> np.ndarray:
    """Each pixel's nearest component label (within 2 pixels), so anti-aliased edges go along."""
    distance, (iy, ix) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    owner = labels[iy, ix]
    owner[distance > 2.0] = 0
    return owner


# -- candidate readings ---------------------------------------------------------------------------


def _typical_width(clusters: list[_Cluster], line: float) -> float:
    """Median width of the line's clusters that look like single digits, in pixels."""
    low, default, high = TYPICAL_WIDTH
    singles = [c.width for c in clusters if c.width <= 1.1 * max(line, c.height) and c.height >= 0.6 * line]
    if len(singles) < 2:
        return default * line
    return float(np.clip(np.median(singles), low * line, high * line))


def _shape_cost(width: float, height: float, line: float, typical: float) -> float:
    """How unlike one digit a box of this size is (``DIGIT_COST`` for ordinary digits).

    Wide digits are squashed (their height shrinks), so width is judged against the line
    height (or the box's own height when taller) and the line's typical digit width, not
    against the box's height.
    """
    cost = DIGIT_COST
    relative = width / max(height, line, 1.0)
    if relative > MAX_ASPECT:
        cost += ((relative - MAX_ASPECT) / ASPECT_SCALE) ** 2
    if width > MAX_WIDTH * typical:
        cost += ((width / typical - MAX_WIDTH) / WIDTH_SCALE) ** 2
    if width < MIN_WIDTH * line:
        cost += min(10.0, ((MIN_WIDTH * line - width) / (0.04 * line)) ** 2)
    if height < MIN_HEIGHT * line:
        cost += min(10.0, ((MIN_HEIGHT * line - height) / (0.1 * line)) ** 2)
    return cost


def _region(cluster: _Cluster, ink: np.ndarray, pad: int = 2) -> tuple[slice, slice]:
    return (slice(max(0, cluster.y0 - pad), min(ink.shape[0], cluster.y1 + pad)),
            slice(max(0, cluster.x0 - pad), min(ink.shape[1], cluster.x1 + pad)))


def _segment(ink: np.ndarray, own: np.ndarray, core: np.ndarray, origin: tuple[int, int]) -> _Segment | None:
    """The segment of ``ink`` (a region at ``origin`` (y, x)) covered by ``own``; None if no core ink."""
    if not core.any():
        return None
    rows, cols = np.nonzero(core)
    y0, x0 = origin
    box = (x0 + int(cols.min()), y0 + int(rows.min()), x0 + int(cols.max()) + 1, y0 + int(rows.max()) + 1)
    return _Segment(np.where(own, ink, 0.0).astype(np.float32), box, origin)


def _cluster_ink(cluster: _Cluster, ink: np.ndarray, owner: np.ndarray,
                 labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """A cluster's region of the ink map: its ink (other clusters removed), the pixels it
    owns (:func:`_owner_map`), its thresholded core, and the region's origin (y, x)."""
    rows, cols = _region(cluster, ink)
    own = np.isin(owner[rows, cols], cluster.labels)
    core = np.isin(labels[rows, cols], cluster.labels)
    return np.where(own, ink[rows, cols], 0.0), own, core, (rows.start, cols.start)


def _lattice(index: int, cluster: _Cluster, whole: _Segment | None,
             region: tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]],
             line: float, typical: float) -> _Lattice:
    """The candidate digits of one cluster: the whole (already classified), and the pieces
    between candidate cuts of its ``region`` (:func:`_cluster_ink`)."""
    whole_cost = _shape_cost(cluster.width, cluster.height, line, typical)
    lattice = _Lattice(index, {} if whole is None else {(0, 1): (whole_cost, whole)}, [0.0, 0.0])
    if whole is None:
        return lattice
    region_ink, own, core, origin = region
    paths, costs = _cut_paths(region_ink, core, line)
    bonuses = [_between_digits(core, path, c, line) for path, c in zip(paths, costs)]
    loops = _loop_costs(core, paths, line)
    if whole_cost <= DIGIT_COST and whole.image is not None and whole.doubt <= ONE_DIGIT_DOUBT:
        # as wide as one digit may be, and read as one: split only where two full-height digits touch
        kept = [k for k, bonus in enumerate(bonuses) if bonus > 0]
        paths, costs, bonuses, loops = ([seq[k] for k in kept] for seq in (paths, costs, bonuses, loops))
    if not paths:
        return lattice
    h, w = core.shape
    xs = np.arange(w)[None, :]
    bounds = [np.full(h, -1), *paths, np.full(h, w)]
    runs = _runs(core)
    n = len(bounds)
    lattice.pieces = {(0, n - 1): (whole_cost, whole)}
    lattice.cut_costs = [0.0, *(CUT_COST * c - bonus + loop for c, bonus, loop in zip(costs, bonuses, loops)), 0.0]
    for a in range(n - 1):
        for b in range(a + 1, n):
            if (a, b) == (0, n - 1):
                continue
            keep = (xs >= bounds[a][:, None]) & (xs < bounds[b][:, None])
            piece_core = core & keep
            if not piece_core.any():
                continue
            r, c = np.nonzero(piece_core)
            shape = _shape_cost(int(c.max() - c.min() + 1), int(r.max() - r.min() + 1), line, typical)
            if shape <= MAX_PIECE_COST:
                piece = _segment(region_ink * keep, own & keep, piece_core, origin)
                x0, x1 = _reach(core, runs, bounds[a], bounds[b], int(c.min()), int(c.max()) + 1, REACH * line)
                piece.reach = (origin[1] + x0, origin[1] + x1)
                piece.cut_ink = max(costs[k - 1] for k in (a, b) if 0 < k < n - 1)
                lattice.pieces[(a, b)] = (shape, piece)
    return lattice


def _runs(core: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each pixel, where its row's run of ink starts, and where it stops (exclusive)."""
    h, w = core.shape
    xs = np.broadcast_to(np.arange(w), core.shape)
    before = np.concatenate([np.zeros((h, 1), bool), core[:, :-1]], axis=1)
    after = np.concatenate([core[:, 1:], np.zeros((h, 1), bool)], axis=1)
    start = np.maximum.accumulate(np.where(core & ~before, xs, 0), axis=1)
    stop = np.minimum.accumulate(np.where(core & ~after, xs + 1, w)[:, ::-1], axis=1)[:, ::-1]
    return start, stop


def _reach(core: np.ndarray, runs: tuple[np.ndarray, np.ndarray], left: np.ndarray, right: np.ndarray,
           x0: int, x1: int, overhang: float) -> tuple[float, float]:
    """How far the ink between cut paths ``left`` and ``right`` (spanning ``x0:x1``) reaches
    when the strokes the cuts go through are followed to their ends (``runs``: :func:`_runs`),
    at most ``overhang`` pixels beyond ``x0:x1`` on each side."""
    w = core.shape[1]
    rows = np.arange(core.shape[0])

    def crossed(path: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: the pixel left of ``path``, the pixel on it, and whether the path cuts ink there."""
        before, at = np.clip(path - 1, 0, w - 1), np.clip(path, 0, w - 1)
        return before, at, (path > 0) & (path < w) & core[rows, before] & core[rows, at]

    before, _, through = crossed(left)
    start = max(x0 - overhang, min([x0, *runs[0][rows, before][through]]))
    _, at, through = crossed(right)
    return start, min(x1 + overhang, max([x1, *runs[1][rows, at][through]]))


def _between_digits(core: np.ndarray, path: np.ndarray, cost: float, line: float) -> float:
    """``BETWEEN_BONUS`` if a cut looks like the contact between two touching digits, else 0.

    That is a cheap cut (at most ``BETWEEN_STROKES`` strokes crossed) with ink reaching
    nearly the full height of the cluster right next to it on both sides (two full-height
    digits side by side); cuts through one digit cross two or more strokes (a 0, an 8) or
    leave a short part on one side (the bar of a 4 or a 7, the loop of a 9).
    """
    if cost > BETWEEN_STROKES:
        return 0.0
    rows_with_ink = np.flatnonzero(core.any(axis=1))
    full = rows_with_ink.max() - rows_with_ink.min() + 1
    reach = max(2, int(round(BETWEEN_WINDOW * line)))
    xs = np.arange(core.shape[1])[None, :]
    cut = path[:, None]
    for side in ((xs >= cut - reach) & (xs < cut), (xs >= cut) & (xs < cut + reach)):
        rows = np.flatnonzero((core & side).any(axis=1))
        if len(rows) == 0 or rows.max() - rows.min() + 1 < BETWEEN_HEIGHT * full:
            return 0.0
    return BETWEEN_BONUS


def _loop_costs(core: np.ndarray, paths: list[np.ndarray], line: float) -> list[float]:
    """``LOOP_COST`` for each cut that splits a loop (a hole in the ink) in two, else 0.

    A hole with at least ``LOOP_AREA`` square line heights on both sides of the cut is the
    loop of one digit (a 0, 6, 8, 9), which a cut between two digits does not cross; the
    small holes where the strokes of overlapping digits cross stay cheap to cut.
    """
    holes, n = ndimage.label(ndimage.binary_fill_holes(core) & ~core)
    if n == 0:
        return [0.0] * len(paths)
    xs = np.arange(core.shape[1])[None, :]
    least = LOOP_AREA * line * line
    costs = []
    for path in paths:
        left = xs < path[:, None]
        on_left = np.bincount(holes[left], minlength=n + 1)[1:]
        on_right = np.bincount(holes[~left], minlength=n + 1)[1:]
        costs.append(LOOP_COST if np.any(np.minimum(on_left, on_right) >= least) else 0.0)
    return costs


def _cut_paths(intensity: np.ndarray, core: np.ndarray, line: float) -> tuple[list[np.ndarray], list[float]]:
    """Top-to-bottom cut paths through a cluster, left to right: those crossing little ink
    (:func:`_cheapest_cuts`), and seams.

    A seam is where two strokes run side by side merged into one band of ink (a 1 drawn
    against the left side of a 0, or of a 9's loop): no path gets between them without
    running along the band. So cuts are also sought with the middle of bands at least
    ``SEAM_WIDTH`` strokes wide costing ``SEAM_WEIGHT`` of its ink, and kept when they run
    along such a middle for at least ``SEAM_LENGTH`` line heights; their cost is the
    lowered one.
    """
    stroke = max(1.0, float(core.sum()) / max(1, int(skeletonize(core).sum())))
    paths, costs = _cheapest_cuts(intensity, core, line, stroke)
    depth = ndimage.distance_transform_edt(core)
    middle = core & (depth >= SEAM_WIDTH * stroke / 2) & (depth >= ndimage.maximum_filter1d(depth, 3, axis=1))
    if not paths or not middle.any():
        return paths, costs
    middle = ndimage.binary_dilation(middle, structure=np.array([[0, 0, 0], [1, 1, 1], [0, 0, 0]], bool)) & core
    cuts = list(zip(paths, costs))
    rows = np.arange(core.shape[0])
    for path, cost in zip(*_cheapest_cuts(np.where(middle, SEAM_WEIGHT * intensity, intensity), core, line, stroke)):
        along = int(middle[rows, np.clip(path, 0, core.shape[1] - 1)].sum())
        if along >= SEAM_LENGTH * line and not any(
                abs(path.mean() - other.mean()) < 1.0 and np.abs(path - other).max() <= 2 for other, _ in cuts):
            cuts.append((path, cost))
    cuts.sort(key=lambda cut: cut[0].mean())
    return [path for path, _ in cuts], [cost for _, cost in cuts]


def _cheapest_cuts(weight: np.ndarray, core: np.ndarray, line: float,
                   stroke: float) -> tuple[list[np.ndarray], list[float]]:
    """Top-to-bottom paths through a cluster crossing little ``weight`` (its ink), left to right.

    Returns the paths (for each row, the first column right of the cut) and their costs
    in stroke widths of ink crossed. One path per local minimum of cost along the
    cluster, at most ``MAX_CUTS``, none within ``MIN_WIDTH`` line heights of the ink's ends.
    """
    h, w = weight.shape
    cols_with_ink = np.flatnonzero(core.any(axis=0))
    margin = max(1, int(round(MIN_WIDTH * line)))
    lo, hi = cols_with_ink.min() + margin, cols_with_ink.max() + 1 - margin
    if hi <= lo:
        return [], []
    r = max(1, int(round(PATH_WANDER * line)))
    offsets = np.arange(-r, r + 1)
    centres = np.arange(lo, hi)
    columns = centres[:, None] + offsets[None, :]
    valid = (columns >= 0) & (columns < w)
    columns = np.clip(columns, 0, w - 1)
    drift = 0.02 * np.abs(offsets)[None, :]
    weight = weight.astype(np.float64)
    big = 1e6
    total = np.where(valid, weight[0][columns], big) + drift
    back = np.zeros((h, len(centres), len(offsets)), dtype=np.int8)
    for y in range(1, h):
        stay = total
        from_left = np.concatenate([np.full((len(centres), 1), big), total[:, :-1]], axis=1) + 0.05
        from_right = np.concatenate([total[:, 1:], np.full((len(centres), 1), big)], axis=1) + 0.05
        options = np.stack([from_left, stay, from_right])
        choice = options.argmin(axis=0)
        total = options.min(axis=0) + np.where(valid, weight[y][columns], big) + drift
        back[y] = choice - 1
    end = total.argmin(axis=1)
    cost = total[np.arange(len(centres)), end] / stroke
    paths = []
    for i in range(len(centres)):
        d = int(end[i])
        path = np.empty(h, dtype=int)
        for y in range(h - 1, -1, -1):
            path[y] = centres[i] + offsets[d]
            d += int(back[y, i, d]) if y else 0
        paths.append(path)
    # local minima of the cost along the cluster, cheapest first, distinct positions
    order = sorted(range(len(centres)), key=lambda i: cost[i])
    minima = [i for i in order
              if (i == 0 or cost[i] <= cost[i - 1]) and (i == len(centres) - 1 or cost[i] <= cost[i + 1])]
    chosen: list[int] = []
    positions: list[float] = []
    spacing = max(1.0, 0.08 * line)
    for i in minima + order:
        pos = float(paths[i].mean())
        if all(abs(pos - q) >= spacing for q in positions):
            chosen.append(i)
            positions.append(pos)
        if len(chosen) >= MAX_CUTS:
            break
    chosen.sort(key=lambda i: paths[i].mean())
    return [paths[i] for i in chosen], [float(cost[i]) for i in chosen]


def _part_readings(clusters: list[_Cluster], ink: np.ndarray, owner: np.ndarray, labels: np.ndarray,
                   line: float, typical: float) -> list[_Reading]:
    """Neighbouring clusters that may be one digit with a gap (a short piece beside a taller one)."""
    readings = []
    for i in range(len(clusters) - 1):
        a, b = clusters[i], clusters[i + 1]
        short, tall = (a, b) if a.height <= b.height else (b, a)
        gap = max(b.x0 - a.x1, 0)
        x0, x1 = min(a.x0, b.x0), max(a.x1, b.x1)
        y0, y1 = min(a.y0, b.y0), max(a.y1, b.y1)
        if (short.height > PART_HEIGHT * tall.height or gap > PART_GAP * line
                or x1 - x0 > MAX_WIDTH * typical or y1 - y0 > 1.2 * tall.height):
            continue
        segment = _segment(*_cluster_ink(_Cluster(a.labels + b.labels, y0, x0, y1, x1), ink, owner, labels))
        segment.joined = True
        cost = _shape_cost(x1 - x0, y1 - y0, line, typical) + 0.4 * gap / (PART_GAP * line)
        readings.append(_Reading(i, i + 2, [segment], cost))
    return readings


def _classify(classifier: Any, segments: list[_Segment], line: _Line) -> None:
    """Normalize and classify all candidate digits in one model call, and set their doubt
    (with the classifier's ``piece_verifier``'s, if it has one)."""
    usable = []
    for segment in segments:
        try:
            segment.image = mnist_from_ink(segment.crop)
            usable.append(segment)
        except InvalidImageError:
            segment.image = None
    if not usable:
        return
    probabilities = np.asarray(classifier.predict_proba_normalized(np.stack([s.image for s in usable])), dtype=float)
    digits = [int(c) for c in classifier.classes]
    for segment, p in zip(usable, probabilities):
        segment.probabilities = p
        best = int(np.argmax(p))
        segment.digit = digits[best]
        segment.doubt = -math.log(max(float(p[best]), 1e-9))
        if segment.reach is not None:
            segment.doubt += _aspect_cost(segment.digit, segment.box, segment.reach)
    verifier = getattr(classifier, "piece_verifier", None)
    if verifier is not None:
        whole = verifier.predict_proba(np.stack([_piece_features(s, line) for s in usable]))[:, 1]
        for segment, q in zip(usable, whole):
            segment.whole = float(q)
            segment.doubt -= VERIFIER_WEIGHT * math.log(max(segment.whole, VERIFIER_FLOOR))


def _shared_ink(a: _Segment, b: _Segment) -> float:
    """The share of the smaller one's ink two pieces of one cluster both hold."""
    ink_a, ink_b = a.crop >= 0.5, b.crop >= 0.5
    return float((ink_a & ink_b).sum()) / max(1, min(int(ink_a.sum()), int(ink_b.sum())))


def _aspect_cost(digit: int, box: Box, reach: tuple[float, float]) -> float:
    """How unlike ``digit``'s usual width-to-height ratio the ink in ``box`` is, its width
    taken anywhere between the box's and the ``reach``'s (the cut strokes included)."""
    mean, spread = DIGIT_ASPECT[digit]
    x0, y0, x1, y1 = box
    narrowest, widest = math.log((x1 - x0) / (y1 - y0)), math.log((reach[1] - reach[0]) / (y1 - y0))
    z = (min(max(mean, narrowest), widest) - mean) / spread
    return min(ASPECT_CAP, ASPECT_WEIGHT * z * z)


def _best_path(readings: list[_Reading], skip_costs: list[float]) -> list[_Reading]:
    """The readings covering all clusters left to right with the least total cost.

    A cluster may also be skipped, at its ``skip_costs`` entry: a short stray mark when
    reading it as a digit costs more, any other cluster only when no candidate could read
    it (no usable ink), so that it drops out instead of cutting off everything to its right.
    """
    n_clusters = len(skip_costs)
    edges: list[tuple[int, int, float, _Reading | None]] = [
        (r.start, r.stop, r.cost + DOUBT_WEIGHT * sum(s.doubt for s in r.segments), r)
        for r in readings if all(s.image is not None for s in r.segments)]
    edges += [(i, i + 1, cost, None) for i, cost in enumerate(skip_costs)]
    back = _cheapest_paths(sorted(edges, key=lambda edge: edge[0]), n_clusters + 1)
    path: list[_Reading] = []
    node = n_clusters
    while node > 0:
        node, reading = back[node]
        if reading is not None:
            path.append(reading)
    return path[::-1]


def _cheapest_paths(edges: list[tuple[int, int, float, T]], n_nodes: int) -> list[tuple[int, T] | None]:
    """Least-cost paths from node 0 over edges ``(start, stop, cost, payload)`` with start < stop.

    ``edges`` come in order of ``start`` (ties: the first edge found wins). Returns, for each
    node, the previous node and the payload of the last edge of its cheapest path, or None
    when no path reaches it.
    """
    score = [0.0] + [math.inf] * (n_nodes - 1)
    back: list[tuple[int, T] | None] = [None] * n_nodes
    for start, stop, cost, payload in edges:
        if score[start] + cost < score[stop]:
            score[stop], back[stop] = score[start] + cost, (start, payload)
    return back


def _scaled_box(box: Box, scale: tuple[float, float], origin: tuple[int, int], size: tuple[int, int] | None) -> Box:
    (sx, sy), (ox, oy) = scale, origin
    x0, y0, x1, y1 = box
    out = [ox + int(math.floor(x0 * sx)), oy + int(math.floor(y0 * sy)),
           ox + int(math.ceil(x1 * sx)), oy + int(math.ceil(y1 * sy))]
    if size is not None:
        out = [min(max(v, 0), size[i % 2]) for i, v in enumerate(out)]
    return tuple(out)  # type: ignore[return-value]


# -- drawing -----------------------------------------------------------------------------------


def draw_boxes(image: ImageInput, reading: NumberReading) -> Image.Image:
    """A copy of ``image`` (RGB, transparency on white) with each digit's box drawn on it,
    under a band holding each digit's label and confidence above its box.

    Labels go in the band, not on the image, so they never hide ink (a number drawn edge to
    edge on the sketchpad leaves no room above its digits); a label that would overlap its
    left neighbour's goes one row up, and one wider than the room right of its box's left
    edge ends at the image's right edge.
    """
    img = open_image(image)
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        base = Image.new("RGBA", img.size, (255, 255, 255, 255))
        base.alpha_composite(img.convert("RGBA"))
        img = base
    img = img.convert("RGB")
    line = max(1, round(max(img.size) / 200))
    heights = [d.box[3] - d.box[1] for d in reading.digits]
    font = _font(max(10, int(0.3 * (np.median(heights) if heights else 20))))
    measure = ImageDraw.Draw(img)
    labels, row_ends = [], []  # (text, text box, row) per digit; where each row's last label ends
    for digit in reading.digits:
        text = f"{digit.label} {digit.confidence:.0%}"
        left, top, right, bottom = measure.textbbox((0, 0), text, font=font)
        x0 = max(0, min(digit.box[0], img.width - 1 - (right - left + 2)))
        x1 = x0 + right - left + 2
        row = next((r for r, end in enumerate(row_ends) if end + line < x0), len(row_ends))
        row_ends[row:row + 1] = [x1]
        labels.append((text, (left, top, right, bottom), row, x0))
    text_h = max((b[3] - b[1] + 2 for _, b, _, _ in labels), default=0)
    band = len(row_ends) * (text_h + line) + line
    out = Image.new("RGB", (img.width, img.height + band), (255, 255, 255))
    out.paste(img, (0, band))
    draw = ImageDraw.Draw(out)
    for digit, (text, (left, top, right, _), row, tx) in zip(reading.digits, labels):
        colour = (0, 150, 60) if digit.confidence >= 0.5 else (220, 60, 30)
        x0, y0, x1, y1 = digit.box
        draw.rectangle([x0, band + y0, max(x0, x1 - 1), band + max(y0, y1 - 1)], outline=colour, width=line)
        ty = band - (row + 1) * (text_h + line)
        draw.rectangle([tx, ty, tx + right - left + 2, ty + text_h], fill=colour)
        draw.text((tx + 1 - left, ty + 1 - top), text, fill=(255, 255, 255), font=font)
    return out


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size default font
        return ImageFont.load_default()
