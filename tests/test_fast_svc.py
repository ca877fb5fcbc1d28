"""The matrix-product SVC gives libsvm's decision values and votes, and the served model uses it."""

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from digitrec import fast_svc
from digitrec.fast_svc import MatrixSVC, with_fast_svc


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 15.0  # not k/16: sums of those are exact in float32 too, and would hide its rounding
    return X[:1200], y[:1200], X[1200:]


@pytest.mark.parametrize("shape", ["ovr", "ovo"])
def test_decision_values_match_libsvm(digits, shape):
    X, y, X_new = digits
    svc = SVC(C=5.0, decision_function_shape=shape).fit(X, y)
    fast = MatrixSVC.from_fitted(svc)
    expected = svc.decision_function(X_new)
    np.testing.assert_allclose(fast.decision_function(X_new), expected, rtol=0, atol=1e-4)
    assert fast.decision_function(X_new[:1]).shape == expected[:1].shape
    assert (fast.decision_function(X_new).argmax(axis=1) == expected.argmax(axis=1)).all()


def test_rows_near_a_tie_are_libsvms_to_the_last_digits(digits, monkeypatch):
    """Rows with a class pair near 0 are recomputed in float64: with every row counted as near, all match."""
    X, y, X_new = digits
    svc = SVC(C=5.0, decision_function_shape="ovo").fit(X, y)
    monkeypatch.setattr(fast_svc, "VOTE_MARGIN", np.inf)
    np.testing.assert_allclose(MatrixSVC.from_fitted(svc).decision_function(X_new), svc.decision_function(X_new),
                               rtol=0, atol=1e-9)


def test_calibrated_pipeline_copy_gives_the_same_probabilities(digits):
    X, y, X_new = digits
    model = CalibratedClassifierCV(make_pipeline(PCA(20, random_state=0), SVC()), method="temperature",
                                   ensemble=False, cv=3).fit(X, y)
    fast = with_fast_svc(model)
    assert type(fast.calibrated_classifiers_[0].estimator[-1]) is MatrixSVC
    assert type(model.calibrated_classifiers_[0].estimator[-1]) is SVC  # the original is untouched
    np.testing.assert_allclose(fast.predict_proba(X_new), model.predict_proba(X_new), rtol=0, atol=1e-6)


def test_binary_and_linear_svcs_are_left_to_libsvm(digits):
    X, y, _ = digits
    binary = SVC().fit(X, y % 2)
    linear = SVC(kernel="linear").fit(X, y)
    assert with_fast_svc(binary) is binary
    assert with_fast_svc(linear) is linear


def test_wrong_feature_count_is_refused(digits):
    X, y, _ = digits
    fast = MatrixSVC.from_fitted(SVC().fit(X, y))
    with pytest.raises(ValueError, match="expected shape"):
        fast.decision_function(np.zeros((1, 10)))


def test_refitting_gives_a_working_svc(digits):
    X, y, X_new = digits
    fast = MatrixSVC.from_fitted(SVC().fit(X[:300], y[:300]))
    refit = fast.fit(X, y)
    np.testing.assert_allclose(refit.decision_function(X_new), SVC().fit(X, y).decision_function(X_new), atol=1e-9)


def test_served_model_matches_the_saved_one(classifier):
    """The facade serves the skops file's model with MatrixSVC: same probabilities on real digits."""
    from digitrec.serialization import load_model_file

    saved = load_model_file(classifier.directory / "model.skops", declared=classifier.config["trusted_types"])
    X, _ = load_digits(return_X_y=True)
    images = np.stack([np.kron(row.reshape(8, 8), np.ones((3, 3))) for row in X[:40] / 16.0])
    batch = np.stack([classifier.normalize(image) for image in images]).reshape(40, -1).astype(np.float32)
    served = classifier.model
    assert any(type(step) is MatrixSVC for c in served.calibrated_classifiers_ for _, step in c.estimator.steps)
    np.testing.assert_allclose(served.predict_proba(batch), saved.predict_proba(batch), rtol=0, atol=1e-6)
