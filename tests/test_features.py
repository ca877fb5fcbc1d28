"""Custom transformers follow the scikit-learn estimator API and do what they claim."""

import numpy as np
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
