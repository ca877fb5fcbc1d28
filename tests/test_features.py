"""Custom transformers follow the scikit-learn estimator API and do what they claim."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.feature import hog
from sklearn.datasets import load_digits
from sklearn.utils.estimator_checks import parametrize_with_checks

from digitrec.features import HOG, Deskew


@parametrize_with_checks([Deskew(), HOG()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_deskew_straightens_a_slanted_stroke():
    image = np.zeros((28, 28), np.float32)
    for row in range(4, 24):  # a "1" leaning right by half a column per row
        image[row, int(8 + row * 0.5): int(8 + row * 0.5) + 2] = 1.0
    out = Deskew().fit_transform(image.reshape(1, -1)).reshape(28, 28)
    cols = [np.average(np.arange(28), weights=out[r]) for r in range(6, 22) if out[r].sum() > 0]
    assert np.ptp(cols) < 1.5  # upright: the stroke's column barely moves from top to bottom
    assert abs(out.sum() - image.sum()) / image.sum() < 0.05


def _skimage_hog(image: np.ndarray) -> np.ndarray:
    return hog(image, orientations=9, pixels_per_cell=(4, 4), cells_per_block=(2, 2), block_norm="L2-Hys",
               feature_vector=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hog_is_scikit_images_on_real_digits(dtype):
    """The batched HOG gives scikit-image's descriptor, digit by digit, up to float32 rounding.

    (scikit-image sums each cell in single or double precision depending on its version.)
    """
    digits = load_digits().images[:300] / 16.0
    images = np.stack([np.kron(d, np.ones((3, 3))) for d in digits]).astype(dtype)  # 24x24 handwriting
    blurred = ndimage.gaussian_filter(images, (0, 0.8, 0.8))  # smooth gradients: every orientation bin
    for batch in (images, blurred):
        ours = HOG().fit_transform(batch.reshape(len(batch), -1))
        assert ours.dtype == dtype
        expected = np.stack([_skimage_hog(image) for image in batch])
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("side", [28, 13, 30, 8])
def test_hog_is_scikit_images_on_any_size(side):
    """Sides that are not whole cells: scikit-image leaves the last partial cell out, and so do we."""
    images = np.random.default_rng(0).random((6, side, side)).astype(np.float32)
    ours = HOG().fit_transform(images.reshape(6, -1))
    np.testing.assert_allclose(ours, np.stack([_skimage_hog(image) for image in images]), rtol=0, atol=1e-6)


def test_hog_in_chunks_and_processes_is_the_same_as_at_once():
    images = ndimage.gaussian_filter(np.random.default_rng(1).random((50, 28, 28)), (0, 1, 1)).reshape(50, -1)
    at_once = HOG().fit_transform(images)
    chunked = HOG(n_jobs=2).fit(images)
    chunked.CHUNK = 8
    np.testing.assert_array_equal(chunked.transform(images), at_once)
