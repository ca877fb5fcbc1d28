"""Make the example digits and numbers the app offers: a few MNIST test digits redrawn larger.

Each digit is a digit of the official MNIST test split, enlarged 8x with smooth
interpolation and inverted to dark ink on white paper, like a scan of a handwritten digit.
Each number is written with MNIST test digits side by side
(:func:`digitrec.synthetic.compose_number`, a few pixels apart, enlarged 4x), and checked
to be read right by the bundled model. Only these few redrawn images live in the
repository, never the data set itself.

    python examples/make_examples.py [path/to/mnist.npz]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script from anywhere

from digitrec import load_model  # noqa: E402
from digitrec.segment import read_number  # noqa: E402
from digitrec.synthetic import compose_number  # noqa: E402

DEFAULT_MNIST = HERE.parent.parent / "shared" / "data" / "mnist.npz"
#: (MNIST test index, label): clear, typical digits of six different classes.
CHOSEN = [(3, 0), (1, 2), (4, 4), (15, 5), (0, 7), (7, 9)]
SCALE = 8
#: Example numbers (a year, a ZIP code), each written with MNIST test digits: the first ones
#: of each label after those of ``CHOSEN``.
NUMBERS = ("2026", "90210")


def redraw(digit: np.ndarray) -> Image.Image:
    """A 28x28 MNIST digit (0 = background) as dark ink on white, SCALE times larger."""
    big = Image.fromarray(digit).resize((28 * SCALE, 28 * SCALE), Image.Resampling.BICUBIC)
    return Image.fromarray(255 - np.asarray(big))


def main(mnist: Path = DEFAULT_MNIST) -> None:
    with np.load(mnist) as data:
        x_test, y_test = data["x_test"], data["y_test"]
    for index, label in CHOSEN:
        if int(y_test[index]) != label:
            raise SystemExit(f"MNIST test image {index} is a {y_test[index]}, expected {label}")
        path = HERE / f"digit_{label}.png"
        redraw(x_test[index]).save(path, optimize=True)
        print(f"{path.name}: MNIST test #{index}")
    classifier = load_model()
    used = {index for index, _ in CHOSEN}
    for number in NUMBERS:
        indices = []
        for label in number:
            index = next(i for i in range(len(y_test)) if int(y_test[i]) == int(label) and i not in used)
            used.add(index)
            indices.append(index)
        image, _ = compose_number(list(x_test[indices]), 0, gap=(3, 6), upscale=4)
        reading = read_number(classifier, image).number
        if reading != number:
            raise SystemExit(f"the bundled model reads the example {number} as {reading}")
        path = HERE / f"number_{number}.png"
        image.save(path, optimize=True)
        print(f"{path.name}: MNIST test #{', #'.join(map(str, indices))}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MNIST)
