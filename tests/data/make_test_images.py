"""Make the images the app tests send: real MNIST test digits drawn the ways users send them.

    python tests/data/make_test_images.py [path/to/mnist.npz]

Writes, next to this script:

* ``sketch_7.png`` — MNIST test #17 (a 7) as black brush strokes on a transparent
  400x400 canvas, the way the browser's sketchpad exports a drawing;
* ``ink_3.png`` — MNIST test #18 (a 3), black on white, 280x280 (a scan);
* ``ink_4.jpg`` — MNIST test #6 (a 4), white on black, 280x280 JPEG (a chalkboard photo);
* ``empty_canvas.png`` — a 400x400 fully transparent canvas (nothing drawn);
* ``not_an_image.png`` — a text file with an image's name;
* ``truncated.png`` — the first half of a valid PNG;
* ``huge.png`` — a blank 8000x8000 1-bit PNG (64 megapixels, a few kB), over the pixel limit.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
DEFAULT_MNIST = HERE.parent.parent.parent / "shared" / "data" / "mnist.npz"


def enlarged(digit: np.ndarray, size: int) -> np.ndarray:
    """A 28x28 digit (255 = ink) resized smoothly to size x size, uint8."""
    return np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC))


def main(mnist: Path = DEFAULT_MNIST) -> None:
    with np.load(mnist) as data:
        x_test, y_test = data["x_test"], data["y_test"]
    assert (y_test[17], y_test[18], y_test[6]) == (7, 3, 4)

    # Brush strokes: opaque black where the enlarged digit has ink, transparent elsewhere.
    ink = enlarged(x_test[17], 340)
    alpha = np.where(ink >= 96, 255, 0).astype(np.uint8)
    sketch = np.zeros((400, 400, 4), dtype=np.uint8)
    sketch[30:370, 30:370, 3] = alpha
    Image.fromarray(sketch, "RGBA").save(HERE / "sketch_7.png", optimize=True)

    Image.fromarray(255 - enlarged(x_test[18], 280)).save(HERE / "ink_3.png", optimize=True)
    Image.fromarray(enlarged(x_test[6], 280)).convert("RGB").save(HERE / "ink_4.jpg", quality=85)
    Image.new("RGBA", (400, 400), (0, 0, 0, 0)).save(HERE / "empty_canvas.png", optimize=True)

    (HERE / "not_an_image.png").write_text("This is a text file, not a picture of a digit.\n")
    buffer = io.BytesIO()
    Image.fromarray(255 - enlarged(x_test[18], 280)).save(buffer, format="PNG")
    (HERE / "truncated.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    Image.new("1", (8000, 8000), 1).save(HERE / "huge.png", optimize=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MNIST)
